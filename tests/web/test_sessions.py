"""The signed-in user without a query per request: accounts cached per process (app.sessions), a change made
through the app effective at the next request in every process, and an untold change within SESSION_CHECK."""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager
from dataclasses import replace

import pytest
from quart.testing import WebsocketResponseError
from sqlalchemy import event, update

from app import create_app
from app.live.events import USERS_CHANNEL
from app.sessions import UserCache
from app.tables import users
from tests.conftest import csrf_token_of, sign_in

READS_USERS = re.compile(r"\b(FROM|JOIN)\s+`?users\b", re.IGNORECASE)
ORIGIN = {"Origin": "http://127.0.0.1:8000"}


@contextmanager
def users_reads(app):
    """The statements the app sends that read the users table, as they are sent."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_):
        if READS_USERS.search(statement):
            sent.append(statement)

    engine = app.extensions["db_engine"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def post(client, path: str, **form):
    return await client.post(path, form={**form, "csrf_token": await csrf_token_of(client)})


async def until(condition) -> bool:
    """Whether an async condition comes to hold within 5 seconds (polled)."""
    for _ in range(100):
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_requests_after_the_first_do_not_read_the_account(app, signed_in):
    client = await signed_in("advisor")
    with users_reads(app) as reads:
        assert (await client.get("/customers")).status_code == 200
        assert len(reads) == 1  # the account, once after sign-in
        for _ in range(4):
            assert (await client.get("/customers")).status_code == 200
        assert (await client.get("/customers?q=tremblay", headers={"HX-Request": "true"})).status_code == 200
        # A WebSocket handshake knows its user the same way (refused here for the role, once it is known).
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket("/ws/activity", headers=ORIGIN) as socket:
                await asyncio.wait_for(socket.receive(), 5)
        assert refused.value.response.status_code == 403
    assert len(reads) == 1, reads


async def test_signing_out_everywhere_ends_a_cached_session_at_once(app, staff):
    kept, leaving = app.test_client(), app.test_client()
    for client in (kept, leaving):
        await sign_in(client, staff["advisor"])
        assert (await client.get("/customers")).status_code == 200
    assert (await post(leaving, "/logout")).status_code == 302
    assert (await kept.get("/customers")).status_code == 302


@pytest.mark.parametrize(
    "change", [{"role": "operations"}, {"role": "advisor", "active": "1"}], ids=["disabled", "role changed"]
)
async def test_an_admins_change_ends_the_session_at_the_next_request(app, staff, change):
    operations, admin = app.test_client(), app.test_client()
    await sign_in(operations, staff["operations"])
    assert (await operations.get("/operations")).status_code == 200
    await sign_in(admin, staff["admin"])
    assert (await post(admin, f"/admin/users/{staff['operations'].id}", **change)).status_code == 302
    assert (await operations.get("/operations")).status_code == 302  # to the sign-in form
    if change.get("active"):  # signed in again: with the new role, an advisor's
        assert (await sign_in(operations, staff["operations"])).status_code == 302
        assert (await operations.get("/operations")).status_code == 403


async def test_a_language_chosen_on_one_device_shows_on_the_next_page_of_another(app, staff):
    desk, tablet = app.test_client(), app.test_client()
    for client in (desk, tablet):
        await sign_in(client, staff["advisor"])
        assert '<html lang="en">' in await (await client.get("/customers")).get_data(as_text=True)
    assert (await post(tablet, "/language", language="fr", next="/customers")).status_code == 302
    assert '<html lang="fr">' in await (await desk.get("/customers")).get_data(as_text=True)


@pytest.mark.redis
async def test_on_redis_an_account_disabled_in_one_process_is_refused_by_another_at_once(
    settings, redis_url, staff
):
    """Two app instances (as two workers or hosts would be) behind one Redis."""
    first, second = (create_app(replace(settings, redis_url=redis_url)) for _ in range(2))
    async with first.test_app(), second.test_app():
        # Only the broker's message can make `second` read the account again during this test.
        cache = second.extensions["user_cache"]
        cache.trust_for = 3600
        advisor = second.test_client()
        await sign_in(advisor, staff["advisor"])
        assert (await advisor.get("/customers")).status_code == 200
        assert staff["advisor"].id in cache

        async def heard() -> bool:  # the second's subscription is live once a message reaches it
            await first.extensions["broker"].publish(USERS_CHANNEL, "0")
            return second.extensions["hub"].broker_up

        async def evicted() -> bool:
            return staff["advisor"].id not in cache

        assert await until(heard), "the second app never heard the broker"
        admin = first.test_client()
        await sign_in(admin, staff["admin"])
        assert (await post(admin, f"/admin/users/{staff['advisor'].id}", role="advisor")).status_code == 302
        assert await until(evicted), "the change never reached the second app"
        assert (await advisor.get("/customers")).status_code == 302


async def test_a_change_nobody_announced_is_read_once_the_bound_has_passed(app, engine, staff, signed_in):
    """As when another process disables an account while the broker is down: nothing evicts the account,
    its cached copy is trusted until SESSION_CHECK has passed, then read again."""
    client = await signed_in("advisor")
    cache = app.extensions["user_cache"]
    cache.trust_for = 3600
    assert (await client.get("/customers")).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(is_active=False))
    assert (await client.get("/customers")).status_code == 200  # still within the bound
    cache.trust_for = 0  # the bound has passed
    assert (await client.get("/customers")).status_code == 302


async def test_a_read_overtaken_by_a_change_is_not_kept(engine, staff):
    cache = UserCache()
    async with engine.connect() as conn:

        async def connect_while_the_row_changes():
            cache.evict(staff["admin"].id)  # committed and announced while this read is under way
            return conn

        assert await cache.get(staff["advisor"].id, connect_while_the_row_changes) == staff["advisor"]
    assert staff["advisor"].id not in cache


async def test_the_cache_keeps_the_accounts_read_last_within_its_bound(engine, staff):
    cache = UserCache(max_entries=2)
    async with engine.connect() as conn:

        async def connect():
            return conn

        for role in ("advisor", "operations", "admin"):
            assert await cache.get(staff[role].id, connect) == staff[role]
    assert len(cache) == 2
    assert staff["advisor"].id not in cache
    assert staff["operations"].id in cache and staff["admin"].id in cache
