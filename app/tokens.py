"""API tokens: how other ChronoTech modules (billing, the workshop) call the JSON API without a browser.

A token acts as a staff account: that account's role decides what it may do, its entries are signed with the
token's name, and disabling the account stops the token. Only a SHA-256 of the token is stored; the token
itself is shown once, when it is made. Requests send it as `Authorization: Bearer c360_…`; they carry no
cookie, so no CSRF token either.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import email_key
from app.tables import api_tokens, users
from app.users import COLUMNS, User, UserError

PREFIX = "c360_"
MAX_NAME_LENGTH = 60


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    email: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(conn: AsyncConnection, *, email: str, name: str) -> str:
    """Make a token acting as the account with this address; returns the token (not stored anywhere)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise UserError(f"the token's name must have 1 to {MAX_NAME_LENGTH} characters")
    user_id = (
        await conn.execute(select(users.c.id).where(users.c.email == email_key(email)))
    ).scalar_one_or_none()
    if user_id is None:
        raise UserError(f"there is no user with the address {email_key(email)}")
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        await conn.execute(
            api_tokens.insert().values(
                name=name, user_id=user_id, token_hash=token_hash(token), created_at=datetime.now(UTC)
            )
        )
    except IntegrityError:
        raise UserError(f"a token named {name!r} already exists") from None
    return token


async def revoke_token(conn: AsyncConnection, name: str) -> bool:
    """Revoke the token with this name; False if there is no such live token."""
    result = await conn.execute(
        update(api_tokens)
        .where(api_tokens.c.name == name.strip(), api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return result.rowcount == 1


async def list_tokens(conn: AsyncConnection) -> list[TokenInfo]:
    rows = await conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            users.c.email,
            users.c.role,
            api_tokens.c.created_at,
            api_tokens.c.revoked_at,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .order_by(api_tokens.c.name)
    )
    return [TokenInfo(*row) for row in rows]


# Built once (see app.activity's _INSERT_ACTIVITY): read for every API request.
_ACCOUNT_OF_TOKEN = (
    select(*COLUMNS, api_tokens.c.name)
    .join(api_tokens, api_tokens.c.user_id == users.c.id)
    .where(api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked_at.is_(None))
)


async def user_for_token(conn: AsyncConnection, token: str) -> tuple[User, str] | None:
    """The active account a live token acts as, and the token's name; None for anything else."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = (await conn.execute(_ACCOUNT_OF_TOKEN, {"token_hash": token_hash(token)})).one_or_none()
    if row is None or not row.is_active:
        return None
    return User(*row[:-1]), row[-1]
