"""Emails: consent rules when sending, the outbox row, and the customer's list of emails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.consents import change_consent
from app.emails import (
    EmailInvalid,
    EmailRefused,
    get_email,
    load_emails,
    retry_email,
    send_email,
)
from app.pagination import encode_cursor
from app.params import ParamError
from app.tables import customer_activities, emails
from tests.factories import NOW, add_customer


@pytest.fixture
async def marie(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="Marie.Tremblay@example.ca")


async def send(engine, customer_id, category="transactional", subject="Votre véhicule est prêt", **kwargs):
    async with engine.begin() as conn:
        return await send_email(
            conn,
            customer_id,
            category=category,
            subject=subject,
            body=kwargs.pop("body", "Bonjour Marie,\nVotre RAV4 est prêt."),
            actor_id=None,
            **kwargs,
        )


async def set_consent(engine, customer_id, action, purpose="marketing", channel="email"):
    basis = "contract" if purpose == "service_reminders" and action == "granted" else None
    async with engine.begin() as conn:
        await change_consent(
            conn, customer_id, purpose=purpose, channel=channel, action=action, legal_basis=basis
        )


async def outbox(engine) -> list:
    async with engine.connect() as conn:
        return list(await conn.execute(select(emails).order_by(emails.c.id)))


async def count_activities(engine, kind="email") -> int:
    async with engine.connect() as conn:
        statement = select(func.count()).where(customer_activities.c.kind == kind)
        return (await conn.execute(statement)).scalar_one()


async def test_a_transactional_email_is_queued_to_the_primary_address_in_the_customers_language(
    engine, marie
):
    queued = await send(engine, marie, now=NOW)
    [row] = await outbox(engine)
    assert row.id == queued.email_id
    assert (row.recipient, row.category, row.language) == ("Marie.Tremblay@example.ca", "transactional", "fr")
    assert (row.status, row.attempts, row.next_attempt_at, row.sent_at) == ("queued", 0, NOW, None)
    assert row.body == "Bonjour Marie,\nVotre RAV4 est prêt."  # no unsubscribe notice: not consent-based
    async with engine.connect() as conn:
        entry = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.id == queued.activity_id)
            )
        ).one()
    assert (entry.kind, entry.summary) == ("email", "Email queued: Votre véhicule est prêt")
    assert (entry.ref_type, entry.ref_id) == ("email", queued.email_id)


async def test_marketing_without_consent_is_refused_naming_the_consent_and_writes_nothing(engine, marie):
    with pytest.raises(EmailRefused, match="has not consented to marketing by email") as refused:
        await send(engine, marie, category="marketing", subject="Promo pneus d'hiver")
    assert refused.value.reason == "consent_missing"
    assert await outbox(engine) == []
    assert await count_activities(engine) == 0


async def test_marketing_is_allowed_once_granted_and_refused_again_after_withdrawal(engine, marie):
    await set_consent(engine, marie, "granted")
    await send(engine, marie, category="marketing", subject="Promo pneus d'hiver")
    await set_consent(engine, marie, "withdrawn")
    with pytest.raises(EmailRefused, match="marketing by email"):
        await send(engine, marie, category="marketing", subject="Promo freins")
    assert [row.subject for row in await outbox(engine)] == ["Promo pneus d'hiver"]


@pytest.mark.parametrize(
    ("category", "purpose", "missing"),
    [
        ("satisfaction_survey", "satisfaction_surveys", "satisfaction surveys by email"),
        ("service_reminder", "service_reminders", "service reminders by email"),
    ],
)
async def test_each_category_needs_its_own_consent_by_email(engine, marie, category, purpose, missing):
    # Consent to marketing, or to this purpose by text message, does not allow it by email.
    await set_consent(engine, marie, "granted", purpose="marketing")
    await set_consent(engine, marie, "granted", purpose=purpose, channel="sms")
    with pytest.raises(EmailRefused, match=missing):
        await send(engine, marie, category=category)
    await set_consent(engine, marie, "granted", purpose=purpose)
    await send(engine, marie, category=category)
    assert [row.category for row in await outbox(engine)] == [category]


async def test_consent_based_email_carries_the_unsubscribe_notice_in_the_customers_language(engine):
    async with engine.begin() as conn:
        john = await add_customer(conn, "John", "Smith", email="john@smith.example", language="en")
    await set_consent(engine, john, "granted", purpose="marketing")
    await send(engine, john, category="marketing", subject="Winter tires", body="Hello John")
    [row] = await outbox(engine)
    assert row.language == "en"
    assert row.body.startswith("Hello John\n\n--\n") and "unsubscribe" in row.body


async def test_a_customer_without_an_email_address_cannot_be_sent_one(engine):
    async with engine.begin() as conn:
        nobody = await add_customer(conn, "Jean", "Sansadresse", phone="514 555 0101")
    with pytest.raises(EmailRefused, match="no primary email address") as refused:
        await send(engine, nobody)
    assert refused.value.reason == "no_email"
    assert await outbox(engine) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "chain_letter"}, "category"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"body": ""}, "body"),
    ],
)
async def test_a_badly_filled_email_names_the_field_and_writes_nothing(engine, marie, fields, field):
    with pytest.raises(EmailInvalid) as invalid:
        await send(engine, marie, **fields)
    assert field in invalid.value.errors
    assert await outbox(engine) == []


async def test_line_breaks_in_the_subject_cannot_add_headers(engine, marie):
    await send(engine, marie, subject="Bonjour\r\nBcc: everyone@example.com")
    [row] = await outbox(engine)
    assert row.subject == "Bonjour Bcc: everyone@example.com"


async def test_emails_are_listed_newest_first_a_page_at_a_time(engine, marie):
    for index in range(25):
        # Two emails per instant: the id breaks the tie.
        await send(engine, marie, subject=f"Message {index:02d}", now=NOW + timedelta(minutes=index // 2))
    async with engine.connect() as conn:
        first = await load_emails(conn, marie, limit=10, delivery_configured=False)
        second = await load_emails(conn, marie, cursor=first.next_cursor, limit=10, delivery_configured=False)
        third = await load_emails(conn, marie, cursor=second.next_cursor, limit=10, delivery_configured=False)
    subjects = [email.subject for page in (first, second, third) for email in page.emails]
    assert subjects == [f"Message {index:02d}" for index in reversed(range(25))]
    assert third.next_cursor is None
    assert first.recipient == "Marie.Tremblay@example.ca" and first.language == "fr"
    assert first.delivery_configured is False


async def test_the_page_says_which_categories_the_consents_allow(engine, marie):
    await set_consent(engine, marie, "granted", purpose="satisfaction_surveys")
    async with engine.connect() as conn:
        page = await load_emails(conn, marie, delivery_configured=True)
    assert page.allowed_categories == ("transactional", "satisfaction_survey")
    assert page.missing_consent("marketing") == "marketing by email"
    assert page.missing_consent("transactional") is None


@pytest.mark.parametrize(
    "cursor",
    [encode_cursor("yesterday", 1), encode_cursor("2026-06-01T15:30:00", 1), "forged", encode_cursor(1)],
)
async def test_a_forged_cursor_is_a_param_error(engine, marie, cursor):
    async with engine.connect() as conn:
        with pytest.raises(ParamError) as error:
            await load_emails(conn, marie, cursor=cursor, delivery_configured=False)
    assert error.value.name == "cursor"


async def test_a_failed_email_can_be_queued_again_unless_consent_was_withdrawn(engine, marie):
    await set_consent(engine, marie, "granted")
    queued = await send(engine, marie, category="marketing", subject="Promo")
    async with engine.begin() as conn:
        await conn.execute(
            update(emails)
            .where(emails.c.id == queued.email_id)
            .values(status="failed", attempts=5, next_attempt_at=None)
        )
    async with engine.begin() as conn:
        await retry_email(conn, marie, queued.email_id, actor_id=None, now=NOW)
    [row] = await outbox(engine)
    assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 0, NOW)

    async with engine.begin() as conn:
        await conn.execute(update(emails).where(emails.c.id == queued.email_id).values(status="failed"))
    await set_consent(engine, marie, "withdrawn")
    with pytest.raises(EmailRefused, match="marketing by email"):
        async with engine.begin() as conn:
            await retry_email(conn, marie, queued.email_id, actor_id=None)
    assert (await outbox(engine))[0].status == "failed"


async def test_a_queued_or_sent_email_is_not_queued_again(engine, marie):
    queued = await send(engine, marie)
    with pytest.raises(EmailRefused, match="only a failed or refused email"):
        async with engine.begin() as conn:
            await retry_email(conn, marie, queued.email_id, actor_id=None)


async def test_another_customers_email_is_not_found(engine, marie):
    async with engine.begin() as conn:
        john = await add_customer(conn, "John", "Smith", email="john@smith.example")
    queued = await send(engine, john)
    async with engine.connect() as conn:
        assert await get_email(conn, marie, queued.email_id) is None
        assert (await get_email(conn, john, queued.email_id)).recipient == "john@smith.example"
        with pytest.raises(LookupError):
            await retry_email(conn, marie, queued.email_id, actor_id=None)
