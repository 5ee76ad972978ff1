"""Emails to customers: the outbox and its history, and sending, which checks the customer's consent.

An email is written to the outbox (status queued) in the same transaction as its activity entry; the
delivery worker (app.mailer) sends it later. A consent-based email is inserted only if the consent is granted
at that very moment: the check and the insert are one statement, so a withdrawal committed concurrently can
never let one through, and a refused email leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.consents import CHANNEL_NAMES, PURPOSE_LABELS
from app.i18n import N_, format_number, gettext
from app.pagination import encode_cursor
from app.params import cursor_instant, cursor_values
from app.tables import EMAIL_CATEGORIES, consents, customer_contacts, customers, emails, users

PAGE_SIZE = 20
SUBJECT_MAX_LENGTH = 200
BODY_MAX_LENGTH = 20_000

# The consent (purpose, by email) each category needs; transactional messages (an invoice, a work order
# ready for pick-up) need none.
REQUIRED_CONSENT = {
    "marketing": "marketing",
    "satisfaction_survey": "satisfaction_surveys",
    "service_reminder": "service_reminders",
}
CATEGORY_LABELS = {
    "transactional": N_("Transactional"),
    "service_reminder": N_("Service reminder"),
    "marketing": N_("Marketing"),
    "satisfaction_survey": N_("Satisfaction survey"),
}
STATUS_LABELS = {
    "queued": N_("Queued"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
    "refused": N_("Not sent (no consent)"),
}
LANGUAGE_LABELS = {"fr": N_("French"), "en": N_("English")}

# Appended to every email that rests on consent: how to stop receiving them (CASL), in the customer's
# language.
CONSENT_FOOTERS = {
    "fr": (
        "\n\n--\nChronoTech · Vous recevez ce courriel parce que vous avez accepté d'en recevoir "
        "de notre part. Pour ne plus en recevoir, répondez simplement « désabonnement » à ce message "
        "ou appelez-nous."
    ),
    "en": (
        "\n\n--\nChronoTech · You receive this email because you agreed to hear from us. "
        "To stop receiving them, just reply “unsubscribe” to this message or give us a call."
    ),
}


@dataclass(frozen=True, slots=True)
class Email:
    id: int
    category: str
    recipient: str
    subject: str
    language: str
    status: str
    attempts: int
    last_error: str | None
    author: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @property
    def can_retry(self) -> bool:
        return self.status in ("failed", "refused")


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One email in full, body included."""

    id: int
    customer_id: int
    category: str
    recipient: str
    subject: str
    body: str
    language: str
    status: str
    attempts: int
    last_error: str | None
    author: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class EmailsPage:
    customer_id: int
    emails: list[Email]
    # Opaque: where the next page starts; the HTML link and the JSON API hand it back as `cursor`.
    next_cursor: str | None
    # False when no SMTP_URL is set: emails then stay in the outbox as queued.
    delivery_configured: bool
    # Where an email would go now (the primary email address), and in which language to write it.
    recipient: str | None
    language: str
    # The categories the customer's consents allow right now.
    allowed_categories: tuple[str, ...]

    def missing_consent(self, category: str) -> str | None:
        """What consent a category lacks, as a phrase ("marketing by email"), or None when it is allowed."""
        if category in self.allowed_categories:
            return None
        return consent_name(REQUIRED_CONSENT[category])


def consent_name(purpose: str) -> str:
    """ "marketing by email", in the language of the page."""
    return gettext(
        "%(purpose)s by %(channel)s",
        purpose=gettext(PURPOSE_LABELS[purpose]).lower(),
        channel=gettext(CHANNEL_NAMES["email"]),
    )


def english_consent_name(purpose: str) -> str:
    """ "marketing by email", always in English: what the outbox records (the delivery worker's errors)."""
    return f"{PURPOSE_LABELS[purpose].lower()} by {CHANNEL_NAMES['email']}"


_primary_email = and_(
    customer_contacts.c.customer_id == customers.c.id,
    customer_contacts.c.kind == "email",
    customer_contacts.c.is_primary == true(),
)


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    created_at, last_id = cursor_values(cursor, str, int)
    return cursor_instant(created_at), last_id


async def load_emails(
    conn: AsyncConnection,
    customer_id: int,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    delivery_configured: bool | None = None,
) -> EmailsPage:
    """A page of the customer's emails, newest first, with what the send form needs.

    `delivery_configured` says whether SMTP_URL is set; when not given it is read from the running app.
    """
    if delivery_configured is None:
        delivery_configured = _smtp_configured()
    statement = (
        select(
            emails.c.id,
            emails.c.category,
            emails.c.recipient,
            emails.c.subject,
            emails.c.language,
            emails.c.status,
            emails.c.attempts,
            emails.c.last_error,
            users.c.name,
            emails.c.created_at,
            emails.c.next_attempt_at,
            emails.c.sent_at,
        )
        .select_from(emails)
        .outerjoin(users, users.c.id == emails.c.created_by)
        .where(emails.c.customer_id == customer_id)
    )
    if cursor is not None:
        created_at, last_id = _parse_cursor(cursor)
        statement = statement.where(
            or_(
                emails.c.created_at < created_at,
                and_(emails.c.created_at == created_at, emails.c.id < last_id),
            )
        )
    statement = statement.order_by(emails.c.created_at.desc(), emails.c.id.desc()).limit(limit + 1)
    rows = [Email(*row) for row in await conn.execute(statement)]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.created_at.isoformat(), last.id)

    customer = (
        await conn.execute(
            select(customers.c.language, customer_contacts.c.value)
            .select_from(customers)
            .outerjoin(customer_contacts, _primary_email)
            .where(customers.c.id == customer_id)
            .limit(1)
        )
    ).one_or_none()
    granted = set(
        (
            await conn.execute(
                select(consents.c.purpose).where(
                    consents.c.customer_id == customer_id,
                    consents.c.channel == "email",
                    consents.c.status == "granted",
                )
            )
        ).scalars()
    )
    allowed = tuple(
        category
        for category in EMAIL_CATEGORIES
        if category not in REQUIRED_CONSENT or REQUIRED_CONSENT[category] in granted
    )
    return EmailsPage(
        customer_id=customer_id,
        emails=rows[:limit],
        next_cursor=next_cursor,
        delivery_configured=delivery_configured,
        recipient=customer.value if customer else None,
        language=customer.language if customer else "fr",
        allowed_categories=allowed,
    )


def _smtp_configured() -> bool:
    from quart import current_app, has_app_context

    return has_app_context() and bool(current_app.config["SETTINGS"].smtp_url)


async def get_email(conn: AsyncConnection, customer_id: int, email_id: int) -> EmailMessage | None:
    """One email of this customer, body included; None when there is no such email for this customer."""
    row = (
        await conn.execute(
            select(
                emails.c.id,
                emails.c.customer_id,
                emails.c.category,
                emails.c.recipient,
                emails.c.subject,
                emails.c.body,
                emails.c.language,
                emails.c.status,
                emails.c.attempts,
                emails.c.last_error,
                users.c.name,
                emails.c.created_at,
                emails.c.sent_at,
            )
            .select_from(emails)
            .outerjoin(users, users.c.id == emails.c.created_by)
            .where(emails.c.id == email_id, emails.c.customer_id == customer_id)
        )
    ).one_or_none()
    return EmailMessage(*row) if row else None


class EmailInvalid(ValueError):
    """The form is not filled in correctly: `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors


class EmailRefused(ValueError):
    """The email may not be sent: no address to send it to, or a missing consent. Nothing was written.

    `reason` is "no_email", "consent_missing" or "not_retryable"; `field` the form field it concerns.
    """

    def __init__(self, message: str, *, reason: str, field: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class QueuedEmail:
    email_id: int
    activity_id: int
    recipient: str
    language: str


def check_email(category: str, subject: str, body: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if category not in EMAIL_CATEGORIES:
        errors["category"] = gettext("Choose what kind of email this is.")
    if not subject:
        errors["subject"] = gettext("Give the email a subject.")
    elif len(subject) > SUBJECT_MAX_LENGTH:
        errors["subject"] = gettext(
            "A subject is limited to %(limit)s characters; this one has %(length)s.",
            limit=format_number(SUBJECT_MAX_LENGTH),
            length=format_number(len(subject)),
        )
    if not body:
        errors["body"] = gettext("Write the message first: it is empty.")
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = gettext(
            "A message is limited to %(limit)s characters; this one has %(length)s.",
            limit=format_number(BODY_MAX_LENGTH),
            length=format_number(len(body)),
        )
    return errors


def compose_body(category: str, body: str, language: str) -> str:
    """The body as it will be sent: with the unsubscribe notice when the email rests on consent."""
    if category in REQUIRED_CONSENT:
        return body + CONSENT_FOOTERS.get(language, CONSENT_FOOTERS["en"])
    return body


async def send_email(
    conn: AsyncConnection,
    customer_id: int,
    *,
    category: str,
    subject: str,
    body: str,
    actor_id: int | None,
    now: datetime | None = None,
) -> QueuedEmail:
    """Queue an email to the customer's primary address, in the caller's transaction, if their consent
    allows it. Raises EmailInvalid or EmailRefused, having written nothing."""
    # One line: a subject carrying line breaks could smuggle headers into the message.
    subject = " ".join(subject.split())
    body = body.replace("\r\n", "\n").strip()
    errors = check_email(category, subject, body)
    if errors:
        raise EmailInvalid(errors)
    customer = (
        await conn.execute(
            select(
                customers.c.first_name, customers.c.last_name, customers.c.language, customer_contacts.c.value
            )
            .select_from(customers)
            .outerjoin(customer_contacts, _primary_email)
            .where(customers.c.id == customer_id)
            .limit(1)
        )
    ).one_or_none()
    if customer is None:
        raise LookupError(gettext("There is no customer #%(id)s.", id=customer_id))
    name = f"{customer.first_name} {customer.last_name}"
    if not customer.value:
        raise EmailRefused(
            gettext(
                "%(name)s has no primary email address: add one to the profile before sending an email.",
                name=name,
            ),
            reason="no_email",
            field="recipient",
        )
    now = now or datetime.now(UTC)
    values = {
        "customer_id": customer_id,
        "category": category,
        "recipient": customer.value,
        "subject": subject,
        "body": compose_body(category, body, customer.language),
        "language": customer.language,
        "status": "queued",
        "attempts": 0,
        "created_by": actor_id,
        "created_at": now,
        "next_attempt_at": now,
    }
    purpose = REQUIRED_CONSENT.get(category)
    source = select(*(literal(value, emails.c[column].type) for column, value in values.items()))
    if purpose is None:
        source = source.select_from(customers).where(customers.c.id == customer_id)
    else:
        # As many rows as there are granted consents for this purpose by email: one, or none at all.
        source = source.select_from(consents).where(
            consents.c.customer_id == customer_id,
            consents.c.purpose == purpose,
            consents.c.channel == "email",
            consents.c.status == "granted",
        )
    result = await conn.execute(emails.insert().from_select(list(values), source))
    if result.rowcount != 1:
        raise EmailRefused(
            gettext(
                "Not sent: %(name)s has not consented to %(consent)s, which a %(category)s email needs. "
                "Record that consent under Privacy consents first if the customer gives it.",
                name=name,
                consent=consent_name(purpose),
                category=gettext(CATEGORY_LABELS[category]).lower(),
            ),
            reason="consent_missing",
            field="category",
        )
    email_id = result.lastrowid
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind="email",
        summary=f"Email queued: {subject}",
        actor_id=actor_id,
        details={"category": category, "status": "queued", "to": customer.value, "subject": subject},
        ref_type="email",
        ref_id=email_id,
        occurred_at=now,
    )
    return QueuedEmail(email_id, activity_id, customer.value, customer.language)


async def retry_email(
    conn: AsyncConnection,
    customer_id: int,
    email_id: int,
    *,
    actor_id: int | None,
    now: datetime | None = None,
) -> int:
    """Put a failed or refused email back in the outbox, its consent checked again; returns the activity id.

    Raises LookupError when the customer has no such email, EmailRefused when it cannot be sent again.
    """
    email = await get_email(conn, customer_id, email_id)
    if email is None:
        raise LookupError(
            gettext("Customer #%(customer)s has no email #%(email)s.", customer=customer_id, email=email_id)
        )
    if email.status not in ("failed", "refused"):
        # One sentence per status: the status word takes the gender of "courriel" in French.
        raise EmailRefused(
            gettext("This email is sent: only a failed or refused email can be sent again.")
            if email.status == "sent"
            else gettext("This email is queued: only a failed or refused email can be sent again."),
            reason="not_retryable",
            field="email",
        )
    now = now or datetime.now(UTC)
    statement = emails.update().where(
        emails.c.id == email_id, emails.c.customer_id == customer_id, emails.c.status == email.status
    )
    purpose = REQUIRED_CONSENT.get(email.category)
    if purpose is not None:
        statement = statement.where(
            select(consents.c.id)
            .where(
                consents.c.customer_id == customer_id,
                consents.c.purpose == purpose,
                consents.c.channel == "email",
                consents.c.status == "granted",
            )
            .exists()
        )
    result = await conn.execute(
        statement.values(status="queued", attempts=0, last_error=None, next_attempt_at=now, sent_at=None)
    )
    if result.rowcount != 1:
        if purpose is not None:
            raise EmailRefused(
                gettext(
                    "Not sent again: the customer has not consented to %(consent)s.",
                    consent=consent_name(purpose),
                ),
                reason="consent_missing",
                field="email",
            )
        raise EmailRefused(
            gettext("This email changed a moment ago; reload to see it."),
            reason="not_retryable",
            field="email",
        )
    return await record_activity(
        conn,
        customer_id=customer_id,
        kind="email",
        summary=f"Email queued again: {email.subject}",
        actor_id=actor_id,
        details={
            "category": email.category,
            "status": "queued",
            "to": email.recipient,
            "subject": email.subject,
            "again": True,
        },
        ref_type="email",
        ref_id=email_id,
        occurred_at=now,
    )
