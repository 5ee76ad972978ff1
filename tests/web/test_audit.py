"""The audit trail: every write, sign-in (and failed attempt), refusal; who, when, what, from where; never a
password or a token; viewable and filterable by admins only."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from ipaddress import ip_network

import pytest
from quart.testing import WebsocketResponseError
from sqlalchemy import event, select

from app import create_app
from app.tables import audit_log, customer_activities
from app.tokens import create_token
from tests.conftest import PASSWORD, csrf_token_of, sign_in
from tests.factories import add_customer


@pytest.fixture
async def customer(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


async def trail(engine) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(select(audit_log).order_by(audit_log.c.id))).all()


async def add_note(client, customer_id: int, text: str, token: str | None = None):
    return await client.post(
        f"/customers/{customer_id}/notes",
        form={"text": text, "csrf_token": token or await csrf_token_of(client)},
        headers={"HX-Request": "true"},
    )


async def test_sign_ins_and_failed_attempts_are_recorded_without_the_password(app, engine, staff):
    client = app.test_client()
    assert (await sign_in(client, staff["advisor"], password="not the password")).status_code == 401
    assert (await sign_in(client, staff["advisor"])).status_code == 302
    entries = await trail(engine)
    assert [(entry.action, entry.actor_email) for entry in entries] == [
        ("sign_in_failed", "advisor@test.example"),
        ("sign_in", "advisor@test.example"),
    ]
    assert entries[1].user_id == staff["advisor"].id and entries[0].user_id is None
    assert all(entry.ip_address and entry.request_id for entry in entries)
    text = repr([tuple(entry) for entry in entries])
    assert "not the password" not in text and PASSWORD not in text


async def test_a_write_is_recorded_with_its_customer_and_outcome(app, engine, staff, customer):
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    response = await add_note(client, customer, "Prefers afternoons")
    assert response.status_code == 200
    entry = (await trail(engine))[-1]
    assert (entry.action, entry.user_id, entry.target_type, entry.target_id) == (
        "activity.add_note",
        staff["advisor"].id,
        "customer",
        customer,
    )
    assert entry.details["status"] == 200 and "Prefers afternoons" not in repr(entry.details)
    assert response.headers["X-Request-ID"] == entry.request_id


async def test_a_write_and_its_entry_never_hold_two_connections_at_once(app, staff, customer):
    """The entry is written once the request has given its connection back: a connection taken for it while
    the request held another would deadlock the pools once as many writes were in flight as they have
    connections."""
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    pools = [app.extensions[name].sync_engine.pool for name in ("db_engine", "db_autocommit_engine")]
    held: Counter = Counter()  # connections each task holds (the hub's follower has its own)
    # Who took each connection: SQLAlchemy returns one closed by `async with` from a task of its own (a
    # shielded close), so the task that gives a connection back is not always the one that took it.
    holders: dict[int, asyncio.Task | None] = {}
    most = 0

    def checked_out(_dbapi_connection, record, _proxy):
        nonlocal most
        task = holders[id(record)] = asyncio.current_task()
        held[task] += 1
        most = max(most, held[task])

    def checked_in(_dbapi_connection, record):
        if id(record) in holders:  # not one taken before the count began
            held[holders.pop(id(record))] -= 1

    for pool in pools:
        event.listen(pool, "checkout", checked_out)
        event.listen(pool, "checkin", checked_in)
    try:
        assert (await add_note(client, customer, "Call back Monday")).status_code == 200
    finally:
        for pool in pools:
            event.remove(pool, "checkout", checked_out)
            event.remove(pool, "checkin", checked_in)
    assert most == 1
    async with app.extensions["db_engine"].connect() as conn:
        entries = (await conn.execute(select(audit_log.c.action, audit_log.c.details))).all()
    assert [(action, details["status"]) for action, details in entries if action != "sign_in"] == [
        ("activity.add_note", 200)
    ]


@pytest.mark.parametrize("attempt", ["csrf", "role", "anonymous"])
async def test_refused_writes_are_recorded_as_refused(app, engine, staff, customer, attempt):
    client = app.test_client()
    token = await csrf_token_of(client)
    if attempt != "anonymous":
        await sign_in(client, staff["operations" if attempt == "role" else "advisor"])
        token = await csrf_token_of(client)
    response = await add_note(client, customer, "x", token="forged" if attempt == "csrf" else token)
    assert response.status_code in (401, 403)
    entry = (await trail(engine))[-1]
    assert entry.action == "activity.add_note.refused"
    assert entry.details["status"] == response.status_code
    assert entry.target_id == customer


async def test_a_refused_websocket_handshake_is_recorded_with_its_origin(app, engine, staff, customer):
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    with pytest.raises(WebsocketResponseError):
        async with client.websocket(
            f"/ws/customers/{customer}", headers={"Origin": "https://evil.example"}
        ) as socket:
            await socket.receive()
    entry = (await trail(engine))[-1]
    assert entry.action == "websocket.refused"
    assert entry.details["origin"] == "https://evil.example" and entry.details["status"] == 403
    assert entry.user_id is None or entry.user_id == staff["advisor"].id


@pytest.fixture
def trail_out_of_reach(app):
    """Every entry of the trail fails with the driver's own error, as it would with the database gone."""
    pool = app.extensions["db_autocommit_engine"].sync_engine

    def fail(conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise conn.dialect.loaded_dbapi.OperationalError("the audit trail is out of reach")

    event.listen(pool, "before_cursor_execute", fail)
    yield
    event.remove(pool, "before_cursor_execute", fail)


async def test_a_trail_that_cannot_be_written_changes_no_outcome(
    app, engine, staff, customer, trail_out_of_reach, caplog
):
    """The outcome is decided before its entry is written: a write answered stays answered, a handshake
    refused stays refused with its own status, and the failure is logged, never shown as an error."""
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    assert (await add_note(client, customer, "Call back Monday")).status_code == 200
    # Bounded: an error raised by the handshake's check leaves the test client waiting for an answer.
    async with asyncio.timeout(30):
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket(
                f"/ws/customers/{customer}", headers={"Origin": "https://evil.example"}
            ) as socket:
                await socket.receive()
    assert refused.value.response.status_code == 403
    assert await trail(engine) == []
    async with engine.connect() as conn:
        notes = (await conn.execute(select(customer_activities.c.summary))).scalars().all()
    assert notes == ["Call back Monday"]
    logged = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any("activity.add_note of POST" in message for message in logged)
    assert any("websocket.refused of GET" in message for message in logged)


async def test_an_api_tokens_writes_name_the_token_never_its_secret(app, engine, staff, customer):
    async with engine.begin() as conn:
        secret = await create_token(conn, email=staff["advisor"].email, name="pos")
    response = await app.test_client().post(
        f"/api/customer360/{customer}/activity",
        json={"kind": "call", "summary": "Called"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201
    entry = (await trail(engine))[-1]
    assert entry.details["token"] == "pos" and secret not in repr(tuple(entry))


async def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwards_it(app, settings, engine):
    """Both apps see a peer at 127.0.0.1 sending X-Forwarded-For; only the one behind it believes it."""
    forged = {"X-Forwarded-For": "203.0.113.9"}
    peer = {"client": ("127.0.0.1", 50000)}
    behind_proxy = create_app(replace(settings, trusted_proxies=(ip_network("127.0.0.0/8"),)))
    async with behind_proxy.test_app():
        for served in (behind_proxy, app):
            client = served.test_client()
            form = {
                "email": "a@b.c",
                "password": "wrong password!",
                "csrf_token": await csrf_token_of(client),
            }
            assert (
                await client.post("/login", form=form, headers=forged, scope_base=peer)
            ).status_code == 401
    assert [entry.ip_address for entry in await trail(engine)] == ["203.0.113.9", "127.0.0.1"]


async def test_admins_read_and_filter_the_trail(app, engine, staff, customer):
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    await add_note(client, customer, "one")
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    page = await (await admin.get("/admin/audit?action=activity.add_note")).get_data(as_text=True)
    assert "<code>activity.add_note</code>" in page and "<code>sign_in</code>" not in page
    by_user = await (await admin.get(f"/admin/audit?user={staff['admin'].id}")).get_data(as_text=True)
    assert "<code>sign_in</code>" in by_user and "<code>activity.add_note</code>" not in by_user
    bad = await admin.get("/admin/audit?since=yesterday")
    assert bad.status_code == 400 and "since" in await bad.get_data(as_text=True)
    assert (await client.get("/admin/audit")).status_code == 403
