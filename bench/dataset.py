"""The databases the bench reads: seeded once, then reused by every run.

- `c360_bench`: production size, 100,000 customers (about 5 million activity rows; the demo seed's mix
  gives about 380,000 invoices), plus one fleet customer with 50,000 activities for the growth figures.
- `c360_bench_small`: 1,000 customers (about 50 thousand activity rows), the same sections on a small table.

A database is reused when it holds the expected number of customers and its schema is at the head revision;
otherwise it is dropped and seeded again (about 3 minutes for the big one on this machine).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass

from sqlalchemy import func, select, text

from app.config import parse_database_url
from app.db import create_engine
from app.migrations import is_at_head, upgrade
from app.seed import seed
from app.tables import customer_activities, customers, users
from app.tokens import create_token

BUFFER_POOL_BYTES = 4 * 1024**3
HEAVY_ACTIVITIES = 50_000
API_TOKENS = 4  # the live writer spreads its calls over several tokens, like several modules reporting


@dataclass(frozen=True, slots=True)
class Dataset:
    url: str  # mysql://… as DATABASE_URL takes it
    customers: int
    activities: int
    # For the mixes: a deterministic sample of customers.
    sample: tuple[int, ...]
    # The customer with the longest seeded history (the Chromium page), one with about 50 activities, and the
    # fleet customer with 50,000 (big database only).
    long_history: int
    typical: int
    heavy: int | None
    api_tokens: tuple[str, ...]  # of four writing accounts


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def prepare(server_url: str, name: str, size: int, *, heavy: bool) -> Dataset:
    """Seed `name` on the MariaDB server at `server_url` (mysql://user@host:port) unless it is ready."""
    url = f"{server_url.rstrip('/')}/{name}"
    engine = create_engine(parse_database_url(url, None), pool_size=1)
    admin = create_engine(parse_database_url(f"{server_url.rstrip('/')}/mysql", None), pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4"))
        if not await _is_ready(engine, size, heavy):
            say(f"seeding {name} with {size:,} customers (once; later runs reuse it)")
            async with admin.connect() as conn:
                await conn.execute(text(f"DROP DATABASE {name}"))
                await conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            await engine.dispose()
            started = time.perf_counter()
            await upgrade(engine)
            await seed(engine, customers=size, seed=1)
            if heavy:
                await _add_heavy_customer(engine)
            async with engine.begin() as conn:
                for table in ("customer_activities", "invoices", "work_orders", "customers"):
                    await conn.execute(text(f"ANALYZE TABLE {table}"))
            say(f"seeded {name} in {time.perf_counter() - started:.0f} s")
        return await _describe(engine, url, heavy)
    finally:
        await engine.dispose()
        await admin.dispose()


async def _is_ready(engine, size: int, heavy: bool) -> bool:
    if not await is_at_head(engine):
        return False
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(customers))).scalar()
        if count != size:
            return False
        if heavy:
            return await _heaviest(conn) is not None
    return True


async def _heaviest(conn) -> int | None:
    """The fleet customer (the first one), once its history reaches HEAVY_ACTIVITIES."""
    first = (await conn.execute(select(func.min(customers.c.id)))).scalar()
    count = (
        await conn.execute(
            select(func.count())
            .select_from(customer_activities)
            .where(customer_activities.c.customer_id == first)
        )
    ).scalar()
    return first if count >= HEAVY_ACTIVITIES else None


async def _add_heavy_customer(engine) -> None:
    """Give the first customer 50,000 activities, copied from other customers' histories (their facts, the
    fleet's dates), so the timeline, the analytics and the rest read a long log the way they read any."""
    async with engine.begin() as conn:
        heavy = (await conn.execute(select(func.min(customers.c.id)))).scalar()
        await conn.execute(
            text(
                "INSERT INTO customer_activities (customer_id, kind, actor_id, actor_label, occurred_at, "
                "summary, details, pinned) "
                "SELECT :heavy, kind, actor_id, actor_label, occurred_at, summary, details, 0 "
                "FROM customer_activities WHERE customer_id > :heavy AND kind NOT IN ('note') "
                "ORDER BY id LIMIT :count"
            ),
            {"heavy": heavy, "count": HEAVY_ACTIVITIES},
        )
    say(f"customer {heavy} now has {HEAVY_ACTIVITIES:,} more activities")


async def _describe(engine, url: str, heavy: bool) -> Dataset:
    async with engine.begin() as conn:
        total = (await conn.execute(select(func.count()).select_from(customers))).scalar()
        activities = (
            await conn.execute(
                text(
                    "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                    "DATABASE() AND TABLE_NAME = 'customer_activities'"
                )
            )
        ).scalar()
        ids = (await conn.execute(select(customers.c.id).order_by(customers.c.id))).scalars().all()
        heavy_id = await _heaviest(conn) if heavy else None
        sample = tuple(random.Random(7).sample([i for i in ids if i != heavy_id], min(2000, len(ids))))
        counts = {
            row.customer_id: row.count
            for row in await conn.execute(
                select(customer_activities.c.customer_id, func.count().label("count"))
                .where(customer_activities.c.customer_id.in_(sample))
                .group_by(customer_activities.c.customer_id)
            )
        }
        long_history = max(counts, key=counts.get)
        typical = min(counts, key=lambda customer: (abs(counts[customer] - 50), customer))
        # One token per writing account: the API's rate limit counts per account.
        writers = (
            (
                await conn.execute(
                    select(users.c.email).where(users.c.role.in_(("advisor", "admin"))).order_by(users.c.id)
                )
            )
            .scalars()
            .all()[:API_TOKENS]
        )
        tokens = tuple(
            [await create_token(conn, email=email, name=f"bench-{time.time_ns()}") for email in writers]
        )
    return Dataset(url, total, activities, sample, long_history, typical, heavy_id, tokens)


async def set_buffer_pool(server_url: str) -> int:
    """MariaDB's default 128 MiB buffer pool triples a keyset page at 5M rows: the bench sizes it for the
    data (4 GiB; the server resizes it online). Returns the size in effect."""
    admin = create_engine(parse_database_url(f"{server_url.rstrip('/')}/mysql", None), pool_size=1)
    try:
        async with admin.connect() as conn:
            size = (await conn.execute(text("SELECT @@innodb_buffer_pool_size"))).scalar()
            if size < BUFFER_POOL_BYTES:
                await conn.execute(text(f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL_BYTES}"))
                for _ in range(60):
                    size = (await conn.execute(text("SELECT @@innodb_buffer_pool_size"))).scalar()
                    if size >= BUFFER_POOL_BYTES:
                        break
                    await asyncio.sleep(0.5)
            return size
    finally:
        await admin.dispose()
