"""Floors: what the same work costs with nothing of the app around it, measured in the same run, each beside
the app's figure it bounds.

- A trivial Quart route of this app (/healthz: no session, no query) at saturation, beside the sections.
- Each section's own SQL, as the database received it (MariaDB's general log, one request with no cached
  copy), replayed raw through the driver (aiomysql) on one connection, beside the section served one request
  at a time.
- A raw Redis publish-to-receive (redis-py asyncio with hiredis, one process), beside live's commit-to-page.
"""

from __future__ import annotations

import asyncio
import re
import time

import aiomysql
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url

from bench.load import ADVISOR, closed_loop, one_by_one
from bench.report import Figure, percentile
from bench.sections import CLIENTS, NO_CACHE, PROCESSES, SECTIONS

REPEATS = 200


def run(bench) -> list[Figure]:
    cookie = bench.cookies[ADVISOR]
    customer = bench.big.typical
    details = bench.details["floors"] = {}
    with bench.server() as server:
        trivial = closed_loop(
            server.base,
            cookie,
            ["/healthz"],
            clients=CLIENTS,
            processes=PROCESSES,
            warmup=bench.seconds(5),
            seconds=bench.seconds(20),
        )
        sections = {}
        for name in SECTIONS:
            url = f"/customers/{customer}/sections/{name}"
            served = one_by_one(
                server.base, cookie, url, count=60 if bench.quick else REPEATS, headers=NO_CACHE
            )
            statements = asyncio.run(statements_of(bench, server.base, cookie, url, customer))
            raw = asyncio.run(replay(bench.big.url, statements, 60 if bench.quick else REPEATS))
            sections[name] = {
                "served_p50_ms": percentile(served, 50),
                "raw_sql_p50_ms": percentile(raw, 50),
                "statements": statements,
            }
    publish = asyncio.run(redis_round_trips(bench.redis_url, 500 if bench.quick else 2000))
    details.update(
        trivial_route={
            "rate": trivial.rate,
            "errors": trivial.errors,
            "p50_ms": percentile(trivial.latencies_ms, 50),
        },
        sections=sections,
        redis_publish_to_receive={"p50_ms": percentile(publish, 50), "p99_ms": percentile(publish, 99)},
    )

    figures = []
    served_rate = bench.details.get("sections", {}).get("served", {}).get("rate")
    figures.append(
        Figure(
            "Floors",
            "trivial Quart route, 32 clients",
            trivial.rate,
            "req/s",
            note=f"sections as served reach {served_rate / trivial.rate:.0%} of it" if served_rate else "",
        )
    )
    for name, figures_of in sections.items():
        figures.append(
            Figure(
                "Floors",
                f"{name}: its SQL raw (aiomysql)",
                figures_of["raw_sql_p50_ms"],
                "ms",
                note=f"{len(figures_of['statements'])} statements; the section takes "
                f"{figures_of['served_p50_ms'] / figures_of['raw_sql_p50_ms']:.1f}× "
                f"({figures_of['served_p50_ms']:.2f} ms)",
            )
        )
    p50 = details["redis_publish_to_receive"]["p50_ms"]
    figures.append(
        Figure(
            "Floors",
            "Redis publish → receive, p50",
            p50,
            "ms",
            note="the live suite's commit → page figures give their ratio to it",
        )
    )
    figures.append(
        Figure("Floors", "Redis publish → receive, p99", details["redis_publish_to_receive"]["p99_ms"], "ms")
    )
    return figures


async def statements_of(bench, base: str, cookie: str, url: str, customer: int) -> list[str]:
    """The statements one request for `url` sends to MariaDB, read from the general log (the session's own
    lookups included, the pool's pings, rollbacks and connection set-up left out)."""
    async with _connect(bench.big.url) as conn, conn.cursor() as cursor:
        await cursor.execute("SET GLOBAL log_output = 'TABLE'")
        await cursor.execute("TRUNCATE mysql.general_log")
        await cursor.execute("SET GLOBAL general_log = 'ON'")
        try:
            await asyncio.to_thread(one_by_one, base, cookie, url, count=1, warmup=0, headers=NO_CACHE)
        finally:
            await cursor.execute("SET GLOBAL general_log = 'OFF'")
        await cursor.execute(
            "SELECT thread_id, CONVERT(argument USING utf8mb4) FROM mysql.general_log "
            "WHERE command_type IN ('Query', 'Execute') ORDER BY event_time"
        )
        rows = await cursor.fetchall()
    # The request's connections are those that read this customer's rows by their id (the hub's follower and
    # the other worker share the log, and their statements hold other numbers).
    reads_customer = re.compile(rf"id = {customer}\b")
    mine = {thread for thread, text in rows if reads_customer.search(text)}
    # Reads of tables only: a connection the pool opens meanwhile asks the server its version and settings.
    return [
        text
        for thread, text in rows
        if thread in mine
        and text.lstrip().upper().startswith("SELECT")
        and re.search(r"\bFROM\b", text, re.IGNORECASE)
        and "general_log" not in text
    ]


async def replay(url: str, statements: list[str], repeats: int) -> list[float]:
    """Milliseconds to run `statements` one after the other and read their rows, `repeats` times."""
    timings = []
    async with _connect(url) as conn, conn.cursor() as cursor:
        for index in range(repeats + 10):
            began = time.perf_counter()
            for statement in statements:
                await cursor.execute(statement)
                await cursor.fetchall()
            await conn.rollback()
            if index >= 10:
                timings.append((time.perf_counter() - began) * 1000)
    return timings


def _connect(url: str):
    parsed = make_url(url)
    return aiomysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        db=parsed.database,
        charset="utf8mb4",
    )


async def redis_round_trips(url: str, count: int) -> list[float]:
    """Milliseconds from PUBLISH to the subscriber's receipt, one message at a time."""
    publisher = aioredis.from_url(url)
    subscriber = aioredis.from_url(url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe("bench:floor")
    await pubsub.get_message(timeout=1)  # the subscription's confirmation
    timings = []
    try:
        for _ in range(count):
            began = time.perf_counter()
            await publisher.publish("bench:floor", "x")
            while await pubsub.get_message(timeout=1) is None:
                pass
            timings.append((time.perf_counter() - began) * 1000)
    finally:
        await pubsub.aclose()
        await publisher.aclose()
        await subscriber.aclose()
    return timings
