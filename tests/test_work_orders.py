"""Work orders: open ones first, keyset pages across the two groups, and the status changes."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest
from sqlalchemy import event, func, select

from app import work_orders
from app.pagination import encode_cursor
from app.params import ParamError
from app.tables import WORK_ORDER_STATUSES, customer_activities
from app.tables import work_orders as work_orders_table
from app.users import create_user
from tests.factories import NOW, add_customer, add_invoice, add_vehicle, add_work_order


@pytest.fixture
async def shop(engine):
    """A customer with 14 work orders in the shop and 9 finished ones, spread over time, and a neighbour."""
    async with engine.begin() as conn:
        advisor = await create_user(
            conn, email="luc@example.ca", name="Luc Gagnon", role="advisor", password_hash="x", language="fr"
        )
        customer = await add_customer(conn, "Marie", "Tremblay")
        neighbour = await add_customer(conn, "John", "Smith")
        car = await add_vehicle(conn, customer, vin="2T3W1RFV8KC012345", plate="ABC 123")
        statuses = ["open", "in_progress", "waiting_parts", "completed", "cancelled", "completed"]
        ids: dict[str, int] = {}
        for index in range(23):
            status = statuses[index % 6] if index < 18 else "open"
            number = f"WO-2026-{index + 1:06d}"
            ids[number] = await add_work_order(
                conn,
                customer,
                car,
                number=number,
                status=status,
                # Pairs of work orders opened at the same instant: the id breaks the tie.
                opened_at=NOW - timedelta(days=40 - index // 2),
                labour_cents=10_000 + index,
                parts_cents=2_500,
                advisor_id=advisor.id,
                technician="Réjean" if status != "open" else None,
            )
        await add_work_order(conn, neighbour, None, number="WO-2026-000999", status="open")
        invoiced = ids["WO-2026-000004"]
        await add_invoice(
            conn, customer, number="INV-2026-000004", issued_on=NOW.date(), work_order_id=invoiced
        )
    return {"customer": customer, "neighbour": neighbour, "ids": ids, "advisor": advisor}


async def all_pages(conn, customer_id, *, status=None, limit=5):
    rows, cursor, pages = [], None, 0
    while True:
        page = await work_orders.load_work_orders(
            conn, customer_id, status=status, cursor=cursor, limit=limit
        )
        rows += page.work_orders
        pages += 1
        if page.next_cursor is None:
            return rows, pages
        cursor = page.next_cursor


async def test_open_work_orders_come_first_each_group_newest_first_without_gaps_or_repeats(engine, shop):
    async with engine.connect() as conn:
        rows, pages = await all_pages(conn, shop["customer"])
        expected = []
        for statuses in (work_orders.OPEN_STATUSES, work_orders.FINAL_STATUSES):
            expected += [
                row.id
                for row in await conn.execute(
                    select(work_orders_table.c.id)
                    .where(
                        work_orders_table.c.customer_id == shop["customer"],
                        work_orders_table.c.status.in_(statuses),
                    )
                    .order_by(work_orders_table.c.opened_at.desc(), work_orders_table.c.id.desc())
                )
            ]
    assert [row.id for row in rows] == expected
    assert len(rows) == 23 and pages == 5
    groups = [row.group for row in rows]
    assert groups == sorted(groups) and groups.count(0) == 14


async def test_the_status_filter_keeps_to_one_status_across_pages(engine, shop):
    async with engine.connect() as conn:
        rows, _ = await all_pages(conn, shop["customer"], status="open", limit=3)
        completed, _ = await all_pages(conn, shop["customer"], status="completed", limit=3)
    assert len(rows) == 8 and {row.status for row in rows} == {"open"}
    assert len(completed) == 6 and {row.status for row in completed} == {"completed"}
    assert [row.opened_at for row in rows] == sorted((row.opened_at for row in rows), reverse=True)


async def test_a_row_carries_vehicle_advisor_amounts_and_invoice(engine, shop):
    async with engine.connect() as conn:
        row = await work_orders.get_work_order(conn, shop["customer"], shop["ids"]["WO-2026-000004"])
        assert await work_orders.get_work_order(conn, shop["neighbour"], row.id) is None
    assert (row.vehicle, row.plate, row.advisor, row.technician) == (
        "2019 Toyota RAV4",
        "ABC 123",
        "Luc Gagnon",
        "Réjean",
    )
    assert (row.labour_cents, row.parts_cents, row.subtotal_cents) == (10_003, 2_500, 12_503)
    assert row.tax_cents == 625 + 1247 and row.total_cents == 12_503 + 625 + 1247
    assert row.invoice_number == "INV-2026-000004" and not row.can_issue_invoice
    assert row.closed_at == row.opened_at + timedelta(hours=2)


async def test_a_page_costs_a_fixed_number_of_queries(engine, shop):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with engine.connect() as conn:
            page = await work_orders.load_work_orders(conn, shop["customer"], limit=20)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(page.work_orders) == 20 and page.open_count == 14
    # One per status (three open, two final: each along its index) and the open count: not one per row.
    assert len(statements) == 6


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor(2, NOW.isoformat(), 1),
        encode_cursor(0, "yesterday", 1),
        encode_cursor(0, NOW.replace(tzinfo=None).isoformat(), 1),
        "forged",
    ],
)
async def test_a_cursor_this_server_did_not_make_is_a_param_error(engine, shop, cursor):
    async with engine.connect() as conn:
        with pytest.raises(ParamError) as error:
            await work_orders.load_work_orders(conn, shop["customer"], cursor=cursor)
    assert error.value.name == "cursor"


ALLOWED = {
    ("open", "in_progress"),
    ("open", "waiting_parts"),
    ("open", "cancelled"),
    ("in_progress", "waiting_parts"),
    ("in_progress", "completed"),
    ("in_progress", "cancelled"),
    ("waiting_parts", "in_progress"),
    ("waiting_parts", "cancelled"),
}


@pytest.mark.parametrize(("old", "new"), list(product(WORK_ORDER_STATUSES, WORK_ORDER_STATUSES)))
def test_only_the_shops_transitions_are_allowed(old, new):
    if (old, new) in ALLOWED:
        work_orders.check_transition(old, new)
    else:
        with pytest.raises(work_orders.StatusChangeRefused):
            work_orders.check_transition(old, new)


async def change(engine, customer_id, work_order_id, new, expected=None, actor_id=None):
    async with engine.begin() as conn:
        return await work_orders.change_status(
            conn, customer_id, work_order_id, new_status=new, expected_status=expected, actor_id=actor_id
        )


async def status_of(engine, work_order_id):
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(work_orders_table.c.status, work_orders_table.c.closed_at).where(
                    work_orders_table.c.id == work_order_id
                )
            )
        ).one()


async def activity_count(engine):
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(func.count())
                .select_from(customer_activities)
                .where(customer_activities.c.kind == "work_order_status")
            )
        ).scalar_one()


async def test_a_work_order_goes_through_the_shop_and_completing_closes_it(engine, shop):
    work_order_id = shop["ids"]["WO-2026-000001"]  # open
    for old, new in [
        ("open", "in_progress"),
        ("in_progress", "waiting_parts"),
        ("waiting_parts", "in_progress"),
    ]:
        changed = await change(engine, shop["customer"], work_order_id, new, old, shop["advisor"].id)
        assert (changed.old, changed.new) == (old, new)
        assert await status_of(engine, work_order_id) == (new, None)
    changed = await change(
        engine, shop["customer"], work_order_id, "completed", "in_progress", shop["advisor"].id
    )
    status, closed_at = await status_of(engine, work_order_id)
    assert status == "completed" and closed_at is not None and closed_at.tzinfo is not None
    async with engine.connect() as conn:
        entry = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.id == changed.activity_id)
            )
        ).one()
    assert entry.kind == "work_order_status" and entry.actor_id == shop["advisor"].id
    assert entry.details == {"number": "WO-2026-000001", "from": "in_progress", "to": "completed"}
    assert (entry.ref_type, entry.ref_id) == ("work_order", work_order_id)
    assert entry.summary == "Work order WO-2026-000001: In progress → Completed"
    assert await activity_count(engine) == 4


async def test_a_refused_transition_writes_nothing(engine, shop):
    work_order_id = shop["ids"]["WO-2026-000004"]  # completed
    with pytest.raises(work_orders.StatusChangeRefused, match="final"):
        await change(engine, shop["customer"], work_order_id, "in_progress", "completed")
    with pytest.raises(work_orders.StatusChangeRefused, match="cannot become completed"):
        await change(engine, shop["customer"], shop["ids"]["WO-2026-000001"], "completed", "open")
    assert (await status_of(engine, work_order_id)).status == "completed"
    assert (await status_of(engine, shop["ids"]["WO-2026-000001"])).status == "open"
    assert await activity_count(engine) == 0


async def test_a_change_made_meanwhile_by_someone_else_is_not_overwritten(engine, shop):
    work_order_id = shop["ids"]["WO-2026-000001"]
    await change(engine, shop["customer"], work_order_id, "in_progress", "open")
    # A second advisor, still looking at "open", asks for "waiting for parts".
    with pytest.raises(work_orders.StatusChangeRefused, match="meanwhile: it is now in progress"):
        await change(engine, shop["customer"], work_order_id, "waiting_parts", "open")
    assert (await status_of(engine, work_order_id)).status == "in_progress"
    assert await activity_count(engine) == 1


async def test_another_customers_work_order_is_not_found(engine, shop):
    with pytest.raises(work_orders.WorkOrderNotFound):
        await change(engine, shop["neighbour"], shop["ids"]["WO-2026-000001"], "in_progress", "open")
    assert (await status_of(engine, shop["ids"]["WO-2026-000001"])).status == "open"
