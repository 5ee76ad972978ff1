"""Timeline sentences, and who did it, in the reader's language.

What the shop's system records (an invoice issued, a payment, a status change, a consent, an email, a
vehicle, a document) keeps its facts in the entry's `details`, and its sentence is worded when it is shown:
an English-speaking advisor and a French-speaking one each read their own language, with amounts and dates
written their way, in the page, in live pushes and in the operations stream alike.

The stored `summary` is the sentence as written at the time. It is what the JSON API returns and what is shown
when the details do not carry the facts: people's own words (notes, calls, visits) and entries recorded before
their kind kept its facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from markupsafe import Markup, escape

from app.consents import CHANNEL_NAMES, PURPOSE_LABELS
from app.i18n import LANGUAGES, N_, current_language, gettext, ngettext_template
from app.i18n import format_money as money
from app.profile import LABELS as PROFILE_LABELS
from app.web.filters import date_format
from app.work_orders import STATUS_LABELS as WORK_ORDER_STATUS_LABELS

Details = Mapping[str, Any]
Own = Callable[[str], Markup]  # marks the customer's own words with their language
Wording = Callable[[Details, Own], Markup]

# An invoice's new status, as a sentence.
INVOICE_STATUS_SENTENCES = {
    "sent": N_("Invoice %(number)s sent"),
    "partially_paid": N_("Invoice %(number)s partially paid"),
    "paid": N_("Invoice %(number)s paid in full"),
    "overdue": N_("Invoice %(number)s is overdue"),
    "void": N_("Invoice %(number)s voided"),
}
# How a payment was made, inside a sentence: "Payment of $20.00 in cash on INV-2026-000123".
METHOD_PHRASES = {
    "card": N_("by credit card"),
    "debit": N_("by Interac debit"),
    "cash": N_("in cash"),
    "cheque": N_("by cheque"),
    "transfer": N_("by bank transfer"),
}
EMAIL_SENTENCES = {
    "queued": N_("Email queued: %(subject)s"),
    "sent": N_("Email sent: %(subject)s"),
    "failed": N_("Email could not be delivered: %(subject)s"),
    "refused": N_("Email not sent, consent withdrawn: %(subject)s"),
}


def _say(message: str, **facts: Any) -> Markup:
    """A sentence of the catalogue with its facts escaped (or kept, when already markup), as Jinja's own
    gettext does."""
    return Markup(gettext(message)) % facts


def _say_plural(singular: str, plural: str, n: int, **facts: Any) -> Markup:
    return Markup(ngettext_template(singular, plural, n)) % {"num": n, **facts}


def _day(value: str) -> str:
    return date_format(date.fromisoformat(value))


def _invoice_issued(d: Details, own: Own) -> Markup:
    amount = money(d["total_cents"])
    if d.get("work_order") and d.get("due_on"):
        return _say(
            "Invoice %(number)s issued for %(work_order)s: %(amount)s, due %(due)s",
            number=d["number"],
            work_order=d["work_order"],
            amount=amount,
            due=_day(d["due_on"]),
        )
    return _say("Invoice %(number)s issued: %(amount)s", number=d["number"], amount=amount)


def _invoice_status(d: Details, own: Own) -> Markup:
    if d["to"] == "overdue" and "balance_cents" in d and d.get("due_on"):
        return _say(
            "Invoice %(number)s is overdue: %(balance)s was due on %(due)s",
            number=d["number"],
            balance=money(d["balance_cents"]),
            due=_day(d["due_on"]),
        )
    return _say(INVOICE_STATUS_SENTENCES[d["to"]], number=d["number"])


def _payment(d: Details, own: Own) -> Markup:
    facts = {"amount": money(d["amount_cents"]), "method": gettext(METHOD_PHRASES[d["method"]])}
    facts["invoice"] = d["invoice"]
    if d.get("status") == "paid":
        return _say("Payment of %(amount)s %(method)s on %(invoice)s: paid in full", **facts)
    if d.get("balance_cents"):
        return _say(
            "Payment of %(amount)s %(method)s on %(invoice)s: %(balance)s still due",
            balance=money(d["balance_cents"]),
            **facts,
        )
    return _say("Payment of %(amount)s %(method)s on %(invoice)s", **facts)


def _work_order_opened(d: Details, own: Own) -> Markup:
    return _say(
        "Work order %(number)s opened: %(description)s", number=d["number"], description=own(d["description"])
    )


def _work_order_status(d: Details, own: Own) -> Markup:
    new = gettext(WORK_ORDER_STATUS_LABELS[d["to"]])
    if d.get("from") in WORK_ORDER_STATUS_LABELS:
        old = gettext(WORK_ORDER_STATUS_LABELS[d["from"]])
        return _say("Work order %(number)s: %(old)s → %(new)s", number=d["number"], old=old, new=new)
    return _say("Work order %(number)s: %(new)s", number=d["number"], new=new)


def _vehicle_added(d: Details, own: Own) -> Markup:
    vehicle = f"{d['year']} {d['make']} {d['model']}"
    if d.get("plate"):
        return _say("Vehicle added: %(vehicle)s (%(plate)s)", vehicle=vehicle, plate=d["plate"])
    return _say("Vehicle added: %(vehicle)s", vehicle=vehicle)


def _document_uploaded(d: Details, own: Own) -> Markup:
    return _say("Document added: %(filename)s", filename=d["filename"])


def _consent(action: str) -> Wording:
    sentence = N_("Consent granted: %(purpose)s by %(channel)s")
    if action == "withdrawn":
        sentence = N_("Consent withdrawn: %(purpose)s by %(channel)s")

    def word(d: Details, own: Own) -> Markup:
        return _say(
            sentence,
            purpose=gettext(PURPOSE_LABELS[d["purpose"]]),
            channel=gettext(CHANNEL_NAMES[d["channel"]]),
        )

    return word


def _email(d: Details, own: Own) -> Markup:
    if d.get("again"):
        return _say("Email queued again: %(subject)s", subject=own(d["subject"]))
    if d["status"] == "failed" and d.get("attempts"):
        return _say_plural(
            "Email failed after %(num)d attempt: %(subject)s",
            "Email failed after %(num)d attempts: %(subject)s",
            d["attempts"],
            subject=own(d["subject"]),
        )
    return _say(EMAIL_SENTENCES[d["status"]], subject=own(d["subject"]))


def _profile_updated(d: Details, own: Own) -> Markup:
    if d.get("action") == "created":
        return _say("Customer record created")
    if "privacy_request_id" in d:
        return _say("Personal data erased on the customer's request")
    # Changes made here are keyed by their English label; the seeded history names the fields.
    labels = list(d["changes"]) if "changes" in d else [PROFILE_LABELS[field] for field in d["fields"]]
    fields = ", ".join(gettext(label).lower() for label in labels)
    return _say("Profile updated: %(fields)s", fields=fields)


WORDINGS: dict[str, Wording] = {
    "invoice_issued": _invoice_issued,
    "invoice_status": _invoice_status,
    "payment": _payment,
    "work_order_opened": _work_order_opened,
    "work_order_status": _work_order_status,
    "vehicle_added": _vehicle_added,
    "document_uploaded": _document_uploaded,
    "consent_granted": _consent("granted"),
    "consent_withdrawn": _consent("withdrawn"),
    "email": _email,
    "profile_updated": _profile_updated,
}


# Who did it, when no staff member did: labels the system records, in the reader's language. Labels sent
# through the API ("Mobile app") are shown as they are.
ACTOR_LABELS = {
    "system": N_("System"),
    "customer": N_("The customer"),
    "import": N_("Import"),
    "Mail delivery": N_("Mail delivery"),
}


def actor(entry) -> str:
    if entry.actor:
        return entry.actor
    label = entry.actor_label
    if label is None or label in ACTOR_LABELS:
        return gettext(ACTOR_LABELS[label or "system"])
    return label


def summary(entry) -> Markup:
    """The entry's sentence in the reader's language; as stored when its details lack the facts. The
    customer's own words in it (a subject, a description, a note) are marked with the customer's language
    when it is not the reader's, for screen readers and translation tools."""
    reader = current_language()

    def own(text: str) -> Markup:
        if entry.language == reader or entry.language not in LANGUAGES:
            return escape(text)
        return Markup('<span lang="%s">%s</span>') % (entry.language, text)

    if entry.details and entry.details.get("erased"):
        return _say("Erased on request")
    wording = WORDINGS.get(entry.kind)
    if wording is None or not entry.details:
        return own(entry.summary)
    try:
        return wording(entry.details, own)
    except (KeyError, TypeError, ValueError):  # an older entry that did not keep these facts
        return own(entry.summary)


def init_app(app) -> None:
    app.add_template_filter(summary)
    app.add_template_filter(actor)
