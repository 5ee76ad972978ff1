"""DATABASE_READ_URL: the heavy read sections (analytics, the revenue chart) come from the read replica once
it has caught up with the customer, and from the primary while it lags; nothing else reads it.

The "replica" is a second database filled with a copy of the primary's rows, which then disagrees with the
primary on purpose (a real replica never would): which database answered shows in the figures.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select, update

from app import create_app
from app.activity import record_activity
from app.config import parse_database_url
from app.db import create_engine
from app.migrations import upgrade
from app.tables import invoices, metadata
from tests.conftest import pay_through_form, sign_in
from tests.factories import add_customer, add_invoice


async def copy_rows(source, target) -> None:
    async with source.connect() as reading, target.begin() as writing:
        for table in metadata.sorted_tables:
            rows = [dict(row._mapping) for row in await reading.execute(select(table))]
            if rows:
                await writing.execute(table.insert(), rows)


@pytest.fixture
async def shop(engine, settings, staff, tmp_path):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        invoice = await add_invoice(conn, customer, number="INV-0001", issued_on=date(2026, 11, 2))
        await record_activity(conn, customer_id=customer, kind="note", summary="Invoice sent by mail")
    replica = create_engine(parse_database_url(f"sqlite:///{tmp_path / 'replica.sqlite3'}", tmp_path))
    await upgrade(replica)
    await copy_rows(engine, replica)
    # The replica's tell: the invoice is paid there, not on the primary.
    async with replica.begin() as conn:
        await conn.execute(
            update(invoices)
            .where(invoices.c.id == invoice)
            .values(paid_cents=invoices.c.total_cents, status="paid")
        )
    app = create_app(replace(settings, database_read_url=replica.url.render_as_string(hide_password=False)))
    async with app.test_app():
        client = app.test_client()
        assert (await sign_in(client, staff["advisor"])).status_code == 302
        yield client, customer, invoice
    await replica.dispose()


async def outstanding_cents(client, customer: int) -> int:
    response = await client.get(
        f"/api/customer360/{customer}/analytics", headers={"Cache-Control": "no-cache"}
    )
    assert response.status_code == 200
    return (await response.get_json())["outstanding_cents"]


async def test_analytics_come_from_a_replica_that_has_caught_up(shop):
    client, customer, _ = shop
    assert await outstanding_cents(client, customer) == 0  # the replica's figure
    html = await (await client.get(f"/customers/{customer}/sections/analytics")).get_data(as_text=True)
    assert 'id="kpi-outstanding"' in html and "$0.00" in html
    # Sections that are not heavy read the primary: there the invoice is still open, to be paid.
    invoices_html = await (await client.get(f"/customers/{customer}/sections/invoices")).get_data(
        as_text=True
    )
    assert "Record payment on INV-0001" in invoices_html


async def test_analytics_come_from_the_primary_while_the_replica_lags_behind_a_payment(shop, engine):
    client, customer, invoice = shop
    response = await pay_through_form(client, customer, invoice, "10.00")
    assert response.status_code == 200, await response.get_data(as_text=True)
    async with engine.connect() as conn:
        total, paid = (
            await conn.execute(
                select(invoices.c.total_cents, invoices.c.paid_cents).where(invoices.c.id == invoice)
            )
        ).one()
    assert paid == 1000
    # The replica never saw the payment's event: the primary answers, with the payment in its figures.
    assert await outstanding_cents(client, customer) == total - 1000
    html = await (await client.get(f"/customers/{customer}/sections/analytics")).get_data(as_text=True)
    assert f"${(total - 1000) / 100:,.2f}" in html


async def test_a_replica_that_cannot_be_reached_leaves_the_primary_to_answer(
    engine, settings, staff, tmp_path
):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        await add_invoice(conn, customer, number="INV-0002", issued_on=date(2026, 11, 2))
        await record_activity(conn, customer_id=customer, kind="note", summary="Invoice sent by mail")
    unreachable = "mysql+aiomysql://root@127.0.0.1:9/nowhere"  # port 9 (discard): nobody listens
    app = create_app(replace(settings, database_read_url=unreachable))
    async with app.test_app():
        client = app.test_client()
        assert (await sign_in(client, staff["advisor"])).status_code == 302
        assert await outstanding_cents(client, customer) > 0
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "read replica" in (await ready.get_json())["problems"]
