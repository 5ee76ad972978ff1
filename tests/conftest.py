"""Fixtures over real services: every database test runs on SQLite and on MariaDB, every broker test on the
in-process broker and on Redis.

MariaDB and Redis come from TEST_MYSQL_URL and TEST_REDIS_URL (defaults: the local servers). Locally a
server that is not running skips its tests with the reason; with CI=true it fails them.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app import create_app
from app.config import Settings, parse_database_url
from app.db import create_engine
from app.live.broker import Broker, MemoryBroker, RedisBroker
from app.migrations import upgrade
from app.tables import metadata
from app.users import User, create_user, hash_password

TEST_MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)


def unavailable(what: str, reason: str) -> None:
    message = f"{what} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}; with CI=true the tests that need it must run", pytrace=False)
    pytest.skip(message)


# -- databases ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
async def sqlite_url(var_dir) -> str:
    url = parse_database_url(f"sqlite:///{var_dir / 'test.sqlite3'}", var_dir)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


@asynccontextmanager
async def scratch_mysql_database(label: str) -> AsyncIterator[str]:
    """A new database on the MariaDB server of TEST_MYSQL_URL, migrated, dropped on the way out."""
    server_url = parse_database_url(TEST_MYSQL_URL, Path("var"))
    name = f"c360_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, pool_size=1)
    try:
        async with admin.begin() as conn:
            await conn.execute(
                text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
    except Exception as exc:  # the server is absent or refuses us: skip locally, fail in CI
        await admin.dispose()
        unavailable(f"MariaDB at {TEST_MYSQL_URL}", f"{type(exc).__name__}: {exc}")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        async with admin.begin() as conn:
            # A connection leaked by a failing test would otherwise make the DROP wait for ever.
            await conn.execute(text("SET SESSION lock_wait_timeout = 10"))
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.dispose()


@pytest.fixture(scope="session")
async def mysql_url() -> AsyncIterator[str]:
    """A fresh database for the session's MariaDB runs, migrated, dropped at the end."""
    async with scratch_mysql_database("test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database_url(request) -> str:
    return request.getfixturevalue(f"{request.param}_url")


async def empty_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


async def end_other_connections(engine: AsyncEngine) -> list[int]:
    """End every other connection to the engine's MariaDB database, as a restart or a failover would (the
    pools' connections among them); returns their ids."""
    async with engine.connect() as conn:
        others = await conn.execute(
            text(
                "SELECT id FROM information_schema.PROCESSLIST "
                "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
            )
        )
        ended = [connection_id for (connection_id,) in others.all()]
        for connection_id in ended:
            await conn.execute(text(f"KILL CONNECTION {int(connection_id)}"))
    return ended


async def driver_connection_class(engine: AsyncEngine) -> type:
    """The class of the engine's driver connections: SQLAlchemy's adapter of aiomysql's or aiosqlite's,
    shared by every pool on that driver."""
    async with engine.connect() as conn:
        return type((await conn.get_raw_connection()).dbapi_connection)


def record_driver_calls(driver_connection: type, monkeypatch, names: tuple[str, ...]) -> list[str]:
    """The calls of these methods (`"rollback"`, `"commit"`) that the driver's connections receive from
    now on, in order; each is still carried out."""
    calls: list[str] = []
    for name in names:
        original = getattr(driver_connection, name)
        monkeypatch.setattr(
            driver_connection,
            name,
            lambda self, name=name, original=original: calls.append(name) or original(self),
        )
    return calls


@pytest.fixture
async def engine(database_url) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty, migrated database (SQLite and MariaDB); emptied again after the test."""
    engine = create_engine(database_url)
    try:
        await empty_tables(engine)
        yield engine
    finally:
        await empty_tables(engine)
        await engine.dispose()


# -- brokers -------------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def broker(request) -> AsyncIterator[Broker]:
    if request.param == "memory":
        broker: Broker = MemoryBroker()
    else:
        broker = RedisBroker(TEST_REDIS_URL)
        if not await broker.ping():
            await broker.close()
            unavailable(f"Redis at {TEST_REDIS_URL}", "no answer to PING")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.close()


@pytest.fixture
async def redis_url() -> str:
    """TEST_REDIS_URL, without the sign-in attempts earlier tests (or runs) counted there: served apps on it
    share their sign-in limits through it, and a run right after another must not find them spent."""
    client = redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
        spent = [key async for key in client.scan_iter("app-auth.login_submit-*")]
        if spent:
            await client.delete(*spent)
    except Exception as exc:
        unavailable(f"Redis at {TEST_REDIS_URL}", f"{type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    return TEST_REDIS_URL


# -- the application -------------------------------------------------------------------------------------


@pytest.fixture
def settings(engine, var_dir) -> Settings:
    # The tests read English: French is for the users who choose it (tests/test_i18n.py).
    base = Settings.from_env(
        {"APP_ENV": "test", "SECRET_KEY": "t" * 40, "VAR_DIR": str(var_dir), "SHOP_LANGUAGE": "en"}
    )
    return replace(base, database_url=engine.url.render_as_string(hide_password=False))


@pytest.fixture
async def app(settings):
    app = create_app(settings)
    async with app.test_app():  # runs the serving lifecycle: broker, engine disposal
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
async def staff(engine) -> dict[str, User]:
    """One active user per role, all with the password PASSWORD."""
    async with engine.begin() as conn:
        return {
            role: await create_user(
                conn,
                email=f"{role}@test.example",
                name=f"Test {role.title()}",
                role=role,
                password_hash=_PASSWORD_HASH,
                language="en",
            )
            for role in ("advisor", "operations", "admin")
        }


_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_token_of(client) -> str:
    """The CSRF token of the client's session, as a page would embed it."""
    page = await (await client.get("/login")).get_data(as_text=True)
    match = _CSRF_INPUT.search(page)
    if match is None:  # signed in already: /login redirects; any page carries the token
        page = await (await client.get("/customers")).get_data(as_text=True)
        match = _CSRF_INPUT.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def pay_through_form(client, customer_id: int, invoice_id: int, amount: str, method: str = "cash"):
    """A payment recorded the way an open page records it (htmx form, CSRF token)."""
    token = await csrf_token_of(client)
    return await client.post(
        f"/customers/{customer_id}/invoices/{invoice_id}/payments",
        form={"amount": amount, "method": method, "csrf_token": token},
        headers={"HX-Request": "true"},
    )


async def sign_in(client, user: User, password: str = PASSWORD):
    token = await csrf_token_of(client)
    return await client.post(
        "/login", form={"email": user.email, "password": password, "csrf_token": token, "next": ""}
    )


@pytest.fixture
def signed_in(client, staff):
    """sign in as a role: `await signed_in("advisor")` returns the client."""

    async def as_role(role: str):
        response = await sign_in(client, staff[role])
        assert response.status_code == 302, await response.get_data(as_text=True)
        return client

    return as_role
