"""Privacy consents: the matrix, the append-only history, and the rules of granting and withdrawing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.consents import (
    CURRENT_WORDING,
    HISTORY_LIMIT,
    ConsentConflict,
    ConsentInvalid,
    change_consent,
    load_consents,
)
from app.tables import CHANNELS, CONSENT_PURPOSES, consent_events, consents, customer_activities
from tests.factories import NOW, add_customer


@pytest.fixture
async def customer(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


async def grant(engine, customer_id, purpose="marketing", channel="email", **kwargs):
    async with engine.begin() as conn:
        return await change_consent(
            conn, customer_id, purpose=purpose, channel=channel, action="granted", **kwargs
        )


async def withdraw(engine, customer_id, purpose="marketing", channel="email", **kwargs):
    async with engine.begin() as conn:
        return await change_consent(
            conn, customer_id, purpose=purpose, channel=channel, action="withdrawn", **kwargs
        )


async def count(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_a_customer_never_asked_has_every_consent_not_asked(engine, customer):
    async with engine.connect() as conn:
        state = await load_consents(conn, customer)
    assert [row.purpose for row in state.matrix] == list(CONSENT_PURPOSES)
    for row in state.matrix:
        assert [cell.channel for cell in row.channels] == list(CHANNELS)
        assert {cell.status for cell in row.channels} == {"not_asked"}
    assert state.history == () and state.more_history == 0
    assert state.language == "fr"


async def test_granting_records_the_consent_its_history_and_the_timeline(engine, customer):
    change = await grant(engine, customer, source="phone", note="Called back to confirm", now=NOW)
    async with engine.connect() as conn:
        state = await load_consents(conn, customer)
        activity = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.id == change.activity_id)
            )
        ).one()
    cell = state.get("marketing", "email")
    assert (cell.status, cell.legal_basis, cell.source) == ("granted", "consent", "phone")
    assert cell.wording_version == CURRENT_WORDING["marketing"]
    assert cell.granted_at == NOW and cell.withdrawn_at is None
    assert state.get("marketing", "sms").status == "not_asked"
    [event] = state.history
    assert (event.purpose, event.channel, event.action, event.source) == (
        "marketing",
        "email",
        "granted",
        "phone",
    )
    assert event.note == "Called back to confirm"
    assert (activity.kind, activity.ref_type, activity.ref_id) == (
        "consent_granted",
        "consent",
        change.consent_id,
    )
    assert "Marketing by email" in activity.summary
    assert activity.details["legal_basis"] == "consent"


async def test_withdrawing_and_granting_again_appends_to_the_history_in_order(engine, customer):
    await grant(engine, customer, now=NOW)
    await withdraw(engine, customer, source="email", now=NOW + timedelta(days=30))
    await grant(engine, customer, source="in_person", now=NOW + timedelta(days=90))
    async with engine.connect() as conn:
        state = await load_consents(conn, customer)
        kinds = (
            await conn.execute(
                select(customer_activities.c.kind)
                .where(customer_activities.c.customer_id == customer)
                .order_by(customer_activities.c.id)
            )
        ).scalars()
        rows = (await conn.execute(select(func.count()).select_from(consents))).scalar_one()
    assert [event.action for event in state.history] == ["granted", "withdrawn", "granted"]  # newest first
    assert [event.occurred_at for event in state.history] == [
        NOW + timedelta(days=90),
        NOW + timedelta(days=30),
        NOW,
    ]
    # The withdrawal is recorded against the basis and wording of the consent it ended.
    assert state.history[1].legal_basis == "consent" and state.history[1].source == "email"
    assert list(kinds) == ["consent_granted", "consent_withdrawn", "consent_granted"]
    cell = state.get("marketing", "email")
    assert (
        cell.status == "granted" and cell.granted_at == NOW + timedelta(days=90) and cell.withdrawn_at is None
    )
    assert rows == 1  # one current state per purpose × channel


async def test_granting_what_is_already_granted_is_refused_and_writes_nothing(engine, customer):
    await grant(engine, customer)
    before = (await count(engine, consent_events), await count(engine, customer_activities))
    with pytest.raises(ConsentConflict, match="Marketing by email is already granted"):
        await grant(engine, customer)
    assert (await count(engine, consent_events), await count(engine, customer_activities)) == before


async def test_withdrawing_what_is_not_granted_is_refused(engine, customer):
    with pytest.raises(ConsentConflict, match="never given"):
        await withdraw(engine, customer)
    await grant(engine, customer)
    await withdraw(engine, customer)
    with pytest.raises(ConsentConflict, match="already withdrawn"):
        await withdraw(engine, customer)
    assert await count(engine, consent_events) == 2


async def test_marketing_rests_on_consent_only_reminders_may_rest_on_the_contract(engine, customer):
    with pytest.raises(ConsentInvalid) as refused:
        await grant(engine, customer, legal_basis="contract")
    assert "legal_basis" in refused.value.errors
    assert await count(engine, consents) == 0
    await grant(engine, customer, purpose="service_reminders", channel="sms", legal_basis="contract")
    async with engine.connect() as conn:
        state = await load_consents(conn, customer)
    assert state.get("service_reminders", "sms").legal_basis == "contract"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"purpose": "spam"}, "purpose"),
        ({"channel": "fax"}, "channel"),
        ({"source": "telepathy"}, "source"),
        ({"note": "x" * 501}, "note"),
    ],
)
async def test_a_bad_field_is_named_and_nothing_is_written(engine, customer, fields, field):
    with pytest.raises(ConsentInvalid) as refused:
        await grant(engine, customer, **fields)
    assert field in refused.value.errors
    assert await count(engine, consent_events) == 0


async def test_two_first_grants_at_once_record_only_one(engine, customer):
    async with engine.connect() as first, engine.connect() as second:
        await change_consent(first, customer, purpose="marketing", channel="email", action="granted")
        # The second grant starts while the first is not yet committed: whichever way the database lets it
        # through, it must find the consent granted and change nothing.
        racing = asyncio.create_task(
            change_consent(second, customer, purpose="marketing", channel="email", action="granted")
        )
        await asyncio.sleep(0.1)
        await first.commit()
        with pytest.raises(ConsentConflict, match=r"Marketing by email (was|is already) granted"):
            await racing
        await second.rollback()
    assert await count(engine, consents) == 1
    assert await count(engine, consent_events) == 1


async def test_the_history_shows_the_latest_changes_and_counts_the_rest(engine, customer):
    for index in range(HISTORY_LIMIT + 3):
        action = "granted" if index % 2 == 0 else "withdrawn"
        async with engine.begin() as conn:
            await change_consent(
                conn,
                customer,
                purpose="satisfaction_surveys",
                channel="email",
                action=action,
                now=NOW + timedelta(minutes=index),
            )
    async with engine.connect() as conn:
        state = await load_consents(conn, customer)
    assert len(state.history) == HISTORY_LIMIT
    assert state.more_history == 3
    assert state.history[0].occurred_at == NOW + timedelta(minutes=HISTORY_LIMIT + 2)


async def test_consents_of_another_customer_are_not_shown(engine, customer):
    async with engine.begin() as conn:
        other = await add_customer(conn, "John", "Smith", language="en")
    await grant(engine, other)
    async with engine.connect() as conn:
        mine, theirs = await load_consents(conn, customer), await load_consents(conn, other)
    assert mine.get("marketing", "email").status == "not_asked" and mine.history == ()
    assert theirs.get("marketing", "email").status == "granted" and theirs.language == "en"
