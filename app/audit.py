"""The audit trail: who did what, when, from where — every write, sign-in (and failed attempt), refusal,
export and erasure. Entries never hold a password, a token or what a form contained: the action, its target,
its outcome and where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.pagination import encode_cursor
from app.params import cursor_values
from app.tables import audit_log, users

PAGE_SIZE = 50


# Built once (see app.activity's _INSERT_ACTIVITY).
_INSERT_ENTRY = audit_log.insert()


async def record(
    conn: AsyncConnection,
    action: str,
    *,
    user_id: int | None = None,
    actor_email: str | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    ip_address: str | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        _INSERT_ENTRY,
        {
            "occurred_at": datetime.now(UTC),
            "user_id": user_id,
            "actor_email": actor_email[:254] if actor_email else None,
            "action": action[:40],
            "target_type": target_type,
            "target_id": target_id,
            "ip_address": ip_address[:45] if ip_address else None,
            "request_id": request_id[:64] if request_id else None,
            "details": details,
        },
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    occurred_at: datetime
    user_id: int | None
    user_name: str | None
    actor_email: str | None
    action: str
    target_type: str | None
    target_id: int | None
    ip_address: str | None
    request_id: str | None
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None  # an action, or the start of one ("privacy.")
    user_id: int | None = None
    customer_id: int | None = None
    since: date | None = None  # shop-local days, inclusive
    until: date | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


async def load_audit(conn: AsyncConnection, wanted: AuditFilter, *, cursor: str | None, zone) -> AuditPage:
    """Newest first, PAGE_SIZE at a time."""
    query = (
        select(
            audit_log.c.id,
            audit_log.c.occurred_at,
            audit_log.c.user_id,
            users.c.name,
            audit_log.c.actor_email,
            audit_log.c.action,
            audit_log.c.target_type,
            audit_log.c.target_id,
            audit_log.c.ip_address,
            audit_log.c.request_id,
            audit_log.c.details,
        )
        .outerjoin(users, users.c.id == audit_log.c.user_id)
        .order_by(audit_log.c.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if wanted.action:
        if wanted.action.endswith("."):
            query = query.where(audit_log.c.action.startswith(wanted.action, autoescape=True))
        else:
            query = query.where(audit_log.c.action == wanted.action)
    if wanted.user_id is not None:
        query = query.where(audit_log.c.user_id == wanted.user_id)
    if wanted.customer_id is not None:
        query = query.where(
            audit_log.c.target_type == "customer", audit_log.c.target_id == wanted.customer_id
        )
    if wanted.since is not None:
        start = datetime.combine(wanted.since, time(), zone).astimezone(UTC)
        query = query.where(audit_log.c.occurred_at >= start)
    if wanted.until is not None:
        end = datetime.combine(wanted.until + timedelta(days=1), time(), zone).astimezone(UTC)
        query = query.where(audit_log.c.occurred_at < end)
    if cursor:
        (before,) = cursor_values(cursor, int)
        query = query.where(audit_log.c.id < before)
    rows = (await conn.execute(query)).all()
    entries = [AuditEntry(*row) for row in rows[:PAGE_SIZE]]
    next_cursor = encode_cursor(entries[-1].id) if len(rows) > PAGE_SIZE else None
    return AuditPage(entries, next_cursor)


async def audit_actions(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(audit_log.c.action).distinct().order_by(audit_log.c.action))
    return [row.action for row in rows]
