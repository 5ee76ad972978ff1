"""The demo/benchmark seed: deterministic, internally consistent, and safe to run twice."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import keys
from app.seed import COLUMNS, DEMO_PASSWORD, SHOP_TIMEZONE, TABLES, generate, seed, vehicle_vin
from app.tables import (
    ACTIVITY_KINDS,
    consent_events,
    consents,
    customer_activities,
    customer_contacts,
    customers,
    documents,
    emails,
    invoices,
    metadata,
    payments,
    users,
    vehicles,
    work_orders,
)
from app.users import verify_password
from app.vin import is_valid_vin

TODAY = date(2025, 3, 14)
CUSTOMERS = 40


async def rows(engine: AsyncEngine, statement) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(statement)).all()


async def dump(engine: AsyncEngine) -> dict[str, list[tuple]]:
    """Every seeded table, ordered by id."""
    return {
        name: [tuple(row) for row in await rows(engine, select(table).order_by(table.c.id))]
        for name, table in TABLES.items()
    }


def rounded(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def test_same_seed_writes_the_same_rows(engine):
    await seed(engine, customers=15, seed=7, today=TODAY)
    first = await dump(engine)
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name in TABLES:
                await conn.execute(table.delete())
    await seed(engine, customers=15, seed=7, today=TODAY)
    assert await dump(engine) == first
    assert first["customer_activities"], "nothing was seeded"


def test_generation_is_a_pure_function_of_its_arguments():
    def everything(**kwargs):
        return [batch for batch in generate(customers=12, today=TODAY, **kwargs)]

    assert everything(seed=3) == everything(seed=3)
    assert everything(seed=3) != everything(seed=4)
    # A customer's data does not depend on how many customers are generated around it.
    small = next(generate(customers=5, seed=3, today=TODAY))["customers"]
    assert small == everything(seed=3)[0]["customers"][:5]


def test_activity_history_length_follows_the_requested_mean():
    for mean in (10, 50):
        activities = sum(
            len(batch["customer_activities"])
            for batch in generate(customers=400, seed=2, today=TODAY, activities_per_customer=mean)
        )
        assert 0.8 * mean <= activities / 400 <= 1.25 * mean, (mean, activities / 400)
    assert not any(
        batch["customer_activities"]
        for batch in generate(customers=20, today=TODAY, activities_per_customer=0)
    )


async def test_returned_counts_are_the_rows_written(engine):
    reports = []
    counts = await seed(
        engine, customers=CUSTOMERS, seed=1, today=TODAY, progress=lambda *report: reports.append(report)
    )
    assert reports[-1] == ("customers", CUSTOMERS, CUSTOMERS)
    assert set(counts) == {"users", *COLUMNS}
    for name, count in counts.items():
        table = metadata.tables[name]
        assert (await rows(engine, select(func.count()).select_from(table)))[0][0] == count, name
    assert counts["customers"] == CUSTOMERS
    assert counts["users"] == 11
    assert counts["customer_activities"] > 10 * CUSTOMERS


async def test_demo_users_exist_and_sign_in_with_the_demo_password(engine):
    await seed(engine, customers=3, today=TODAY)
    found = {
        row.email: row
        for row in await rows(
            engine, select(users.c.email, users.c.role, users.c.password_hash, users.c.name)
        )
    }
    for email, role in (
        ("advisor@example.com", "advisor"),
        ("operations@example.com", "operations"),
        ("admin@example.com", "admin"),
    ):
        assert found[email].role == role
        assert await verify_password(found[email].password_hash, DEMO_PASSWORD), email
        assert not await verify_password(found[email].password_hash, "not-the-password")
    others = [row for email, row in found.items() if email.endswith("@chronotech.example")]
    assert len(others) == 8 and {row.role for row in others} == {"advisor"}
    assert not await verify_password(others[0].password_hash, DEMO_PASSWORD)


async def test_seeding_twice_reuses_the_users_and_adds_customers(engine):
    first = await seed(engine, customers=10, seed=1, today=TODAY)
    second = await seed(engine, customers=10, seed=1, today=TODAY)
    assert second["users"] == 0
    assert (await rows(engine, select(func.count()).select_from(users)))[0][0] == first["users"] == 11
    assert (await rows(engine, select(func.count()).select_from(customers)))[0][0] == 20
    numbers = [row.number for row in await rows(engine, select(work_orders.c.number))]
    assert len(numbers) == len(set(numbers)) == first["work_orders"] + second["work_orders"]


async def test_every_vin_is_valid_and_unique(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    vins = [row.vin for row in await rows(engine, select(vehicles.c.vin))]
    assert vins and len(vins) == len(set(vins))
    assert all(is_valid_vin(vin) for vin in vins), [vin for vin in vins if not is_valid_vin(vin)]
    for row in await rows(engine, select(vehicles)):
        assert row.plate_key == keys.plate_key(row.plate)
        assert 1995 <= row.year <= TODAY.year + 1
        assert row.odometer_km > 0 and row.next_service_km > row.odometer_km


def test_seed_vins_are_unique_by_construction():
    """Same maker and descriptor, any ids: the VIN still differs (the unique constraint must never trip)."""
    ids = [
        *range(1, 40_000),
        *(block * 1_000_000 + rest for block in range(1, 33) for rest in (0, 1, 999_999)),
    ]
    vins = [vehicle_vin(vehicle_id, "2HG", "FC2F5", 2020) for vehicle_id in ids]
    assert len(set(vins)) == len(ids)
    assert all(is_valid_vin(vin) for vin in vins[:2000] + vins[-100:])


async def test_taxes_are_gst_and_qst_rounded_to_the_cent(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    invoice_rows = await rows(engine, select(invoices))
    assert invoice_rows
    for row in invoice_rows:
        assert row.gst_cents == rounded(Decimal(row.subtotal_cents) * Decimal("0.05"))
        assert row.qst_cents == rounded(Decimal(row.subtotal_cents) * Decimal("0.09975"))
        assert row.total_cents == row.subtotal_cents + row.gst_cents + row.qst_cents
        assert row.due_on == row.issued_on + timedelta(days=30)
        assert re.fullmatch(rf"INV-{row.issued_on.year}-\d{{6}}", row.number)
    for row in await rows(engine, select(work_orders)):
        subtotal = row.labour_cents + row.parts_cents
        assert row.subtotal_cents == subtotal
        tax = rounded(Decimal(subtotal) * Decimal("0.05")) + rounded(Decimal(subtotal) * Decimal("0.09975"))
        assert row.tax_cents == tax and row.total_cents == subtotal + tax
        assert re.fullmatch(rf"WO-{row.opened_at.year}-\d{{6}}", row.number)


async def test_work_orders_and_invoices_tell_one_story(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    invoiced = Counter(row.work_order_id for row in await rows(engine, select(invoices.c.work_order_id)))
    statuses = Counter()
    for row in await rows(engine, select(work_orders)):
        statuses[row.status] += 1
        if row.status in ("completed", "cancelled"):
            assert row.closed_at is not None and row.opened_at < row.closed_at <= row.updated_at
        else:
            assert row.closed_at is None
            assert (TODAY - row.opened_at.date()).days <= 12, "only recent work orders are still open"
        assert invoiced[row.id] == (1 if row.status == "completed" else 0)
    assert statuses["completed"] > sum(count for status, count in statuses.items() if status != "completed")


async def test_paid_amounts_are_the_sum_of_the_payments(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    paid = defaultdict(int)
    invoice_by_id = {row.id: row for row in await rows(engine, select(invoices))}
    for payment in await rows(engine, select(payments)):
        paid[payment.invoice_id] += payment.amount_cents
        invoice = invoice_by_id[payment.invoice_id]
        assert payment.customer_id == invoice.customer_id
        assert invoice.created_at < payment.received_at < datetime.combine(TODAY, time(), SHOP_TIMEZONE)
    statuses = Counter()
    for invoice in invoice_by_id.values():
        statuses[invoice.status] += 1
        assert invoice.paid_cents == paid[invoice.id]
        assert 0 <= invoice.paid_cents <= invoice.total_cents
        if invoice.status == "paid":
            assert invoice.paid_cents == invoice.total_cents
        elif invoice.status == "void":
            assert invoice.paid_cents == 0
        elif invoice.status in ("sent", "partially_paid"):
            assert invoice.due_on >= TODAY and invoice.paid_cents < invoice.total_cents
            assert (invoice.paid_cents > 0) == (invoice.status == "partially_paid")
    assert statuses["paid"] > len(invoice_by_id) / 2


async def test_overdue_invoices_are_past_due_with_a_balance(engine):
    await seed(engine, customers=120, seed=5, today=TODAY)
    overdue = 0
    for invoice in await rows(engine, select(invoices)):
        past_due_with_balance = invoice.due_on < TODAY and invoice.paid_cents < invoice.total_cents
        if invoice.status == "overdue":
            overdue += 1
            assert past_due_with_balance, invoice
        elif invoice.status != "void":
            assert not past_due_with_balance, invoice
    assert overdue, "120 customers should have some overdue invoices"


async def test_each_customers_activities_are_in_time_order(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    history = await rows(
        engine,
        select(
            customer_activities.c.customer_id, customer_activities.c.occurred_at, customer_activities.c.kind
        ).order_by(customer_activities.c.customer_id, customer_activities.c.id),
    )
    created = {
        row.id: row.created_at for row in await rows(engine, select(customers.c.id, customers.c.created_at))
    }
    previous: dict[int, datetime] = {}
    for row in history:
        assert row.kind in ACTIVITY_KINDS
        assert row.occurred_at.tzinfo is not None
        assert row.occurred_at >= previous.get(row.customer_id, created[row.customer_id])
        previous[row.customer_id] = row.occurred_at
    assert len(previous) == CUSTOMERS


async def test_activities_point_at_the_rows_they_describe(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    targets = {
        "work_order": work_orders,
        "invoice": invoices,
        "payment": payments,
        "document": documents,
        "consent": consents,
        "email": emails,
        "vehicle": vehicles,
    }
    owners = {
        ref_type: {
            row.id: row.customer_id for row in await rows(engine, select(table.c.id, table.c.customer_id))
        }
        for ref_type, table in targets.items()
    }
    kinds = Counter()
    for row in await rows(engine, select(customer_activities)):
        kinds[row.kind] += 1
        if row.ref_type is not None:
            assert owners[row.ref_type][row.ref_id] == row.customer_id, row
        assert (row.actor_id is None) == (row.actor_label is not None), row
    assert {
        "note",
        "call",
        "work_order_opened",
        "invoice_issued",
        "payment",
        "consent_granted",
        "email",
    } <= set(kinds)


async def test_consents_agree_with_their_last_event(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    history = defaultdict(list)
    for event in await rows(
        engine, select(consent_events).order_by(consent_events.c.occurred_at, consent_events.c.id)
    ):
        history[event.customer_id, event.purpose, event.channel].append(event)
    consent_rows = await rows(engine, select(consents))
    assert consent_rows and {row.status for row in consent_rows} == {"granted", "withdrawn"}
    for row in consent_rows:
        events = history.pop((row.customer_id, row.purpose, row.channel))
        last = events[-1]
        assert events[0].action == "granted"
        assert (row.status, row.legal_basis, row.wording_version, row.source, row.updated_at) == (
            last.action,
            last.legal_basis,
            last.wording_version,
            last.source,
            last.occurred_at,
        )
        grants = [event.occurred_at for event in events if event.action == "granted"]
        assert row.granted_at == grants[-1]
        assert row.withdrawn_at == (last.occurred_at if row.status == "withdrawn" else None)
        expected = "consent" if row.purpose != "service_reminders" else row.legal_basis
        assert row.legal_basis == expected and expected in ("consent", "contract", "legitimate_interest")
    assert not history, "consent events without a consent row"


async def test_marketing_email_only_while_marketing_consent_is_granted(engine):
    await seed(engine, customers=120, seed=3, today=TODAY)
    history = defaultdict(list)
    for event in await rows(engine, select(consent_events).order_by(consent_events.c.occurred_at)):
        history[event.customer_id, event.purpose, event.channel].append((event.occurred_at, event.action))

    def granted(customer_id: int, purpose: str, at: datetime) -> bool:
        state = "withdrawn"
        for when, action in history[customer_id, purpose, "email"]:
            if when <= at:
                state = action
        return state == "granted"

    sent = Counter()
    for email in await rows(engine, select(emails)):
        sent[email.category] += 1
        purpose = {
            "marketing": "marketing",
            "service_reminder": "service_reminders",
            "satisfaction_survey": "satisfaction_surveys",
        }.get(email.category)
        if purpose is not None:
            assert granted(email.customer_id, purpose, email.created_at), email
        if email.status == "sent":
            assert email.sent_at >= email.created_at and email.attempts >= 1 and email.last_error is None
        else:
            assert email.status == "failed" and email.sent_at is None and email.last_error
    assert sent["marketing"] and sent["transactional"]


async def test_customers_look_like_quebec_customers(engine):
    await seed(engine, customers=CUSTOMERS, today=TODAY)
    customer_rows = await rows(engine, select(customers))
    languages = Counter(row.language for row in customer_rows)
    assert languages["fr"] > languages["en"] > 0
    for row in customer_rows:
        assert row.name_key == keys.name_key(row.first_name, row.last_name)
        assert row.company_key == keys.company_key(row.company)
        assert row.province in ("QC", "ON")
        assert re.fullmatch(r"[A-CEGHJ-NPR-TVXY]\d[A-CEGHJ-NPR-TV-Z] \d[A-CEGHJ-NPR-TV-Z]\d", row.postal_code)
        assert row.postal_code[0] in ("GHJ" if row.province == "QC" else "KLMNP")
        assert isinstance(row.tags, list)
        assert row.created_at <= row.updated_at
    contacts = defaultdict(Counter)
    for contact in await rows(engine, select(customer_contacts)):
        if contact.is_primary:
            contacts[contact.customer_id][contact.kind] += 1
        expected = keys.email_key(contact.value) if contact.kind == "email" else keys.phone_key(contact.value)
        assert contact.search_key == expected
        if contact.kind == "phone":
            assert len(contact.search_key) == 10
    assert all(contacts[row.id] == {"email": 1, "phone": 1} for row in customer_rows)


async def test_history_ends_before_now_with_the_default_date(engine):
    await seed(engine, customers=10)
    now = datetime.now(UTC)
    latest = (await rows(engine, select(func.max(customer_activities.c.occurred_at))))[0][0]
    assert latest is not None and now - timedelta(days=30) < latest < now
    storage_keys = [row.storage_key for row in await rows(engine, select(documents.c.storage_key))]
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in storage_keys)
