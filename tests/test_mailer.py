"""Email delivery against a real SMTP server (aiosmtpd on a free local port)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select, update

from app import create_app, mailer
from app.consents import change_consent
from app.emails import send_email
from app.live.events import ACTIVITY_CHANNEL
from app.mailer import BACKOFF, LEASE, MAX_ATTEMPTS, deliver_due, parse_smtp_url
from app.tables import customer_activities, emails
from tests.factories import NOW, add_customer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A local SMTP server that keeps what it receives; it can refuse recipients and require a password."""

    def __init__(
        self,
        *,
        refuse_recipients: bool = False,
        credentials: tuple[str, str] | None = None,
        data_delay: float = 0.0,
    ) -> None:
        self.data_delay = data_delay
        self.receiving = threading.Event()  # set when a message's DATA has arrived
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse_recipients = refuse_recipients
        self.credentials = credentials
        self.logins: list[str] = []
        self.port = free_port()
        options = {}
        if credentials:
            options = {"authenticator": self.authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    @property
    def url(self) -> str:
        if self.credentials:
            user, password = self.credentials
            return f"smtp://{user}:{password}@127.0.0.1:{self.port}"
        return f"smtp://127.0.0.1:{self.port}"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == self.credentials
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        await asyncio.sleep(self.data_delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class RecordingBroker:
    """Keeps what is announced, to check that every change of status rings the doorbell."""

    name = "recording"

    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    async def publish(self, channel: str, message: str) -> None:
        self.published.append((channel, json.loads(message)))

    def announced(self) -> list[int]:
        return [message["id"] for channel, message in self.published if channel == ACTIVITY_CHANNEL]


def body_of(message) -> str:
    """The text as the customer reads it (the wire has CRLF line ends)."""
    return message.get_content().replace("\r\n", "\n").rstrip("\n")


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def broker():
    return RecordingBroker()


@pytest.fixture
async def marie(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


async def queue(engine, customer_id, category="transactional", subject="Votre véhicule est prêt", body=None):
    async with engine.begin() as conn:
        queued = await send_email(
            conn,
            customer_id,
            category=category,
            subject=subject,
            body=body or "Bonjour Marie,\nVotre RAV4 est prêt.",
            actor_id=None,
            now=NOW,
        )
    return queued.email_id


async def email_row(engine, email_id):
    async with engine.connect() as conn:
        return (await conn.execute(select(emails).where(emails.c.id == email_id))).one()


async def email_activity(engine, email_id) -> list[str]:
    async with engine.connect() as conn:
        statement = (
            select(customer_activities.c.summary)
            .where(customer_activities.c.ref_type == "email", customer_activities.c.ref_id == email_id)
            .order_by(customer_activities.c.id)
        )
        return list((await conn.execute(statement)).scalars())


async def test_a_queued_email_is_delivered_and_marked_sent(engine, smtp, broker, marie):
    email_id = await queue(engine, marie)
    processed = await deliver_due(engine, smtp.url, broker, now=NOW)
    assert processed == 1
    [(sender, recipients, message)] = smtp.messages
    assert sender == "service@chronotech.example" and recipients == ["marie@example.ca"]
    assert message["Subject"] == "Votre véhicule est prêt"
    assert message["From"] == mailer.SENDER and message["To"] == "marie@example.ca"
    assert message["Content-Language"] == "fr"
    assert body_of(message) == "Bonjour Marie,\nVotre RAV4 est prêt."
    row = await email_row(engine, email_id)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 1, NOW, None)
    assert await email_activity(engine, email_id) == [
        "Email queued: Votre véhicule est prêt",
        "Email sent: Votre véhicule est prêt",
    ]
    assert len(broker.announced()) == 1
    # Sent once: a second pass finds nothing to do.
    assert await deliver_due(engine, smtp.url, broker, now=NOW + timedelta(hours=1)) == 0
    assert len(smtp.messages) == 1


async def test_an_email_not_yet_due_waits(engine, smtp, broker, marie):
    await queue(engine, marie)
    assert await deliver_due(engine, smtp.url, broker, now=NOW - timedelta(seconds=1)) == 0
    assert smtp.messages == []


async def test_an_unreachable_server_is_retried_with_backoff_then_the_email_fails(engine, broker, marie):
    email_id = await queue(engine, marie)
    down = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    now = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        assert await deliver_due(engine, down, broker, now=now) == 1
        row = await email_row(engine, email_id)
        assert (row.status, row.attempts) == ("queued", attempt)
        assert row.next_attempt_at == now + BACKOFF[attempt - 1]
        assert "Could not connect" in row.last_error
        # Not retried before its time.
        assert await deliver_due(engine, down, broker, now=row.next_attempt_at - timedelta(seconds=1)) == 0
        now = row.next_attempt_at
    assert broker.announced() == []  # retries are not changes of status
    assert await deliver_due(engine, down, broker, now=now) == 1
    row = await email_row(engine, email_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert (await email_activity(engine, email_id))[-1] == (
        f"Email failed after {MAX_ATTEMPTS} attempts: Votre véhicule est prêt"
    )
    assert len(broker.announced()) == 1
    assert await deliver_due(engine, down, broker, now=now + timedelta(days=1)) == 0


async def test_a_server_back_up_delivers_the_retried_email(engine, broker, marie):
    email_id = await queue(engine, marie)
    with SmtpSink() as sink:
        port = sink.port
    # The server is stopped: the first attempt fails.
    await deliver_due(engine, f"smtp://127.0.0.1:{port}", broker, now=NOW)
    assert (await email_row(engine, email_id)).attempts == 1
    with SmtpSink() as sink:
        assert await deliver_due(engine, sink.url, broker, now=NOW + BACKOFF[0]) == 1
        assert len(sink.messages) == 1
    row = await email_row(engine, email_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


async def test_a_recipient_refused_for_good_fails_at_once(engine, broker, marie):
    email_id = await queue(engine, marie)
    with SmtpSink(refuse_recipients=True) as sink:
        await deliver_due(engine, sink.url, broker, now=NOW)
    row = await email_row(engine, email_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("550 5.1.1 No such user here")
    assert (await email_activity(engine, email_id))[
        -1
    ] == "Email failed after 1 attempt: Votre véhicule est prêt"


async def test_an_email_that_cannot_be_built_fails_at_once_instead_of_blocking_the_outbox(
    engine, smtp, broker, marie
):
    email_id = await queue(engine, marie)
    async with engine.begin() as conn:
        await conn.execute(
            update(emails)
            .where(emails.c.id == email_id)
            .values(recipient="marie@example.ca\nBcc: all@example.com")
        )
    assert await deliver_due(engine, smtp.url, broker, now=NOW) == 1
    row = await email_row(engine, email_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert smtp.messages == []


async def test_an_email_whose_consent_was_withdrawn_while_queued_is_not_sent(engine, smtp, broker, marie):
    async with engine.begin() as conn:
        await change_consent(conn, marie, purpose="marketing", channel="email", action="granted")
    email_id = await queue(engine, marie, category="marketing", subject="Promo pneus")
    async with engine.begin() as conn:
        await change_consent(conn, marie, purpose="marketing", channel="email", action="withdrawn")
    assert await deliver_due(engine, smtp.url, broker, now=NOW) == 1
    assert smtp.messages == []
    row = await email_row(engine, email_id)
    assert row.status == "refused" and "marketing by email" in row.last_error
    assert (await email_activity(engine, email_id))[-1] == "Email not sent, consent withdrawn: Promo pneus"


async def test_a_marketing_email_carries_how_to_unsubscribe(engine, smtp, broker, marie):
    async with engine.begin() as conn:
        await change_consent(conn, marie, purpose="marketing", channel="email", action="granted")
    await queue(engine, marie, category="marketing", subject="Promo pneus", body="Pneus d'hiver à -20 %")
    await deliver_due(engine, smtp.url, broker, now=NOW)
    [(_, _, message)] = smtp.messages
    assert message["List-Unsubscribe"] == "<mailto:service@chronotech.example?subject=unsubscribe>"
    assert body_of(message).startswith("Pneus d'hiver à -20 %\n\n--\n") and "désabonnement" in body_of(
        message
    )


async def test_two_workers_send_an_email_once(engine, smtp, marie):
    await queue(engine, marie)
    processed = await asyncio.gather(
        deliver_due(engine, smtp.url, RecordingBroker(), now=NOW),
        deliver_due(engine, smtp.url, RecordingBroker(), now=NOW),
    )
    assert sorted(processed) == [0, 1]
    assert len(smtp.messages) == 1


async def test_an_email_claimed_by_a_worker_that_died_is_sent_after_its_lease(engine, smtp, broker, marie):
    email_id = await queue(engine, marie)
    async with engine.begin() as conn:  # what a claim leaves behind when its process dies before sending
        await conn.execute(update(emails).where(emails.c.id == email_id).values(next_attempt_at=NOW + LEASE))
    assert await deliver_due(engine, smtp.url, broker, now=NOW) == 0
    assert await deliver_due(engine, smtp.url, broker, now=NOW + LEASE) == 1
    assert len(smtp.messages) == 1


async def test_the_smtp_url_credentials_are_used_to_sign_in(engine, broker, marie):
    email_id = await queue(engine, marie)
    with SmtpSink(credentials=("shop", "p@ss word")) as sink:
        await deliver_due(engine, sink.url.replace("p@ss word", "p%40ss%20word"), broker, now=NOW)
        assert sink.logins == ["shop"] and len(sink.messages) == 1
    assert (await email_row(engine, email_id)).status == "sent"


async def test_a_wrong_password_is_retried_and_never_stored(engine, broker, marie):
    email_id = await queue(engine, marie)
    with SmtpSink(credentials=("shop", "right")) as sink:
        await deliver_due(engine, f"smtp://shop:wrong-secret@127.0.0.1:{sink.port}", broker, now=NOW)
    row = await email_row(engine, email_id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.last_error.startswith("535") and "wrong-secret" not in row.last_error


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", ("mail.example", 2525, None, None, False, False)),
        ("smtp://mail.example", ("mail.example", 25, None, None, False, False)),
        ("smtps://u:p@mail.example", ("mail.example", 465, "u", "p", True, False)),
        (
            "smtp+starttls://user%40shop:s%3Acret@mail.example",
            ("mail.example", 587, "user@shop", "s:cret", False, True),
        ),
    ],
)
def test_the_smtp_url_says_where_and_how_to_connect(url, expected):
    server = parse_smtp_url(url)
    assert (
        server.hostname,
        server.port,
        server.username,
        server.password,
        server.use_tls,
        server.start_tls,
    ) == expected
    assert "cret" not in repr(server)


async def test_the_worker_runs_only_when_smtp_url_is_set(settings, smtp):
    quiet = create_app(settings)
    async with quiet.test_app():
        assert "mailer_task" not in quiet.extensions
    app = create_app(replace(settings, smtp_url=smtp.url))
    async with app.test_app():
        task = app.extensions["mailer_task"]
        assert not task.done()
    assert task.cancelled() or task.done()
    assert "mailer_task" not in app.extensions


async def test_the_running_worker_delivers_a_queued_email(settings, engine, smtp, marie):
    app = create_app(replace(settings, smtp_url=smtp.url))
    async with app.test_app():
        async with engine.begin() as conn:
            await send_email(
                conn, marie, category="transactional", subject="Prêt", body="Bonjour", actor_id=None
            )
        mailer.wake(app)
        for _ in range(200):  # wait for the worker, up to 10 s
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
    assert [message["Subject"] for _, _, message in smtp.messages] == ["Prêt"]


async def test_a_shutdown_lets_the_email_being_sent_finish_and_be_recorded(settings, engine, marie):
    with SmtpSink(data_delay=1.0) as slow:
        app = create_app(replace(settings, smtp_url=slow.url))
        async with app.test_app():
            async with engine.begin() as conn:
                queued = await send_email(
                    conn, marie, category="transactional", subject="Prêt", body="Bonjour", actor_id=None
                )
            mailer.wake(app)
            assert await asyncio.to_thread(slow.receiving.wait, 10)
        # The app stopped while the server was still taking the message.
        assert [message["Subject"] for _, _, message in slow.messages] == ["Prêt"]
    async with engine.connect() as conn:
        status = (
            await conn.execute(select(emails.c.status).where(emails.c.id == queued.email_id))
        ).scalar_one()
    assert status == "sent"
