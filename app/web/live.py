"""Live pages: the WebSockets of Customer 360 pages and of the operations stream, and the stream's page."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from quart import Blueprint, current_app, g, render_template, websocket

from app.activity import load_stream
from app.db import connection, release_connection
from app.live.hub import POLICY_VIOLATION, Hub, Subscription
from app.live.render import Viewer
from app.metrics import EVENTS_DELIVERED, EVENTS_REPLAYED, WEBSOCKETS_OPEN
from app.users import active_staff
from app.web import auditing
from app.web.access import READERS, WATCHERS, allow
from app.web.customers import existing_customer

blueprint = Blueprint("live", __name__)

# Pages send nothing but pings; anything bigger, or more often, is not from our page.
MAX_INCOMING = 1024
MAX_INCOMING_PER_WINDOW = 20
INCOMING_WINDOW = 10.0  # seconds
MESSAGE_TOO_BIG = 1009


def hub() -> Hub:
    return current_app.extensions["hub"]


@blueprint.get("/operations")
@allow(*WATCHERS)
async def operations():
    conn = await connection()
    entries = await load_stream(conn)
    # Everyone who may write, not only the authors of the entries shown: the filter also applies to what
    # arrives while the page is open.
    advisors = await active_staff(conn)
    return await render_template(
        "operations.html", entries=entries, advisors=advisors, watermark=hub().watermark
    )


@blueprint.websocket("/ws/customers/<int:customer_id>")
@allow(*READERS)
async def customer_socket(customer_id: int):
    await existing_customer(customer_id)
    await serve(customer_id)


@blueprint.websocket("/ws/activity")
@allow(*WATCHERS)
async def activity_socket():
    await serve(None)


def resume_point() -> int | None:
    value = websocket.args.get("after", "")
    return int(value) if value.isdigit() else None


async def serve(customer_id: int | None) -> None:
    viewer = Viewer(role=g.user.role, language=g.user.language)
    after = resume_point()
    # A socket lives for hours: it must not hold one of the pool's connections all that time.
    await release_connection()
    await websocket.accept()
    subscription = hub().subscribe(
        customer_id, viewer, user_id=g.user.id, session_version=g.user.session_version
    )
    receiver = asyncio.create_task(drain_incoming(subscription))
    open_sockets = WEBSOCKETS_OPEN.labels("stream" if customer_id is None else "customer")
    open_sockets.inc()
    try:
        skip_up_to = 0
        if after is not None:
            replayed = await hub().replay(subscription, after)
            if replayed is None:
                await websocket.send(
                    await render_template("live/resync.html", watermark=subscription.start_watermark)
                )
            else:
                for _, message in replayed:
                    await websocket.send(message)
                EVENTS_REPLAYED.inc(len(replayed))
            skip_up_to = after
        await send_live(subscription, skip_up_to)
    finally:
        open_sockets.dec()
        receiver.cancel()
        hub().unsubscribe(subscription)
        subscription.discard_pending()
    if subscription.close_code is not None:
        await websocket.close(subscription.close_code)


async def send_live(subscription: Subscription, skip_up_to: int) -> None:
    """Send what the hub pushes, in order, until the subscription is closed."""
    while True:
        await subscription.wake.wait()
        subscription.wake.clear()
        sent = 0
        try:
            while subscription.pending and subscription.close_code is None:
                event_id, message = subscription.pending.popleft()
                if event_id > skip_up_to:
                    await websocket.send(message)
                    sent += 1
        finally:
            EVENTS_DELIVERED.inc(sent)
        if subscription.close_code is not None:
            return


async def drain_incoming(subscription: Subscription) -> None:
    """Pages send nothing meaningful: an oversized message (1009) or a flood of them (1008) closes the
    socket, and is in the audit trail."""
    received: deque[float] = deque()
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            message = await websocket.receive()
            now = time.monotonic()
            received.append(now)
            while received and received[0] < now - INCOMING_WINDOW:
                received.popleft()
            if len(message) > MAX_INCOMING:
                reason, code = "message too big", MESSAGE_TOO_BIG
            elif len(received) > MAX_INCOMING_PER_WINDOW:
                reason, code = "too many messages", POLICY_VIOLATION
            else:
                continue
            auditing.note(reason=reason)
            with contextlib.suppress(Exception):
                await auditing.write("websocket.closed", status=code)
            subscription.close(code)
            return
