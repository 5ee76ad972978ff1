"""Template filters: money in integer cents and instants in the shop's time zone."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlsplit

from quart import Quart, current_app, g

from app.pagination import encode_cursor
from app.tables import ACTIVITY_KINDS


def language() -> str:
    user = g.get("user")
    return user.language if user is not None else "fr"


def money(cents: int | None, currency: str = "CAD") -> str:
    """1234567 -> "$12,345.67" (en-CA) or "12 345,67 $" (fr-CA)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    symbol = "$" if currency == "CAD" else f" {currency}"
    if language() == "fr":
        grouped = f"{units:,}".replace(",", "\u202f")
        return f"{sign}{grouped},{hundredths:02d}\u00a0{symbol.strip()}"
    return (
        f"{sign}{symbol}{units:,}.{hundredths:02d}"
        if currency == "CAD"
        else f"{sign}{units:,}.{hundredths:02d}{symbol}"
    )


def local_datetime(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(current_app.config["SETTINGS"].shop_timezone)


def datetime_format(value: datetime | None) -> str:
    local = local_datetime(value)
    return "" if local is None else local.strftime("%Y-%m-%d %H:%M")


def date_format(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local_datetime(value)
    return value.strftime("%Y-%m-%d")


def iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


KIND_LABELS = {
    "note": "Note",
    "call": "Call",
    "visit": "Visit",
    "vehicle_added": "Vehicle",
    "work_order_opened": "Work order",
    "work_order_status": "Work order",
    "invoice_issued": "Invoice",
    "invoice_status": "Invoice",
    "payment": "Payment",
    "document_uploaded": "Document",
    "consent_granted": "Consent",
    "consent_withdrawn": "Consent",
    "email": "Email",
    "profile_updated": "Profile",
}


def path_only(url: str) -> str:
    """A URL without scheme and host: WebSocket URLs from url_for are absolute (ws://host/...), but the page
    must connect to its own host, whatever proxy it came through."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app: Quart) -> None:
    app.jinja_env.globals.update(
        activity_kinds=ACTIVITY_KINDS, kind_labels=KIND_LABELS, encode_cursor=encode_cursor
    )
    app.add_template_filter(money)
    app.add_template_filter(datetime_format, "datetime")
    app.add_template_filter(date_format, "date")
    app.add_template_filter(iso)
    app.add_template_filter(path_only)
