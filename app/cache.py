"""A cache of the expensive sections (analytics, the revenue chart), exact for each customer.

An entry's key holds the customer's latest event, its id and instant (a database restored or seeded again,
which can give the same ids to other events, does not find the old entries). Every write that changes what
the shop knows about a customer records an entry in the activity log in the same transaction (app.activity),
so a payment, an invoice or a status change makes that customer's next read miss, and only that customer's.
No invalidation to send, none to lose: the key is read from the same database snapshot as the figures, so a
value computed before a write can only be stored under the key of before it. A customer without any event yet
is not cached. The key also holds the shop's date (figures like "days since the last visit" move at
midnight), and entries expire after a day.

Shared through Redis when the app has one (every worker and host reads what one computed); in process with the
in-process broker. A cache that fails is a cache that misses: the section is computed, and the page never sees
the error.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.analytics import (
    Analytics,
    RevenueChart,
    dump_analytics,
    dump_revenue_chart,
    load_analytics,
    load_revenue_chart,
    restore_analytics,
    restore_revenue_chart,
)
from app.live.broker import Broker, RedisBroker
from app.shop_time import shop_today
from app.tables import customer_activities

log = logging.getLogger(__name__)

T = TypeVar("T")
TTL_SECONDS = 24 * 3600
MEMORY_ENTRIES = 10_000


def key(customer_id: int, name: str, event: str, today: date) -> str:
    # The customer's id in braces: a Redis Cluster keeps a customer's entries on one shard.
    return f"c360:{{customer:{customer_id}}}:{name}:{event}:{today.isoformat()}"


async def latest_event(conn: AsyncConnection, customer_id: int) -> str | None:
    """The customer's most recent entry in the log, as "id@instant" (None for none): the end of the
    (customer_id, id) index, then that row by its key."""
    newest = (
        select(func.max(customer_activities.c.id))
        .where(customer_activities.c.customer_id == customer_id)
        .scalar_subquery()
    )
    statement = select(customer_activities.c.id, customer_activities.c.occurred_at).where(
        customer_activities.c.id == newest
    )
    row = (await conn.execute(statement)).one_or_none()
    return None if row is None else f"{row.id}@{row.occurred_at.timestamp():.6f}"


class SectionCache:
    def __init__(self, broker: Broker) -> None:
        # The broker's own Redis client (connected lazily, like the broker); None: in process.
        self.broker = broker if isinstance(broker, RedisBroker) else None
        self.memory: OrderedDict[str, str] = OrderedDict()
        self.hits = self.misses = 0

    async def _get(self, name: str) -> str | None:
        if self.broker is None:
            value = self.memory.get(name)
            if value is not None:
                self.memory.move_to_end(name)
            return value
        value = await self.broker.client.get(name)
        return value.decode() if isinstance(value, bytes) else value

    async def _set(self, name: str, value: str) -> None:
        if self.broker is None:
            self.memory[name] = value
            while len(self.memory) > MEMORY_ENTRIES:
                self.memory.popitem(last=False)
            return
        await self.broker.client.set(name, value, ex=TTL_SECONDS)

    async def fetch(
        self,
        conn: AsyncConnection,
        customer_id: int,
        name: str,
        today: date,
        load: Callable[[], Awaitable[T]],
        dump: Callable[[T], str],
        restore: Callable[[str], T],
    ) -> T:
        """The section's figures: from the cache when the customer has had no event since they were
        computed today, else computed by `load` and kept."""
        event = await latest_event(conn, customer_id)
        if event is None:
            return await load()
        entry = key(customer_id, name, event, today)
        try:
            cached = await self._get(entry)
        except RedisError as exc:
            log.warning("section cache unavailable, computing %s: %s", name, exc)
            return await load()
        if cached is not None:
            self.hits += 1
            return restore(cached)
        self.misses += 1
        value = await load()
        try:
            await self._set(entry, dump(value))
        except RedisError as exc:
            log.warning("section cache unavailable, %s not kept: %s", name, exc)
        return value


async def analytics(cache: SectionCache, conn: AsyncConnection, customer_id: int) -> Analytics:
    today = shop_today()
    return await cache.fetch(
        conn,
        customer_id,
        "analytics",
        today,
        lambda: load_analytics(conn, customer_id, today=today),
        dump_analytics,
        restore_analytics,
    )


async def revenue_chart(
    cache: SectionCache, conn: AsyncConnection, customer_id: int, months: int
) -> RevenueChart:
    today = shop_today()
    return await cache.fetch(
        conn,
        customer_id,
        f"revenue-chart-{months}",
        today,
        lambda: load_revenue_chart(conn, customer_id, months=months, today=today),
        dump_revenue_chart,
        restore_revenue_chart,
    )
