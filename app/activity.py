"""The activity timeline, which is also the event log: every write other pages must see records one entry
here, in the same transaction as the change itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app import logs
from app.i18n import gettext
from app.pagination import encode_cursor
from app.params import cursor_instant, cursor_values
from app.tables import ACTIVITY_KINDS, customer_activities, customers, users

PAGE_SIZE = 25
MAX_PINNED = 10
NOTE_MAX_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Activity:
    id: int
    customer_id: int
    kind: str
    actor: str | None  # the staff member's name; else who it was, as a label (app.web.summaries.actor)
    actor_label: str | None
    occurred_at: datetime
    summary: str
    details: dict[str, Any] | None
    ref_type: str | None
    ref_id: int | None
    pinned: bool
    # The customer's language, which their own words (notes, subjects, descriptions) are written in.
    language: str


@dataclass(frozen=True, slots=True)
class ActivityPage:
    entries: list[Activity]
    pinned: list[Activity]
    kind: str | None
    # Opaque: where the next page starts; the HTML link and the JSON API hand it back as `cursor`.
    next_cursor: str | None


_SELECT = (
    select(
        customer_activities.c.id,
        customer_activities.c.customer_id,
        customer_activities.c.kind,
        users.c.name,
        customer_activities.c.actor_label,
        customer_activities.c.occurred_at,
        customer_activities.c.summary,
        customer_activities.c.details,
        customer_activities.c.ref_type,
        customer_activities.c.ref_id,
        customer_activities.c.pinned,
        customers.c.language,
    )
    .select_from(customer_activities)
    .join(customers, customers.c.id == customer_activities.c.customer_id)
    .outerjoin(users, users.c.id == customer_activities.c.actor_id)
)


def _activity(row) -> Activity:
    return Activity(
        id=row.id,
        customer_id=row.customer_id,
        kind=row.kind,
        actor=row.name,
        actor_label=row.actor_label,
        occurred_at=row.occurred_at,
        summary=row.summary,
        details=row.details,
        ref_type=row.ref_type,
        ref_id=row.ref_id,
        pinned=bool(row.pinned),
        language=row.language,
    )


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    occurred_at, last_id = cursor_values(cursor, str, int)
    return cursor_instant(occurred_at), last_id


async def load_activity(
    conn: AsyncConnection,
    customer_id: int,
    *,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> ActivityPage:
    """A page of the timeline, newest first; pinned notes come with the first page."""
    statement = _SELECT.where(customer_activities.c.customer_id == customer_id)
    if kind is not None:
        statement = statement.where(customer_activities.c.kind == kind)
    if cursor is not None:
        occurred_at, last_id = _parse_cursor(cursor)
        statement = statement.where(
            or_(
                customer_activities.c.occurred_at < occurred_at,
                and_(customer_activities.c.occurred_at == occurred_at, customer_activities.c.id < last_id),
            )
        )
    statement = statement.order_by(
        customer_activities.c.occurred_at.desc(), customer_activities.c.id.desc()
    ).limit(limit + 1)
    entries = [_activity(row) for row in await conn.execute(statement)]
    pinned: list[Activity] = []
    if cursor is None and kind in (None, "note"):
        pinned = await load_pinned(conn, customer_id)
    next_cursor = None
    if len(entries) > limit:
        last = entries[limit - 1]
        next_cursor = encode_cursor(last.occurred_at.isoformat(), last.id)
    return ActivityPage(entries[:limit], pinned, kind, next_cursor)


async def load_pinned(conn: AsyncConnection, customer_id: int) -> list[Activity]:
    statement = (
        _SELECT.where(
            customer_activities.c.customer_id == customer_id, customer_activities.c.pinned == true()
        )
        .order_by(customer_activities.c.occurred_at.desc(), customer_activities.c.id.desc())
        .limit(MAX_PINNED)
    )
    return [_activity(row) for row in await conn.execute(statement)]


async def get_activity(conn: AsyncConnection, activity_id: int) -> Activity | None:
    row = (await conn.execute(_SELECT.where(customer_activities.c.id == activity_id))).one_or_none()
    return _activity(row) if row else None


async def load_activities(conn: AsyncConnection, activity_ids: list[int]) -> list[Activity]:
    if not activity_ids:
        return []
    statement = _SELECT.where(customer_activities.c.id.in_(activity_ids)).order_by(customer_activities.c.id)
    return [_activity(row) for row in await conn.execute(statement)]


# Built once, with the row's values sent as parameters: SQLAlchemy keeps a statement's cache key on it, where
# `insert().values(...)` built per call was coerced and walked again for each event written.
_INSERT_ACTIVITY = customer_activities.insert()


async def record_activity(
    conn: AsyncConnection,
    *,
    customer_id: int,
    kind: str,
    summary: str,
    actor_id: int | None = None,
    actor_label: str | None = None,
    details: dict[str, Any] | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    pinned: bool = False,
    occurred_at: datetime | None = None,
) -> int:
    """Append an entry to the log inside the caller's transaction; returns its id (the event id)."""
    if kind not in ACTIVITY_KINDS:
        raise ValueError(f"unknown activity kind {kind!r}")
    result = await conn.execute(
        _INSERT_ACTIVITY,
        {
            "customer_id": customer_id,
            "kind": kind,
            "actor_id": actor_id,
            "actor_label": actor_label,
            "occurred_at": occurred_at or datetime.now(UTC),
            "summary": summary[:500],
            "details": details,
            "ref_type": ref_type,
            "ref_id": ref_id,
            "pinned": pinned,
            "request_id": logs.request_id(),
        },
    )
    return result.inserted_primary_key[0]


class NoteError(ValueError):
    """The note cannot be saved; the message says why."""


async def add_note(conn: AsyncConnection, customer_id: int, *, text: str, pinned: bool, actor_id: int) -> int:
    text = text.strip()
    if not text:
        raise NoteError(gettext("Write something first: the note is empty."))
    if len(text) > NOTE_MAX_LENGTH:
        raise NoteError(
            gettext(
                "A note is limited to %(limit)d characters; this one has %(length)d.",
                limit=NOTE_MAX_LENGTH,
                length=len(text),
            )
        )
    summary = text if len(text) <= 500 else text[:497] + "…"
    return await record_activity(
        conn,
        customer_id=customer_id,
        kind="note",
        summary=summary,
        actor_id=actor_id,
        details={"text": text} if len(text) > 500 else None,
        pinned=pinned,
    )


async def set_pinned(conn: AsyncConnection, customer_id: int, activity_id: int, pinned: bool) -> bool:
    """Pin or unpin a note of this customer; False when there is no such note."""
    result = await conn.execute(
        customer_activities.update()
        .where(
            customer_activities.c.id == activity_id,
            customer_activities.c.customer_id == customer_id,
            customer_activities.c.kind == "note",
        )
        .values(pinned=pinned)
    )
    return result.rowcount == 1


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """An entry of the whole shop's activity, as the operations stream shows it."""

    id: int
    customer_id: int
    customer_name: str
    kind: str
    actor: str | None
    actor_label: str | None
    actor_id: int | None
    occurred_at: datetime
    summary: str
    details: dict[str, Any] | None
    language: str


def _stream_select():
    return (
        select(
            customer_activities.c.id,
            customer_activities.c.customer_id,
            customers.c.first_name,
            customers.c.last_name,
            customer_activities.c.kind,
            users.c.name,
            customer_activities.c.actor_label,
            customer_activities.c.actor_id,
            customer_activities.c.occurred_at,
            customer_activities.c.summary,
            customer_activities.c.details,
            customers.c.language,
        )
        .select_from(customer_activities)
        .join(customers, customers.c.id == customer_activities.c.customer_id)
        .outerjoin(users, users.c.id == customer_activities.c.actor_id)
    )


def _stream_entry(row) -> StreamEntry:
    return StreamEntry(
        id=row.id,
        customer_id=row.customer_id,
        customer_name=f"{row.first_name} {row.last_name}",
        kind=row.kind,
        actor=row.name,
        actor_label=row.actor_label,
        actor_id=row.actor_id,
        occurred_at=row.occurred_at,
        summary=row.summary,
        details=row.details,
        language=row.language,
    )


async def load_stream(conn: AsyncConnection, *, limit: int = 50) -> list[StreamEntry]:
    """The most recent entries of the whole shop, newest first (index on occurred_at)."""
    statement = (
        _stream_select()
        .order_by(customer_activities.c.occurred_at.desc(), customer_activities.c.id.desc())
        .limit(limit)
    )
    return [_stream_entry(row) for row in await conn.execute(statement)]


@dataclass(frozen=True, slots=True)
class LiveEntry:
    """An entry of the log as live pages push it: a row of the customer's timeline, a row of the stream."""

    activity: Activity
    stream: StreamEntry


def _live_select():
    return _stream_select().add_columns(
        customer_activities.c.ref_type, customer_activities.c.ref_id, customer_activities.c.pinned
    )


async def load_live_entries(conn: AsyncConnection, condition, *, limit: int | None = None) -> list[LiveEntry]:
    """The log's entries that meet `condition`, in id order, each read once for both kinds of page."""
    statement = _live_select().where(condition).order_by(customer_activities.c.id)
    if limit is not None:
        statement = statement.limit(limit)
    return _live_entries(await conn.execute(statement))


# Built once (see _INSERT_ACTIVITY): every process reads every event with it. A statement with the ids
# written into it (`id.in_(ids)`) was built per read, and left its bind parameters in reference cycles,
# ten objects a read for the garbage collector.
_LIVE_ENTRIES_BY_ID = (
    _live_select()
    .where(customer_activities.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(customer_activities.c.id)
)


async def load_live_entries_by_id(conn: AsyncConnection, ids: list[int]) -> list[LiveEntry]:
    """The log's entries with these ids (those that still exist), in id order."""
    return _live_entries(await conn.execute(_LIVE_ENTRIES_BY_ID, {"ids": ids}))


def _live_entries(rows) -> list[LiveEntry]:
    return [LiveEntry(_activity(row), _stream_entry(row)) for row in rows]
