"""Engine lifecycle and the transaction helper.

One engine per process. SQLite gets WAL, foreign keys and a busy timeout on every connection; MySQL/MariaDB
gets utf8mb4, UTC sessions and recycled connections.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from quart import Quart, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

T = TypeVar("T")


# Set on a pooled connection's record by `release_connection` when what it did ended in a commit or a
# rollback, so that going back to the pool costs no ROLLBACK (see `_reset_on_return`).
ENDED_CLEANLY = "c360_ended_cleanly"
# Set by any error the driver raised on the connection: then it is rolled back on its return, whatever else.
DRIVER_ERROR = "c360_driver_error"


def create_engine(
    database_url: str, *, pool_size: int = 10, echo: bool = False, autocommit: bool = False
) -> AsyncEngine:
    """The engine of a database URL. `autocommit`: each statement is its own transaction, a connection goes
    back to its pool as it came (no rollback) and comes out of it without a ping (see the function
    `autocommit` for what replaces it). Otherwise a connection is rolled back on its return unless it is
    known to hold no transaction (`_reset_on_return`)."""
    url = make_url(database_url)
    if autocommit:  # no ROLLBACK sent when a connection is done with: there is nothing to roll back
        options = {
            "isolation_level": "AUTOCOMMIT",
            "pool_reset_on_return": None,
            "skip_autocommit_rollback": True,
        }
    else:
        options = {"pool_reset_on_return": None}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}, **options
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    else:
        query = dict(url.query)
        query.setdefault("charset", "utf8mb4")
        engine = create_async_engine(
            url.set(query=query),
            echo=echo,
            # A statement's values (names, emails, notes) stay out of its errors, hence out of the logs.
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            pool_pre_ping=not autocommit,
            # NO_CHAIN whatever the server's default: a COMMIT leaves no transaction open (_reset_on_return).
            connect_args={"init_command": "SET time_zone = '+00:00', completion_type = 'NO_CHAIN'"},
            **options,
        )
    if not autocommit:
        event.listen(engine.sync_engine.pool, "reset", _reset_on_return)
        event.listen(engine.sync_engine, "handle_error", _note_driver_error)
    return engine


def _reset_on_return(dbapi_connection, record, state) -> None:
    """The pool's reset of a connection coming back, in place of its unconditional ROLLBACK: a round trip
    spared for every write, whose connection comes back after its COMMIT.

    Rolled back, as SQLAlchemy would, unless `release_connection` marked it as ending cleanly (its last
    transaction ended in a COMMIT or a ROLLBACK sent through SQLAlchemy, and no statement ran since: any
    would have begun a transaction that SQLAlchemy knows of) or SQLAlchemy rolled it back itself while
    closing it. Rolled back in any case once the driver raised an error on it, a failed COMMIT included,
    which SQLAlchemy counts as the end of the transaction."""
    info = record.info if record is not None else {}  # None: a connection detached from its pool
    ended_cleanly = info.pop(ENDED_CLEANLY, False)
    driver_error = info.pop(DRIVER_ERROR, False)
    if not state.asyncio_safe:
        return  # a connection being thrown away
    if driver_error or not (ended_cleanly or state.transaction_was_reset):
        dbapi_connection.rollback()


def _note_driver_error(context) -> None:
    conn = context.connection
    if conn is not None and not conn.closed and not conn.invalidated:
        conn.info[DRIVER_ERROR] = True


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside one transaction: committed when the block ends, rolled back if it raises."""
    async with engine.begin() as conn:
        yield conn


async def connection() -> AsyncConnection:
    """The request's (or WebSocket's) connection: checked out on first use, returned when it ends.

    One connection per request, not per query (see DESIGN.md's costs). Reads run in autocommit-like
    short transactions; writes use `async with conn.begin():` on this same connection. (A section first
    looks up its cache key with `autocommit`, on a connection it returns before taking this one; a write's
    audit entry is written the same way once this one is returned: never two held at once.)
    """
    conn = getattr(g, "db_connection", None)
    if conn is None:
        conn = await current_app.extensions["db_engine"].connect()
        g.db_connection = conn
    return conn


async def autocommit(statement: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`statement` (one) outside the request's transaction, on a connection of the autocommit pool: one
    round trip, where the request's connection takes three or four (the pool's ping, the statement, its
    COMMIT or the ROLLBACK that ends its snapshot). For a look that often spares the request its connection
    (the section cache's key, app.web.customers), and for a row that commits on its own (a request's audit
    entry, app.web.auditing). Run once more on a new connection if the database had dropped the one taken
    (a restart, a failover), as the ping would have found."""
    engine = current_app.extensions["db_autocommit_engine"]

    async def attempt() -> T:
        async with engine.connect() as conn:
            return await statement(conn)

    return await once_more_if_dropped(attempt)


async def once_more_if_dropped(attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()`, and once more if the database had dropped the connection it used (a restart, a failover):
    what the pool's pre-ping does at checkout, for a connection checked out without one or held open. Each
    attempt takes its connection anew (SQLAlchemy has invalidated the dropped one)."""
    try:
        return await attempt()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await attempt()


async def replica_connection() -> AsyncConnection | None:
    """The request's connection to the read replica (DATABASE_READ_URL), None without one or while it is
    unreachable. What it reads may lag behind the primary: callers check it has caught up with what they
    need (app.web.customers.section_connection)."""
    engine = current_app.extensions["db_read_engine"]
    if engine is None:
        return None
    conn = getattr(g, "db_read_connection", None)
    if conn is None:
        try:
            conn = await engine.connect()
        except Exception as exc:  # the replica is a help, not a need: the primary serves instead
            log.warning("read replica unreachable, reading from the primary: %s", type(exc).__name__)
            return None
        g.db_read_connection = conn
    return conn


async def release_connection(_exc: BaseException | None = None) -> None:
    """Give the request's connections back to their pools (teardown, or sooner once the request is done
    with them): rolled back if a transaction is still open, else marked as ending cleanly, which spares
    them the pool's ROLLBACK."""
    for name in ("db_connection", "db_read_connection"):
        conn = g.pop(name, None)
        if conn is not None:
            if not conn.invalidated and not conn.in_transaction():
                conn.info[ENDED_CLEANLY] = True
            await conn.close()


def init_app(
    app: Quart,
    engine: AsyncEngine,
    autocommit_engine: AsyncEngine,
    read_engine: AsyncEngine | None = None,
) -> None:
    app.extensions["db_engine"] = engine
    app.extensions["db_autocommit_engine"] = autocommit_engine
    app.extensions["db_read_engine"] = read_engine
    app.teardown_request(release_connection)
    app.teardown_websocket(release_connection)
