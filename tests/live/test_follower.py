"""The log follower: entries released once each, in id order, even when transactions commit out of order."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.db import create_engine
from app.live.follower import LogEntry, LogFollower
from tests.conftest import empty_tables
from tests.factories import add_customer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def add(conn, customer_id, summary):
    return await record_activity(conn, customer_id=customer_id, kind="note", summary=summary)


async def a_customer(engine) -> int:
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
        # The log is not empty when a follower starts: it starts after its newest entry.
        await add(conn, customer_id, "before the follower started")
    return customer_id


@pytest.fixture
async def customer(engine):
    return await a_customer(engine)


@pytest.fixture
async def mysql_engine(mysql_url):
    """Only MariaDB has concurrent writers whose commits can cross (SQLite has one writer at a time)."""
    engine = create_engine(mysql_url)
    await empty_tables(engine)
    try:
        yield engine
    finally:
        await empty_tables(engine)
        await engine.dispose()


@dataclass
class Crossing:
    follower: LogFollower
    clock: Clock
    slow: AsyncConnection
    first: LogEntry
    second: LogEntry


async def clocked_follower(engine) -> tuple[LogFollower, Clock]:
    """A follower from the log's end, with a clock of its own that the test moves."""
    clock = Clock()
    async with engine.connect() as conn:
        return await LogFollower.from_end(conn, clock=clock), clock


@asynccontextmanager
async def commits_crossing(engine):
    """A follower (with a clock of its own), then two entries of one customer: `first` in a transaction left
    open (`slow`, committed by the caller), `second` after it in one committed at once."""
    customer = await a_customer(engine)
    follower, clock = await clocked_follower(engine)
    async with engine.connect() as slow:
        await slow.begin()
        first = await add(slow, customer, "slow transaction")
        async with engine.begin() as conn:
            second = await add(conn, customer, "fast transaction")
        assert second > first
        yield Crossing(follower, clock, slow, LogEntry(first, customer), LogEntry(second, customer))


async def poll(engine, follower):
    async with engine.connect() as conn:
        return [entry.id for entry in await follower.poll(conn)]


async def test_new_entries_are_released_once_in_order(engine, customer):
    async with engine.connect() as conn:
        follower = await LogFollower.from_end(conn)
    assert await poll(engine, follower) == []
    async with engine.begin() as conn:
        ids = [await add(conn, customer, f"n{i}") for i in range(3)]
    assert await poll(engine, follower) == ids
    assert await poll(engine, follower) == []
    assert follower.watermark == ids[-1]


@pytest.mark.mysql
async def test_an_entry_committed_after_a_later_one_is_not_skipped(mysql_engine):
    engine = mysql_engine
    async with commits_crossing(engine) as crossing:
        follower, first, second = crossing.follower, crossing.first.id, crossing.second.id
        # 'second' is visible, 'first' is not yet: 'second' is held back, the cursor does not pass 'first'.
        held = await poll(engine, follower)
        watermark = follower.watermark
        await crossing.slow.commit()
    assert held == []
    assert watermark == first - 1
    assert await poll(engine, follower) == [first, second]


@pytest.mark.mysql
async def test_a_rolled_back_id_is_given_up_after_the_hold_time(mysql_engine):
    engine = mysql_engine
    customer = await a_customer(engine)
    follower, clock = await clocked_follower(engine)
    async with engine.connect() as doomed:
        await doomed.begin()
        await add(doomed, customer, "never committed")
        await doomed.rollback()
    async with engine.begin() as conn:
        kept = await add(conn, customer, "committed")
    assert await poll(engine, follower) == []
    clock.now += follower.hold_seconds + 0.1
    assert await poll(engine, follower) == [kept]
    assert follower.watermark == kept


async def test_an_announced_entry_next_in_order_is_released_without_a_read(engine, customer):
    async with engine.connect() as conn:
        follower = await LogFollower.from_end(conn)
    async with engine.begin() as conn:
        first, second = await add(conn, customer, "first"), await add(conn, customer, "second")
    # The follower cannot read here (it has no connection): the announcement alone releases the entry.
    assert follower.announced(LogEntry(first, customer)) == [LogEntry(first, customer)]
    assert follower.watermark == first
    assert follower.announced(LogEntry(first, customer)) == []  # announced twice: released once
    # `second` was never announced: the log has it, and gives it once.
    assert await poll(engine, follower) == [second]
    assert follower.announced(LogEntry(second, customer)) == []
    assert await poll(engine, follower) == []


async def test_an_announcement_past_a_missing_id_is_left_to_the_log(engine, customer):
    async with engine.connect() as conn:
        follower = await LogFollower.from_end(conn)
    async with engine.begin() as conn:
        first, second = await add(conn, customer, "first"), await add(conn, customer, "second")
    # `first`'s announcement was lost: releasing `second` now would skip it.
    assert follower.announced(LogEntry(second, customer)) is None
    assert follower.watermark == first - 1
    assert await poll(engine, follower) == [first, second]


@pytest.mark.mysql
async def test_an_announcement_is_not_released_before_an_id_the_log_holds_back(mysql_engine):
    engine = mysql_engine
    async with commits_crossing(engine) as crossing:
        follower, first, second = crossing.follower, crossing.first, crossing.second
        assert await poll(engine, follower) == []  # `second` read, held back behind `first`
        await crossing.slow.commit()
    # `first` is the next id, but `second` waits behind it in the follower: the read releases both, in order.
    assert follower.announced(first) is None
    assert await poll(engine, follower) == [first.id, second.id]


@pytest.mark.mysql
async def test_an_announced_id_given_up_on_is_released_late_by_the_log(mysql_engine):
    engine = mysql_engine
    async with commits_crossing(engine) as crossing:  # `first`'s transaction outlasts the hold time
        follower, first, second = crossing.follower, crossing.first, crossing.second
        assert await poll(engine, follower) == []
        crossing.clock.now += follower.hold_seconds + 0.1
        assert await poll(engine, follower) == [second.id]  # `first` given up on, still watched
        await crossing.slow.commit()
    assert follower.announced(first) is None
    assert await poll(engine, follower) == [first.id]
    assert await poll(engine, follower) == []
