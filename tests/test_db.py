"""How a request's connection goes back to its pool: rolled back when it may hold a transaction, and only
then (app.db._reset_on_return)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quart import Quart
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db
from app.tables import customers
from tests.conftest import driver_connection_class, record_driver_calls
from tests.factories import add_customer


@pytest.fixture
async def one_connection(engine) -> AsyncIterator[tuple[Quart, AsyncEngine]]:
    """A bare app whose primary pool holds one connection, so every request takes the same one back."""
    url = engine.url.render_as_string(hide_password=False)
    primary = db.create_engine(url, pool_size=1)
    autocommit = db.create_engine(url, pool_size=1, autocommit=True)
    app = Quart(__name__)
    db.init_app(app, primary, autocommit)
    try:
        yield app, primary
    finally:
        await primary.dispose()
        await autocommit.dispose()


@pytest.fixture
async def driver_connection(one_connection) -> type:
    _, primary = one_connection
    return await driver_connection_class(primary)


@pytest.fixture
def driver_calls(driver_connection, monkeypatch) -> list[str]:
    """The ROLLBACKs and COMMITs the primary pool's connections send, in order."""
    return record_driver_calls(driver_connection, monkeypatch, ("rollback", "commit"))


async def test_a_connection_whose_transaction_was_committed_goes_back_without_a_rollback(
    one_connection, driver_calls
):
    app, _ = one_connection
    async with app.test_request_context("/"):
        conn = await db.connection()
        await add_customer(conn, "Léa", "Tremblay")
        await conn.commit()
        await db.release_connection()
    assert driver_calls == ["commit"]


async def test_a_connection_still_in_a_transaction_is_rolled_back_once(one_connection, driver_calls):
    app, _ = one_connection
    async with app.test_request_context("/"):
        conn = await db.connection()
        await conn.execute(select(customers.c.id))
        await db.release_connection()
    assert driver_calls == ["rollback"]


async def test_a_connection_whose_commit_failed_is_rolled_back(
    one_connection, driver_connection, driver_calls, monkeypatch
):
    """The driver's error may have left the server's transaction open, whatever SQLAlchemy believes."""
    app, primary = one_connection
    dbapi = primary.sync_engine.dialect.loaded_dbapi

    def refuse(_self):
        driver_calls.append("commit")
        raise dbapi.OperationalError("the commit was refused")

    monkeypatch.setattr(driver_connection, "commit", refuse)
    async with app.test_request_context("/"):
        conn = await db.connection()
        await add_customer(conn, "Léa", "Tremblay")
        with pytest.raises(Exception, match="the commit was refused"):
            await conn.commit()
        assert not conn.in_transaction()
        await db.release_connection()
    assert driver_calls == ["commit", "rollback"]
