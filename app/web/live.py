"""Live pages: the WebSockets of Customer 360 pages and of the operations stream, and the stream's page."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, WebsocketScope
from quart import Blueprint, Quart, Websocket, current_app, g, render_template, websocket
from quart.asgi import ASGIWebsocketConnection

from app.activity import load_stream
from app.db import connection, release_connection
from app.live.hub import POLICY_VIOLATION, Hub, Subscription
from app.live.render import Viewer, resync_message
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
# Events sent in one message at most, when several are waiting for a socket.
SEND_BATCH = 32


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


class Incoming:
    """A socket's received messages, in place of Quart's asyncio.Queue (three deques: 2.3 KiB an open socket).
    Once a view has called `hand_to`, Quart's receiving task gives its check each message as it arrives: no
    task of the view's own waits to read them (another 2 KiB). Until then, or in a view that never calls it,
    they queue for `websocket.receive()`."""

    __slots__ = ("check", "queue")

    def __init__(self) -> None:
        self.check: Callable[[str | bytes], None] | None = None
        self.queue: asyncio.Queue | None = None

    def hand_to(self, check: Callable[[str | bytes], None]) -> None:
        """From now on, give every message to `check`, starting with those already queued."""
        self.check = check
        while self.queue is not None and not self.queue.empty():
            check(self.queue.get_nowait())

    async def put(self, message: str | bytes) -> None:
        if self.check is not None:
            self.check(message)
        else:
            self._queue().put_nowait(message)

    async def get(self) -> str | bytes:
        return await self._queue().get()

    def _queue(self) -> asyncio.Queue:
        if self.queue is None:
            self.queue = asyncio.Queue()
        return self.queue


class SocketConnection(ASGIWebsocketConnection):
    """Quart's, with `Incoming` for its queue, reachable from the view as `websocket.incoming`."""

    def __init__(self, app: Quart, scope: WebsocketScope) -> None:
        super().__init__(app, scope)
        self.queue = Incoming()

    def _create_websocket_from_scope(self, send: ASGISendCallable) -> Websocket:
        created = super()._create_websocket_from_scope(send)
        created.incoming = self.queue
        return created

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        """Quart's runs the view in a task of its own beside the receiver's, and waits for either
        (asyncio.wait: about 2.5 KiB an open socket). Here the view runs in this task, which the receiver
        cancels when the client goes, as Quart's cancelled the view's task; a cancellation from elsewhere
        (the server stopping) still propagates."""
        websocket = self._create_websocket_from_scope(send)
        handler = asyncio.current_task()
        assert handler is not None
        receiver = asyncio.ensure_future(self.handle_messages(receive))
        gone = finished = False

        def client_gone(_receiver: asyncio.Future) -> None:
            nonlocal gone
            if not finished:  # a callback already scheduled when the view ended must not cancel what follows
                gone = True
                handler.cancel()

        receiver.add_done_callback(client_gone)
        try:
            await self.handle_websocket(websocket, send)
        except asyncio.CancelledError:
            if not gone or handler.uncancel() > 0:
                raise
        finally:
            finished = True
            receiver.remove_done_callback(client_gone)
            if not receiver.done():
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
        if not receiver.cancelled() and receiver.exception() is not None:
            raise receiver.exception()


class IncomingLimit:
    """Pages send nothing meaningful: an oversized message (1009) or a flood of them (1008) closes the
    socket, and is in the audit trail (written by the sender, `serve`)."""

    __slots__ = ("code", "reason", "received", "subscription")

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.received: deque[float] | None = None  # the instants of the last window's messages
        self.reason: str | None = None
        self.code: int | None = None

    def __call__(self, message: str | bytes) -> None:
        if self.reason is not None:
            return
        now = time.monotonic()
        if self.received is None:
            self.received = deque()
        self.received.append(now)
        while self.received and self.received[0] < now - INCOMING_WINDOW:
            self.received.popleft()
        if len(message) > MAX_INCOMING:
            self.reason, self.code = "message too big", MESSAGE_TOO_BIG
        elif len(self.received) > MAX_INCOMING_PER_WINDOW:
            self.reason, self.code = "too many messages", POLICY_VIOLATION
        else:
            return
        self.subscription.close(self.code)


def resume_point() -> int | None:
    value = websocket.args.get("after", "")
    return int(value) if value.isdigit() else None


async def serve(customer_id: int | None) -> None:
    viewer = Viewer(role=g.user.role, language=g.user.language)
    after = resume_point()
    # A socket lives for hours: it must not hold one of the pool's connections all that time.
    await release_connection()
    subscription = hub().subscribe(
        customer_id, viewer, user_id=g.user.id, session_version=g.user.session_version
    )
    limit = IncomingLimit(subscription)
    websocket.incoming.hand_to(limit)
    open_sockets = WEBSOCKETS_OPEN.labels("stream" if customer_id is None else "customer")
    open_sockets.inc()
    try:
        await websocket.accept()
        skip_up_to = 0
        if after is not None:
            replayed = await hub().replay(subscription, after)
            if replayed is None:
                await websocket.send(resync_message(subscription.start_watermark))
            else:
                for _, message in replayed:
                    await websocket.send(message)
                EVENTS_REPLAYED.inc(len(replayed))
            skip_up_to = after
        await send_live(subscription, skip_up_to)
    finally:
        open_sockets.dec()
        hub().unsubscribe(subscription)
        subscription.discard_pending()
    if limit.reason is not None:
        auditing.note(reason=limit.reason)
        await auditing.write_after_the_fact("websocket.closed", status=limit.code)
    if subscription.close_code is not None:
        await websocket.close(subscription.close_code)


async def send_live(subscription: Subscription, skip_up_to: int) -> None:
    """Send what the hub pushes, in order, until the subscription is closed. What queued while the previous
    message was going out leaves as one message (up to SEND_BATCH events): the page takes each event's
    elements in turn, and a busy process makes one send, not one per event, to a stream that sees them all."""
    while True:
        await subscription.wake.wait()
        subscription.wake.clear()
        sent = 0
        try:
            while subscription.pending and subscription.close_code is None:
                batch = subscription.pending[:SEND_BATCH]
                del subscription.pending[:SEND_BATCH]
                messages = [message for event_id, message in batch if event_id > skip_up_to]
                if messages:
                    await websocket.send(messages[0] if len(messages) == 1 else "".join(messages))
                    sent += len(messages)
        finally:
            EVENTS_DELIVERED.inc(sent)
        if subscription.close_code is not None:
            return
