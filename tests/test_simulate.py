"""The simulator writes what a busy shop writes, through the same commit-then-announce path."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from app.live.broker import MemoryBroker
from app.live.events import ACTIVITY_CHANNEL
from app.seed import seed
from app.simulate import simulate
from app.tables import customer_activities, invoices


async def test_every_simulated_event_is_logged_and_announced(engine):
    await seed(engine, customers=5, seed=3, activities_per_customer=20)
    async with engine.connect() as conn:
        before = (await conn.execute(select(func.count()).select_from(customer_activities))).scalar()
        max_before = (await conn.execute(select(func.max(customer_activities.c.id)))).scalar()
    broker = MemoryBroker()
    listener = broker.listen(ACTIVITY_CHANNEL)
    first = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0)
    tally = await simulate(engine, broker, rate=40, customers_count=5, duration=1.0, seed=9)
    assert tally.total >= 20
    async with engine.connect() as conn:
        after = (await conn.execute(select(func.count()).select_from(customer_activities))).scalar()
        new_kinds = (
            await conn.execute(
                select(customer_activities.c.kind, func.count())
                .where(customer_activities.c.id > max_before)
                .group_by(customer_activities.c.kind)
            )
        ).all()
        overpaid = (
            await conn.execute(select(func.count()).where(invoices.c.paid_cents > invoices.c.total_cents))
        ).scalar()
    assert after - before == tally.total
    assert dict(new_kinds) == tally.counts
    assert overpaid == 0
    announced = [json.loads((await asyncio.wait_for(first, 1))[1])["id"]]
    while len(announced) < tally.total:
        announced.append(json.loads((await asyncio.wait_for(anext(listener), 1))[1])["id"])
    assert sorted(announced) == announced and announced[0] > max_before
    await listener.aclose()
