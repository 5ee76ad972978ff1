"""Live pages over real WebSockets, on the in-process broker and on Redis: pushes, replay, refusals."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from quart.testing.connections import WebsocketDisconnectError
from sqlalchemy import event, select, update

from app.live import hub as hub_module
from app.tables import audit_log, users
from app.web import live as live_module
from tests.conftest import csrf_token_of, end_other_connections, pay_through_form, sign_in
from tests.factories import add_customer

ORIGIN = {"Origin": "http://127.0.0.1:8000"}


@pytest.fixture
async def customers(engine):
    async with engine.begin() as conn:
        return [
            await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca"),
            await add_customer(conn, "John", "Smith", email="john@example.ca"),
        ]


async def signed_in_client(app, user):
    client = app.test_client()
    response = await sign_in(client, user)
    assert response.status_code == 302
    return client


async def add_note(client, customer_id, text):
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{customer_id}/notes",
        form={"text": text, "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return int(re.search(r'data-event-id="(\d+)"', await response.get_data(as_text=True)).group(1))


async def receive(socket, within=5.0) -> str:
    return await asyncio.wait_for(socket.receive(), within)


async def subscription_of(hub, customer_id: int):
    """The one open socket's subscription to the customer, once its view has subscribed (entering the test
    client's websocket() does not wait for that)."""
    for _ in range(500):
        if subscriptions := hub._subscriptions.get(customer_id):
            (subscription,) = subscriptions
            return subscription
        await asyncio.sleep(0.01)
    raise AssertionError(f"no socket subscribed to customer {customer_id} within 5 s")


def event_id(message: str) -> int:
    return int(re.search(r'<meta name="live-event" content="(\d+)"', message).group(1))


async def test_a_note_reaches_every_open_page_of_that_customer_and_the_stream(app, staff, customers):
    marie, john = customers
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["operations"])
    async with (
        reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page,
        reader.websocket(f"/ws/customers/{john}", headers=ORIGIN) as other_page,
        reader.websocket("/ws/activity", headers=ORIGIN) as stream,
    ):
        await asyncio.sleep(0.2)
        note_id = await add_note(writer, marie, "Wants the winter tires mounted")
        message = await receive(page)
        assert event_id(message) == note_id
        assert 'hx-swap-oob="afterbegin:#activity-timeline"' in message
        assert "Wants the winter tires mounted" in message
        assert f'id="activity-{note_id}"' in message
        streamed = await receive(stream)
        assert f'id="stream-{note_id}"' in streamed and "Marie Tremblay" in streamed
        with pytest.raises(asyncio.TimeoutError):
            await receive(other_page, within=0.5)


async def test_on_redis_a_note_written_through_one_app_reaches_a_socket_held_by_another(
    settings, redis_url, staff, customers
):
    """Two app instances (as two workers or hosts would be) behind one Redis."""
    from dataclasses import replace

    from app import create_app

    marie, _ = customers
    first, second = (
        create_app(replace(settings, redis_url=redis_url)),
        create_app(replace(settings, redis_url=redis_url)),
    )
    async with first.test_app(), second.test_app():
        writer = await signed_in_client(first, staff["advisor"])
        reader = await signed_in_client(second, staff["operations"])
        async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
            await asyncio.sleep(0.5)
            note_id = await add_note(writer, marie, "Through Redis")
            message = await receive(page)
            assert event_id(message) == note_id and "Through Redis" in message
            assert second.extensions["hub"].broker_up


async def test_a_reconnecting_page_gets_what_it_missed_once_and_in_order(app, staff, customers):
    marie, _ = customers
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["advisor"])
    first = await add_note(writer, marie, "one")
    await asyncio.sleep(0.6)  # the hub has released it
    missed = [await add_note(writer, marie, text) for text in ("two", "three", "four")]
    await asyncio.sleep(0.6)
    async with reader.websocket(f"/ws/customers/{marie}?after={first}", headers=ORIGIN) as page:
        replayed = [event_id(await receive(page)) for _ in missed]
        assert replayed == missed
        live = await add_note(writer, marie, "five")
        assert event_id(await receive(page)) == live
        with pytest.raises(asyncio.TimeoutError):
            await receive(page, within=0.5)


async def test_a_page_too_far_behind_is_told_to_reload_its_sections(app, staff, customers, monkeypatch):
    marie, _ = customers
    monkeypatch.setattr(hub_module, "REPLAY_LIMIT", 2)
    writer = await signed_in_client(app, staff["advisor"])
    first = await add_note(writer, marie, "one")
    for note in ("two", "three", "four"):
        await add_note(writer, marie, note)
    await asyncio.sleep(0.6)
    async with writer.websocket(f"/ws/customers/{marie}?after={first}", headers=ORIGIN) as page:
        assert '<meta name="live-resync"' in await receive(page)


async def test_a_payment_updates_the_invoice_row_totals_and_tiles(app, staff, engine, customers):
    from tests.factories import add_vehicle, add_work_order_and_invoice

    marie, _ = customers
    async with engine.begin() as conn:
        vehicle = await add_vehicle(conn, marie, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_work_order_and_invoice(conn, marie, vehicle, number=5, subtotal_cents=10_000)
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["operations"])
    section = await (await writer.get(f"/customers/{marie}/sections/invoices")).get_data(as_text=True)
    invoice_id = int(re.search(r'id="invoice-(\d+)"', section).group(1))
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        response = await pay_through_form(writer, marie, invoice_id, "114.98", "card")
        assert response.status_code == 200
        message = await receive(page)
        assert f'id="invoice-{invoice_id}" hx-swap-oob="true"' in message
        assert message.count("<template data-replace>") == 1  # a table row travels wrapped
        assert 'id="invoice-totals" hx-swap-oob="true"' in message
        assert 'id="analytics-tiles" hx-swap-oob="true"' in message
        assert '<meta name="live-refresh" content="revenue-chart">' in message
        assert "Paid" in message


@pytest.mark.parametrize(
    ("path", "headers", "signed"),
    [
        ("/ws/activity", ORIGIN, False),  # no session
        ("/ws/activity", {"Origin": "https://evil.example"}, True),  # foreign page
        ("/ws/activity", {}, True),  # no Origin at all
    ],
)
async def test_handshakes_without_session_or_from_elsewhere_are_refused(app, staff, path, headers, signed):
    client = await signed_in_client(app, staff["advisor"]) if signed else app.test_client()
    with pytest.raises(Exception) as refused:
        async with client.websocket(path, headers=headers) as socket:
            await receive(socket, within=1)
    assert "40" in str(refused.value) or "Rejected" in type(refused.value).__name__


async def test_pages_embed_their_resume_point_and_indicator(app, staff, customers):
    client = await signed_in_client(app, staff["operations"])
    html = await (await client.get(f"/customers/{customers[0]}")).get_data(as_text=True)
    assert f'ws-connect="/ws/customers/{customers[0]}"' in html
    assert re.search(r'data-after="\d+"', html)
    assert 'id="live-status"' in html and 'role="status"' in html
    operations = await (await client.get("/operations")).get_data(as_text=True)
    assert 'ws-connect="/ws/activity"' in operations and 'id="activity-stream"' in operations


async def test_the_streams_author_filter_offers_every_active_colleague(app, engine, staff):
    """Not only the authors of the entries on the page: the filter also applies to what arrives later."""
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == staff["admin"].id).values(is_active=False))
    client = await signed_in_client(app, staff["operations"])
    html = await (await client.get("/operations")).get_data(as_text=True)
    offered = re.findall(r'<option value="(\d+)">([^<]+)</option>', html)
    assert offered == [
        (str(staff["advisor"].id), "Test Advisor"),
        (str(staff["operations"].id), "Test Operations"),
    ]


async def test_with_redis_unreachable_pages_writes_and_events_still_work(settings, staff, customers):
    """The broker is only the doorbell: without it, the hub reads the log on its own."""
    from dataclasses import replace

    from app import create_app

    marie, _ = customers
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    async with app.test_app():
        writer = await signed_in_client(app, staff["advisor"])
        assert (await writer.get(f"/customers/{marie}")).status_code == 200
        async with writer.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
            note_id = await add_note(writer, marie, "Redis is down")
            assert event_id(await receive(page)) == note_id
        assert not app.extensions["hub"].broker_up


async def test_an_announced_event_reaches_the_page_without_a_read_of_the_log(
    app, staff, customers, monkeypatch
):
    """Each event is announced after its commit: the hub releases the next one in order from the
    announcement alone, and reads the log only for a gap (tests/live/test_follower.py)."""
    marie, _ = customers
    monkeypatch.setattr(hub_module, "POLL_WITH_BROKER", 60.0)  # no safety poll during the test
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["operations"])
    log_reads: list[str] = []

    def note_log_read(_conn, _cursor, statement, *_args) -> None:
        if "customer_activities.id >" in statement:
            log_reads.append(statement)

    engine = app.extensions["db_engine"].sync_engine
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        first = await add_note(writer, marie, "The first one wakes the hub")
        assert event_id(await receive(page)) == first
        event.listen(engine, "before_cursor_execute", note_log_read)
        try:
            for note in ("Second", "Third", "Fourth"):
                note_id = await add_note(writer, marie, note)
                assert event_id(await receive(page)) == note_id
        finally:
            event.remove(engine, "before_cursor_execute", note_log_read)
    assert log_reads == []


@pytest.mark.mysql
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)  # SQLite has no server to end it
async def test_the_hub_reads_on_a_new_connection_once_the_database_drops_its_own(
    app, engine, staff, customers, caplog
):
    """A database restart or failover ends the connection the hub keeps: the next event is read on a new
    one at once, with no error and nothing lost."""
    marie, _ = customers
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["operations"])
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        before = await add_note(writer, marie, "Before the restart")
        assert event_id(await receive(page)) == before  # read on the hub's own connection
        await end_other_connections(engine)
        after = await add_note(writer, marie, "After the restart")
        assert event_id(await receive(page)) == after
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_activity_reported_through_the_api_is_pushed_like_the_apps_own(app, staff, customers):
    marie, _ = customers
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["operations"])
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        response = await writer.post(
            f"/api/customer360/{marie}/activity",
            json={"kind": "call", "summary": "Called about the brake noise", "actor_label": "Phone system"},
            headers={"X-CSRF-Token": await csrf_token_of(writer)},
        )
        assert response.status_code == 201
        message = await receive(page)
        assert event_id(message) == (await response.get_json())["id"]
        assert "Called about the brake noise" in message and "Phone system" in message


async def test_an_event_that_cannot_be_rendered_makes_its_pages_reload_and_the_next_still_arrives(
    app, staff, customers, monkeypatch
):
    marie, _ = customers
    render = hub_module.render_customer_event

    async def failing_for_one(app_, conn, entry, viewers):
        if "cannot be rendered" in entry.activity.summary:
            raise RuntimeError("a template that fails for this event")
        return await render(app_, conn, entry, viewers)

    monkeypatch.setattr(hub_module, "render_customer_event", failing_for_one)
    writer = await signed_in_client(app, staff["advisor"])
    reader = await signed_in_client(app, staff["operations"])
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        broken = await add_note(writer, marie, "This one cannot be rendered")
        # The page reloads its sections (which read the database) and resumes after the event.
        assert await receive(page) == f'<meta name="live-resync" content="{broken}">'
        fine = await add_note(writer, marie, "This one can")
        assert event_id(await receive(page)) == fine
    # A page that reconnects from before it is told to reload too, rather than fail its replay.
    async with reader.websocket(f"/ws/customers/{marie}?after={broken - 1}", headers=ORIGIN) as page:
        assert await receive(page) == f'<meta name="live-resync" content="{fine}">'


async def test_a_socket_that_falls_behind_is_closed_with_1013_to_resync(app, staff, customers, monkeypatch):
    marie, _ = customers
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 3)
    reader = await signed_in_client(app, staff["advisor"])
    hub = app.extensions["hub"]
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        subscription = await subscription_of(hub, marie)
        for event in range(10):  # far more than it can hold, faster than it can send
            subscription.push(10_000 + event, f'<meta name="live-event" content="{10_000 + event}">')
        with pytest.raises(Exception) as closed:
            for _ in range(10):
                await receive(page, within=2)
    assert "1013" in repr(closed.value) or getattr(closed.value, "code", None) == 1013
    assert subscription.close_code == hub_module.TRY_AGAIN_LATER


async def test_events_waiting_for_a_socket_leave_together_in_order(app, staff, customers, monkeypatch):
    marie, _ = customers
    monkeypatch.setattr(live_module, "SEND_BATCH", 4)
    reader = await signed_in_client(app, staff["advisor"])
    hub = app.extensions["hub"]
    async with reader.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        subscription = await subscription_of(hub, marie)
        for event in range(6):  # queued at once, before the sender runs
            subscription.push(10_000 + event, f'<meta name="live-event" content="{10_000 + event}">')
        messages = [await receive(page), await receive(page)]
    ids = [[int(found) for found in re.findall(r'content="(\d+)"', message)] for message in messages]
    assert ids == [[10_000, 10_001, 10_002, 10_003], [10_004, 10_005]]


async def closed_with(page, within: float = 10.0) -> int | None:
    """Read until the server closes the socket; the close code (None if it never does)."""
    try:
        while True:
            await receive(page, within=within)
    except WebsocketDisconnectError as closed:
        return closed.args[0] if closed.args else None
    except TimeoutError:
        return None


async def test_signing_out_closes_that_users_open_sockets_everywhere(app, staff, customers):
    marie, _ = customers
    page_client = await signed_in_client(app, staff["advisor"])
    other_browser = await signed_in_client(app, staff["advisor"])
    colleague = await signed_in_client(app, staff["operations"])
    async with (
        page_client.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page,
        colleague.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as colleagues_page,
    ):
        await asyncio.sleep(0.2)
        token = await csrf_token_of(other_browser)
        response = await other_browser.post("/logout", form={"csrf_token": token})
        assert response.status_code == 302
        assert await closed_with(page) == hub_module.POLICY_VIOLATION
        assert await closed_with(colleagues_page, within=1.0) is None  # still open


async def test_a_disabled_account_loses_its_open_sockets(app, engine, staff, customers):
    marie, _ = customers
    client = await signed_in_client(app, staff["advisor"])
    async with client.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        async with engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(is_active=False))
        # Another process disabled it: this one notices at its next check, within SESSION_CHECK seconds.
        assert await closed_with(page, within=hub_module.SESSION_CHECK + 5) == hub_module.POLICY_VIOLATION


@pytest.mark.parametrize(("messages", "code"), [(["x" * 2000], 1009), (["ping"] * 25, 1008)])
async def test_a_page_that_sends_too_much_is_disconnected_and_audited(
    app, engine, staff, customers, messages, code
):
    marie, _ = customers
    client = await signed_in_client(app, staff["advisor"])
    async with client.websocket(f"/ws/customers/{marie}", headers=ORIGIN) as page:
        for message in messages:
            await page.send(message)
        assert await closed_with(page) == code
    async with engine.connect() as conn:
        actions = (await conn.execute(select(audit_log.c.action, audit_log.c.details))).all()
    assert any(action == "websocket.closed" and details["status"] == code for action, details in actions)
