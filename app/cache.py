"""A cache of the sections, exact for each customer: the figures of the expensive ones (analytics, the revenue
chart), and every section's rendered HTML.

An entry's key holds the customer's latest event, its id and instant (a database restored or seeded again,
which can give the same ids to other events, does not find the old entries). Every write that changes what
the shop knows about a customer records an entry in the activity log in the same transaction (app.activity),
so a payment, an invoice or a status change makes that customer's next read miss, and only that customer's.
No invalidation to send, none to lose: the figures' key is read in the same database snapshot as the
figures, and a rendered section's key just before the snapshot its section reads (so that a section held
here is served without a transaction), so a value computed before a write can only be stored under the key
of before it, and what is stored under a key is never older than its event. A customer without any event yet
is not cached. The key also holds the shop's date (figures like "days since the last visit" move at
midnight), and entries expire after a day.

Rendered sections are kept for minutes, not a day: they pay where the same customer's sections are read again
and again (a refresh asked of every open page by an event, advisors coming back to a customer), and Redis need
not hold every section of every customer read that day. Their key also holds what the HTML depends on besides
the customer (the section's parameters, the reader's role and language) and the release of the code and
templates that rendered it, so a deploy never serves the previous version's markup.

Shared through Redis when the app has one (every worker and host reads what one computed); in process with the
in-process broker. A cache that fails is a cache that misses: the section is computed, and the page never sees
the error.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TypeVar

from redis.exceptions import RedisError
from sqlalchemy import bindparam, func, select
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
from app.customers import MAX_ID
from app.live.broker import Broker, RedisBroker
from app.metrics import CACHE_LOOKUPS
from app.shop_time import shop_today
from app.tables import customer_activities, customers

log = logging.getLogger(__name__)

T = TypeVar("T")
TTL_SECONDS = 24 * 3600
FRAGMENT_TTL_SECONDS = 300
# In process: bounded by size, the rendered sections being 1 to 25 KiB each.
MEMORY_BYTES = 64 * 1024 * 1024


def key(customer_id: int, name: str, event: str, today: date) -> str:
    # The customer's id in braces: a Redis Cluster keeps a customer's entries on one shard.
    return f"c360:{{customer:{customer_id}}}:{name}:{event}:{today.isoformat()}"


# Set while a reader asked for no cached copy (a hard reload): everything is computed again, then kept.
_computing_afresh: ContextVar[bool] = ContextVar("computing_afresh", default=False)


@contextmanager
def afresh() -> Iterator[None]:
    """Within: the cache is written, not read."""
    token = _computing_afresh.set(True)
    try:
        yield
    finally:
        _computing_afresh.reset(token)


@cache
def release() -> str:
    """A fingerprint of the code and templates that render the sections (and of their translations)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(
        [*root.rglob("*.py"), *root.rglob("*.po"), *(root.parent / "templates").rglob("*.html")]
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()


# Built once, as every section request runs one of them (see app.activity's _INSERT_ACTIVITY). The newest
# event of a customer: the end of their (customer_id, id) index.
_NEWEST_EVENT_ID = (
    select(func.max(customer_activities.c.id))
    .where(customer_activities.c.customer_id == bindparam("customer_id"))
    .scalar_subquery()
)
_LATEST_EVENT = select(customer_activities.c.id, customer_activities.c.occurred_at).where(
    customer_activities.c.id == _NEWEST_EVENT_ID
)
# The customer by its key, joined to that event.
_CUSTOMER_AND_LATEST_EVENT = (
    select(customers.c.id, customer_activities.c.id.label("event_id"), customer_activities.c.occurred_at)
    .select_from(customers.outerjoin(customer_activities, customer_activities.c.id == _NEWEST_EVENT_ID))
    .where(customers.c.id == bindparam("customer_id"))
)


def _event_key(event_id: int, occurred_at: datetime) -> str:
    return f"{event_id}@{occurred_at.timestamp():.6f}"


async def latest_event(conn: AsyncConnection, customer_id: int) -> str | None:
    """The customer's most recent entry in the log, as "id@instant" (None for none): the end of the
    (customer_id, id) index, then that row by its key."""
    row = (await conn.execute(_LATEST_EVENT, {"customer_id": customer_id})).one_or_none()
    return None if row is None else _event_key(row.id, row.occurred_at)


async def customer_and_latest_event(conn: AsyncConnection, customer_id: int) -> tuple[bool, str | None]:
    """Whether the customer exists, and their latest event (as latest_event gives it), in one round trip."""
    if not 0 < customer_id <= MAX_ID:  # a URL can carry any number; the database driver cannot
        return False, None
    row = (await conn.execute(_CUSTOMER_AND_LATEST_EVENT, {"customer_id": customer_id})).one_or_none()
    if row is None:
        return False, None
    if row.event_id is None:
        return True, None
    return True, _event_key(row.event_id, row.occurred_at)


class SectionCache:
    def __init__(self, broker: Broker) -> None:
        # The broker's own Redis client (connected lazily, like the broker); None: in process.
        self.broker = broker if isinstance(broker, RedisBroker) else None
        self.memory: OrderedDict[str, str] = OrderedDict()
        self.memory_bytes = 0
        # Hits and misses by layer: "figures" (analytics, chart) and "html" (rendered sections).
        self.counts: Counter[tuple[str, str]] = Counter()

    def count(self, layer: str, result: str) -> None:
        self.counts[layer, result] += 1
        CACHE_LOOKUPS.labels(layer, result).inc()

    @property
    def hits(self) -> int:
        return self.counts["figures", "hit"]

    @property
    def misses(self) -> int:
        return self.counts["figures", "miss"]

    async def _get(self, name: str) -> str | None:
        if self.broker is None:
            value = self.memory.get(name)
            if value is not None:
                self.memory.move_to_end(name)
            return value
        value = await self.broker.client.get(name)
        return value.decode() if isinstance(value, bytes) else value

    async def _set(self, name: str, value: str, ttl: int = TTL_SECONDS) -> None:
        if self.broker is None:
            previous = self.memory.pop(name, None)
            self.memory_bytes += len(value) - len(previous or "")
            self.memory[name] = value
            while self.memory_bytes > MEMORY_BYTES:
                self.memory_bytes -= len(self.memory.popitem(last=False)[1])
            return
        await self.broker.client.set(name, value, ex=ttl)

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
            cached = None if _computing_afresh.get() else await self._get(entry)
        except RedisError as exc:
            log.warning("section cache unavailable, computing %s: %s", name, exc)
            return await load()
        if cached is not None:
            self.count("figures", "hit")
            return restore(cached)
        self.count("figures", "miss")
        value = await load()
        try:
            await self._set(entry, dump(value))
        except RedisError as exc:
            log.warning("section cache unavailable, %s not kept: %s", name, exc)
        return value

    async def fragment(
        self,
        customer_id: int,
        event: str | None,
        variant: str,
        render: Callable[[], Awaitable[str]],
    ) -> str:
        """A section's HTML: as rendered for the same `variant` (section, parameters, role, language) since
        the customer's latest `event` (read in the snapshot `render` reads), else rendered and kept."""
        if event is None:
            return await render()
        entry = f"{key(customer_id, 'html', event, shop_today())}:{release()}:{variant}"
        if not _computing_afresh.get():
            try:
                cached = await self._get(entry)
            except RedisError as exc:
                log.warning("section cache unavailable, rendering %s: %s", variant, exc)
                return await render()
            if cached is not None:
                self.count("html", "hit")
                return cached
        self.count("html", "miss")
        html = await render()
        try:
            await self._set(entry, html, FRAGMENT_TTL_SECONDS)
        except RedisError as exc:
            log.warning("section cache unavailable, %s not kept: %s", variant, exc)
        return html


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
