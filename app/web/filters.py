"""Template filters: money in integer cents, numbers, and dates and instants in the shop's time zone, each
written the way the reader's language writes them (fr-CA or en-CA, through Babel's CLDR data)."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from babel.dates import format_skeleton, format_time
from quart import Quart, current_app

from app.i18n import LOCALES, N_, current_language, format_money, format_number
from app.pagination import encode_cursor
from app.tables import ACTIVITY_KINDS


def locale() -> str:
    return LOCALES[current_language()]


def local_datetime(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(current_app.config["SETTINGS"].shop_timezone)


def datetime_format(value: datetime | None) -> str:
    """An instant in the shop's zone: "27 nov. 2026, 14 h 05" (fr-CA), "Nov 27, 2026, 2:05 p.m." (en-CA)."""
    local = local_datetime(value)
    if local is None:
        return ""
    where = locale()
    return f"{format_skeleton('yMMMd', local, locale=where)}, {format_time(local, 'short', locale=where)}"


def date_format(value: date | datetime | None) -> str:
    """A day: "27 nov. 2026" (fr-CA), "Nov 27, 2026" (en-CA); an instant is first put in the shop's zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local_datetime(value)
    return format_skeleton("yMMMd", value, locale=locale())


def iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


KIND_LABELS = {
    "note": N_("Note"),
    "call": N_("Call"),
    "visit": N_("Visit"),
    "vehicle_added": N_("Vehicle"),
    "work_order_opened": N_("Work order"),
    "work_order_status": N_("Work order"),
    "invoice_issued": N_("Invoice"),
    "invoice_status": N_("Invoice"),
    "payment": N_("Payment"),
    "document_uploaded": N_("Document"),
    "consent_granted": N_("Consent"),
    "consent_withdrawn": N_("Consent"),
    "email": N_("Email"),
    "profile_updated": N_("Profile"),
}


# Words the templates show from stored codes (`_(profile.status)`, `_(contact.label)`, a request's kind, a
# consent's source, the row counts of a privacy request): marked here so that they are translated.
WORDS_FROM_DATA = (
    N_("active"),
    N_("inactive"),
    N_("prospect"),
    N_("home"),
    N_("work"),
    N_("mobile"),
    N_("email"),
    N_("sms"),
    N_("phone"),
    N_("in person"),
    N_("web form"),
    N_("paper form"),
    N_("import"),
    N_("Export"),
    N_("Erasure"),
    N_("profile"),
    N_("contacts"),
    N_("vehicles"),
    N_("work orders"),
    N_("invoices"),
    N_("payments"),
    N_("activity"),
    N_("consents"),
    N_("consent history"),
    N_("emails"),
    N_("documents"),
    N_("privacy requests"),
    N_("suppressed"),
    N_("consents withdrawn"),
)


def path_only(url: str) -> str:
    """A URL without scheme and host: WebSocket URLs from url_for are absolute (ws://host/...), but the page
    must connect to its own host, whatever proxy it came through."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app: Quart) -> None:
    app.jinja_env.globals.update(
        activity_kinds=ACTIVITY_KINDS, kind_labels=KIND_LABELS, encode_cursor=encode_cursor
    )
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_number, "number")
    app.add_template_filter(datetime_format, "datetime")
    app.add_template_filter(date_format, "date")
    app.add_template_filter(iso)
    app.add_template_filter(path_only)
