"""Follows the event log (customer_activities) in id order, without losing entries committed out of order.

Ids come from AUTO_INCREMENT when a row is inserted, not when its transaction commits: with concurrent
writers, id 41 can become visible after id 42. A reader that moved its cursor past 41 on seeing 42 would
never see 41. So the follower remembers the ids it jumped over ("gaps") and holds back later entries
until each gap is filled or has stayed empty for `hold_seconds` (a rolled-back insert leaves a permanent
hole). Entries are therefore released strictly in id order; an id that is given up on is still watched
for `watch_seconds` and released late, out of order, if it ever appears.

An entry the broker announced was committed before the announcement: when it is the very next id and nothing
read is held back, it is released without reading the log (`announced`), which is how nearly every event
arrives. Anything else (a gap before it, a late id) is left to `poll`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tables import customer_activities

BATCH = 500
# Above this many missing ids in one jump, the jump is an AUTO_INCREMENT leap (e.g. after a bulk insert or
# a server restart with innodb_autoinc_lock_mode=2), not in-flight transactions.
MAX_GAP = 1000


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    customer_id: int
    # The request that recorded it (app.logs), for the lines logged while it is fanned out.
    request_id: str | None = None


class LogFollower:
    def __init__(
        self,
        after: int,
        *,
        hold_seconds: float = 3.0,
        watch_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Every id <= released has been released or given up on.
        self.released = after
        # Ids > released read from the log but held back behind a gap.
        self._held: dict[int, LogEntry] = {}
        # Highest id read so far.
        self._read = after
        # Missing ids (> released) and when they were first missed.
        self._gaps: dict[int, float] = {}
        # Given-up ids still watched for a late commit, and until when.
        self._late: dict[int, float] = {}
        self.hold_seconds = hold_seconds
        self.watch_seconds = watch_seconds
        self.clock = clock

    @classmethod
    async def from_end(cls, conn: AsyncConnection, **options) -> LogFollower:
        """A follower that starts after the newest entry in the log."""
        last = (await conn.execute(select(func.max(customer_activities.c.id)))).scalar() or 0
        if conn.dialect.name == "mysql":
            # Ids below the AUTO_INCREMENT counter were handed out before we started, even those whose rows
            # are gone since (deleted, rolled back): none is worth waiting for.
            counter = (
                await conn.execute(
                    text(
                        "SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customer_activities'"
                    )
                )
            ).scalar()
            last = max(last, (counter or 1) - 1)
        return cls(last, **options)

    @property
    def watermark(self) -> int:
        """Every entry with an id up to here has been released (or given up on): a page that has shown
        everything released so far can resume from this id."""
        return self.released

    def announced(self, entry: LogEntry) -> list[LogEntry] | None:
        """An entry the broker announced (hence committed): [entry] when it is released at once, being the
        next id with nothing read beyond it; [] when it was released already; None when the log must be
        read first (an id before it is missing, or it was given up on and is watched late)."""
        if entry.id <= self.released:
            return None if entry.id in self._late else []
        if entry.id == self.released + 1 and self._read == self.released:
            self.released = self._read = entry.id
            return [entry]
        return None

    async def poll(self, conn: AsyncConnection) -> list[LogEntry]:
        """Read what is new in the log; return the entries that may now be released, in order."""
        now = self.clock()
        found: list[LogEntry] = []
        watched = sorted(self._gaps.keys() | self._late.keys())
        if watched:
            found += await _read_entries(conn, customer_activities.c.id.in_(watched))
        while True:
            batch = await _read_entries(conn, customer_activities.c.id > self._read, limit=BATCH)
            found += batch
            if batch:
                self._note_read(batch, now)
            if len(batch) < BATCH:
                break

        released: list[LogEntry] = []
        for entry in found:
            if entry.id in self._late:
                del self._late[entry.id]
                released.append(entry)  # late, out of order: better than never
            elif entry.id > self.released:
                self._gaps.pop(entry.id, None)
                self._held[entry.id] = entry
        released += self._release(now)
        for id_, until in list(self._late.items()):
            if until < now:
                del self._late[id_]
        return released

    def _note_read(self, batch: list[LogEntry], now: float) -> None:
        expected = self._read + 1
        for entry in batch:
            if entry.id - expected <= MAX_GAP:
                for missing in range(expected, entry.id):
                    self._gaps.setdefault(missing, now)
            expected = entry.id + 1
        self._read = max(self._read, batch[-1].id)

    def _release(self, now: float) -> list[LogEntry]:
        released = []
        while self.released < self._read:
            next_id = self.released + 1
            if next_id in self._held:
                released.append(self._held.pop(next_id))
            elif next_id in self._gaps:
                if now - self._gaps[next_id] < self.hold_seconds:
                    break
                del self._gaps[next_id]
                self._late[next_id] = now + self.watch_seconds
            # else: an id skipped by an AUTO_INCREMENT leap (never a gap): nothing to wait for
            self.released = next_id
        return released


async def _read_entries(conn: AsyncConnection, condition, limit: int | None = None) -> list[LogEntry]:
    """The log's entries that meet `condition`, in id order."""
    log = customer_activities.c
    statement = select(log.id, log.customer_id, log.request_id).where(condition).order_by(log.id)
    if limit is not None:
        statement = statement.limit(limit)
    return [LogEntry(*row) for row in await conn.execute(statement)]
