"""Staff accounts: argon2 password hashes, roles, and the lookups sign-in needs.

Every write to an account's row is here. Signed-in users are cached per process (app.sessions): after the
commit of a write, the caller tells the hub (`await hub.user_changed(user_id)`), which forgets the account in
every process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.i18n import gettext
from app.keys import email_key
from app.tables import LANGUAGES, ROLES, users

_hasher = PasswordHasher()
# Verified against when the address is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password anyone has")
MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role: str
    language: str
    is_active: bool
    session_version: int


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.role,
    users.c.language,
    users.c.is_active,
    users.c.session_version,
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password off the event loop (argon2 is deliberately slow)."""
    return await asyncio.to_thread(_verify, password_hash or _DUMMY_HASH, password, password_hash is not None)


def _verify(password_hash: str, password: str, known: bool) -> bool:
    try:
        return _hasher.verify(password_hash, password) and known
    except (VerificationError, InvalidHashError):
        return False


async def create_user(
    conn: AsyncConnection,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    password_hash: str | None = None,
    language: str = "fr",
) -> User:
    email = email_key(email)
    if "@" not in email or len(email) > 254:
        raise UserError(gettext("%(email)s is not an email address", email=repr(email)))
    if role not in ROLES:
        raise UserError(_role_problem(role))
    if language not in LANGUAGES:
        raise UserError(
            gettext(
                "language must be one of %(languages)s, not %(language)s",
                languages=", ".join(LANGUAGES),
                language=repr(language),
            )
        )
    if password_hash is None:
        if password is None or len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(
                gettext("the password must have at least %(count)d characters", count=MIN_PASSWORD_LENGTH)
            )
        password_hash = await asyncio.to_thread(hash_password, password)
    try:
        result = await conn.execute(
            users.insert().values(
                email=email,
                name=name.strip() or email,
                role=role,
                language=language,
                password_hash=password_hash,
                created_at=datetime.now(UTC),
            )
        )
    except IntegrityError:
        raise UserError(gettext("a user with the address %(email)s already exists", email=email)) from None
    return User(result.inserted_primary_key[0], email, name, role, language, True, 1)


def _role_problem(role: str) -> str:
    # Messages of the admin page in the user's language; the command line (no app) reads English.
    return gettext("role must be one of %(roles)s, not %(role)s", roles=", ".join(ROLES), role=repr(role))


async def get_user(conn: AsyncConnection, user_id: int) -> User | None:
    row = (await conn.execute(select(*COLUMNS).where(users.c.id == user_id))).one_or_none()
    return User(*row) if row else None


async def active_staff(conn: AsyncConnection) -> list[tuple[int, str]]:
    """(id, name) of every active account, by name: who may appear as the author of an entry."""
    rows = await conn.execute(
        select(users.c.id, users.c.name).where(users.c.is_active == true()).order_by(users.c.name, users.c.id)
    )
    return [tuple(row) for row in rows]


async def get_user_for_sign_in(conn: AsyncConnection, email: str) -> tuple[User | None, str | None]:
    """The user with this address and their password hash, or (None, None)."""
    row = (
        await conn.execute(select(*COLUMNS, users.c.password_hash).where(users.c.email == email_key(email)))
    ).one_or_none()
    if row is None:
        return None, None
    return User(*row[:-1]), row[-1]


async def record_sign_in(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(last_login_at=datetime.now(UTC)))


async def set_language(conn: AsyncConnection, user_id: int, language: str) -> None:
    """The account's language: every page, on every device."""
    await conn.execute(update(users).where(users.c.id == user_id).values(language=language))


async def end_sessions(conn: AsyncConnection, user_id: int) -> None:
    """Sign the account out everywhere: the session version is in every session's cookie (app.web.access)."""
    await conn.execute(
        update(users).where(users.c.id == user_id).values(session_version=users.c.session_version + 1)
    )


@dataclass(frozen=True, slots=True)
class StaffRow:
    id: int
    email: str
    name: str
    role: str
    language: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


async def list_staff(conn: AsyncConnection) -> list[StaffRow]:
    rows = await conn.execute(
        select(
            users.c.id,
            users.c.email,
            users.c.name,
            users.c.role,
            users.c.language,
            users.c.is_active,
            users.c.created_at,
            users.c.last_login_at,
        ).order_by(users.c.is_active.desc(), users.c.name, users.c.id)
    )
    return [StaffRow(*row) for row in rows]


async def change_user(
    conn: AsyncConnection, user_id: int, *, role: str, is_active: bool, acting_user_id: int
) -> dict[str, tuple]:
    """Set an account's role and whether it may sign in; returns what changed ({field: (before, after)}).

    A change ends the account's sessions (and so its open pages' sockets). An admin cannot disable or
    demote their own account: the shop would risk having no admin left.
    """
    if role not in ROLES:
        raise UserError(_role_problem(role))
    row = (
        await conn.execute(
            select(users.c.role, users.c.is_active).where(users.c.id == user_id).with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise LookupError(user_id)
    changes = {
        field: (before, after)
        for field, before, after in (("role", row.role, role), ("is_active", row.is_active, is_active))
        if before != after
    }
    if changes and user_id == acting_user_id:
        raise UserError(
            gettext("You cannot change your own role or disable your own account; ask another admin.")
        )
    if changes:
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(role=role, is_active=is_active, session_version=users.c.session_version + 1)
        )
    return changes
