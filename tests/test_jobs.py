"""The overdue job: invoices past due go overdue once, and open pages hear of it."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from sqlalchemy import select, update

from app.jobs import mark_overdue_once
from app.live.broker import MemoryBroker
from app.live.events import customer_channel
from app.tables import invoices
from tests.factories import add_customer, add_vehicle, add_work_order_and_invoice


async def test_a_past_due_invoice_goes_overdue_once_and_is_announced(engine):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        vehicle = await add_vehicle(conn, customer, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_work_order_and_invoice(conn, customer, vehicle, number=1)
        await conn.execute(update(invoices).values(due_on=date(2020, 1, 1)))
    broker = MemoryBroker()
    listener = broker.listen(customer_channel(customer))
    first = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0)
    assert await mark_overdue_once(engine, broker) == 1
    assert json.loads((await asyncio.wait_for(first, 1))[1])["customer_id"] == customer
    assert await mark_overdue_once(engine, broker) == 0
    async with engine.connect() as conn:
        assert (await conn.execute(select(invoices.c.status))).scalar() == "overdue"
    await listener.aclose()
