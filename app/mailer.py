"""Email delivery: a background worker sends the outbox through aiosmtplib to SMTP_URL, with retries.

Runs only when SMTP_URL is set (smtp:// plain, smtp+starttls:// STARTTLS, smtps:// implicit TLS). Several
processes may run it at once: each email is claimed with a conditional update (a lease) before it is sent,
so only one of them sends it. Delivery is at least once: a process that dies between the send and the
update leaves the lease to expire, and the email is sent again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

import aiosmtplib
from quart import Quart
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.activity import record_activity
from app.emails import REQUIRED_CONSENT, english_consent_name
from app.live.broker import Broker
from app.live.events import announce
from app.tables import consents, emails

log = logging.getLogger(__name__)

SENDER = "ChronoTech <service@chronotech.example>"
SENDER_DOMAIN = "chronotech.example"
# Delays before the 2nd, 3rd, … attempt; the attempt after the last delay is the final one.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
# How long a claimed email is reserved to its worker: far longer than one SMTP conversation.
LEASE = timedelta(minutes=10)
SMTP_TIMEOUT = 30
BATCH_SIZE = 20
POLL_INTERVAL = 5.0
DRAIN_TIMEOUT = 10.0  # seconds a shutdown waits for the delivery pass under way
ERROR_MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    def __repr__(self) -> str:  # never show the password in logs
        return f"SmtpServer({self.hostname}:{self.port}, tls={self.use_tls}, starttls={self.start_tls})"


def parse_smtp_url(url: str) -> SmtpServer:
    """smtp://user:pass@host:port → where and how to connect (ports default to 25, 465 and 587)."""
    parts = urlsplit(url)
    schemes = {"smtp": (False, False, 25), "smtps": (True, False, 465), "smtp+starttls": (False, True, 587)}
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port")
    use_tls, start_tls, default_port = schemes[parts.scheme]
    return SmtpServer(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def build_message(row) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # Stable across retries, so a message sent twice (at-least-once) is recognisable as one.
    message["Message-ID"] = f"<c360-email-{row.id}@{SENDER_DOMAIN}>"
    if row.category in REQUIRED_CONSENT:
        message["List-Unsubscribe"] = f"<mailto:service@{SENDER_DOMAIN}?subject=unsubscribe>"
    message.set_content(row.body)
    # After set_content, which replaces every Content-* header.
    message["Content-Language"] = row.language
    return message


async def send_message(server: SmtpServer, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        hostname=server.hostname,
        port=server.port,
        username=server.username,
        password=server.password,
        use_tls=server.use_tls,
        start_tls=server.start_tls,
        timeout=SMTP_TIMEOUT,
    )


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): trying again would not help."""


def describe_error(exc: BaseException) -> str:
    """A short reason for the outbox: the server's answer or the kind of failure, never the SMTP_URL."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        text = f"{refused.code} {refused.message}"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
    elif isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionError):
        text = "Could not connect to the mail server"
    elif isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        text = "The mail server did not answer in time"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"


def is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, ValueError | TypeError):  # the message itself cannot be made: it never will be
        return True
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(refused.code >= 500 for refused in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPDataError) and exc.code >= 500


async def deliver_due(engine: AsyncEngine, smtp_url: str, broker: Broker, now: datetime | None = None) -> int:
    """One pass over the outbox: send every queued email that is due; returns how many were processed."""
    server = parse_smtp_url(smtp_url)
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        due = (
            await conn.execute(
                select(emails.c.id, emails.c.next_attempt_at)
                .where(emails.c.status == "queued", emails.c.next_attempt_at <= now)
                .order_by(emails.c.next_attempt_at, emails.c.id)
                .limit(BATCH_SIZE)
            )
        ).all()
    processed = 0
    for email_id, seen in due:
        if await _deliver_one(engine, server, broker, email_id, seen, now):
            processed += 1
    return processed


async def _deliver_one(
    engine: AsyncEngine, server: SmtpServer, broker: Broker, email_id: int, seen: datetime, now: datetime
) -> bool:
    """Claim, check, send and record one email; False when another worker had claimed it first."""
    async with engine.begin() as conn:
        row = await _claim(conn, email_id, seen, now)
        if row is None:
            return False
        purpose = REQUIRED_CONSENT.get(row.category)
        if purpose is not None and not await _consent_granted(conn, row.customer_id, purpose):
            # Consent was withdrawn while the email waited in the outbox: it is not sent at all.
            error = f"Consent to {english_consent_name(purpose)} withdrawn before sending"
            event = await _finish(
                conn, row, "refused", f"Email not sent, consent withdrawn: {row.subject}", last_error=error
            )
            withdrawn = True
        else:
            withdrawn = False
    if withdrawn:
        await announce(broker, [(row.customer_id, event)])
        return True

    attempts = row.attempts + 1
    try:
        await send_message(server, build_message(row))
    except Exception as exc:
        # Whatever went wrong counts as an attempt, so that no email can block the outbox forever.
        error = describe_error(exc)
        log.warning("email %s not delivered (attempt %s): %s", email_id, attempts, error)
        async with engine.begin() as conn:
            if is_permanent(exc) or attempts >= MAX_ATTEMPTS:
                tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
                event = await _finish(
                    conn,
                    row,
                    "failed",
                    f"Email failed after {tries}: {row.subject}",
                    attempts=attempts,
                    last_error=error,
                )
            else:
                # Still queued: a retry is not a change of status, so the timeline is left alone.
                await conn.execute(
                    emails.update()
                    .where(emails.c.id == email_id)
                    .values(attempts=attempts, last_error=error, next_attempt_at=now + BACKOFF[attempts - 1])
                )
                return True
    else:
        async with engine.begin() as conn:
            event = await _finish(
                conn, row, "sent", f"Email sent: {row.subject}", attempts=attempts, sent_at=now
            )
    await announce(broker, [(row.customer_id, event)])
    return True


async def _claim(conn: AsyncConnection, email_id: int, seen: datetime, now: datetime):
    """Reserve the email for LEASE; only the process whose update changes the row gets it."""
    claimed = await conn.execute(
        emails.update()
        .where(emails.c.id == email_id, emails.c.status == "queued", emails.c.next_attempt_at == seen)
        .values(next_attempt_at=now + LEASE)
    )
    if claimed.rowcount != 1:
        return None
    return (
        await conn.execute(
            select(
                emails.c.id,
                emails.c.customer_id,
                emails.c.category,
                emails.c.recipient,
                emails.c.subject,
                emails.c.body,
                emails.c.language,
                emails.c.attempts,
            ).where(emails.c.id == email_id)
        )
    ).one()


async def _consent_granted(conn: AsyncConnection, customer_id: int, purpose: str) -> bool:
    status = (
        await conn.execute(
            select(consents.c.status).where(
                consents.c.customer_id == customer_id,
                consents.c.purpose == purpose,
                consents.c.channel == "email",
            )
        )
    ).scalar_one_or_none()
    return status == "granted"


async def _finish(
    conn: AsyncConnection,
    row,
    status: str,
    summary: str,
    *,
    attempts: int | None = None,
    last_error: str | None = None,
    sent_at: datetime | None = None,
) -> int:
    """Give the email its final status and record it in the timeline; returns the activity id."""
    values = {"status": status, "last_error": last_error, "sent_at": sent_at, "next_attempt_at": None}
    if attempts is not None:
        values["attempts"] = attempts
    await conn.execute(emails.update().where(emails.c.id == row.id).values(values))
    details = {"category": row.category, "status": status, "to": row.recipient, "subject": row.subject}
    if status == "failed" and attempts is not None:
        details["attempts"] = attempts
    if last_error:
        details["error"] = last_error
    return await record_activity(
        conn,
        customer_id=row.customer_id,
        kind="email",
        summary=summary,
        actor_label="Mail delivery",
        details=details,
        ref_type="email",
        ref_id=row.id,
    )


async def run_worker(
    engine: AsyncEngine,
    smtp_url: str,
    broker: Broker,
    wakeup: asyncio.Event,
    stop: asyncio.Event,
    *,
    interval: float = POLL_INTERVAL,
) -> None:
    """Deliver the outbox until `stop` is set, finishing the pass under way: a pass every `interval` seconds,
    or as soon as `wakeup` is set."""
    log.info("email delivery started (%r)", parse_smtp_url(smtp_url))
    while not stop.is_set():
        # Cleared before the pass, so that an email queued during it still wakes the next one.
        wakeup.clear()
        try:
            processed = await deliver_due(engine, smtp_url, broker)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database outage must not end delivery: log it and try again at the next pass.
            log.exception("email delivery pass failed")
            processed = 0
        if processed >= BATCH_SIZE:
            continue  # more may be due
        waiters = [asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
    log.info("email delivery stopped")


def wake(app: Quart) -> None:
    """Ask this process's worker for a pass now (after an email was queued), instead of at its next poll."""
    event = app.extensions.get("mailer_wakeup")
    if event is not None:
        event.set()


def init_app(app: Quart) -> None:
    @app.before_serving
    async def start_mailer() -> None:
        smtp_url = app.config["SETTINGS"].smtp_url
        if not smtp_url:
            log.info("SMTP_URL is not set: emails stay in the outbox as queued")
            return
        wakeup, stop = asyncio.Event(), asyncio.Event()
        app.extensions["mailer_wakeup"] = wakeup
        app.extensions["mailer_stop"] = stop
        app.extensions["mailer_task"] = asyncio.create_task(
            run_worker(app.extensions["db_engine"], smtp_url, app.extensions["broker"], wakeup, stop),
            name="email delivery",
        )

    @app.after_serving
    async def stop_mailer() -> None:
        """Let the pass under way finish (emails being sent are sent and recorded), within DRAIN_TIMEOUT;
        an email cut off after that keeps its lease and is retried by the next process."""
        app.extensions.pop("mailer_wakeup", None)
        task = app.extensions.pop("mailer_task", None)
        if task is not None:
            app.extensions.pop("mailer_stop").set()
            try:
                await asyncio.wait_for(task, DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning("email delivery cut off after %s s at shutdown", DRAIN_TIMEOUT)
