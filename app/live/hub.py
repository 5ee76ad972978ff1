"""The per-process hub: one broker subscription, one log follower, and fan-out to this process's sockets.

The broker rings the doorbell; the follower releases the events in id order, reading the log only when the
doorbell alone cannot tell (app.live.follower). The hub reads on a connection of its own, in autocommit: each
statement sees what has committed, with no transaction to end and no pool checkout per event. Each event is
rendered once per kind of viewer that has a page open, then queued to every socket concerned.
A socket whose queue is full has fallen behind: it is told to close with 1013 and resyncs on reconnect.
When the broker is unreachable the hub polls the log instead, so live updates keep flowing.

The same subscription carries changes to staff accounts: a change made in any process drops the account from
every process's user cache (app.sessions) and closes the open sockets of a session it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from quart import Quart
from sqlalchemy import and_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import logs
from app.activity import LiveEntry, load_live_entries, load_live_entries_by_id
from app.db import once_more_if_dropped
from app.live.broker import Broker, BrokerUnavailable
from app.live.events import ACTIVITY_CHANNEL, USERS_CHANNEL
from app.live.follower import LogEntry, LogFollower
from app.live.render import Viewer, render_customer_event, render_stream_event, resync_message
from app.metrics import BROKER_RECONNECTS, EVENTS_DROPPED, HUB_LAG
from app.sessions import SESSION_CHECK, UserCache
from app.tables import customer_activities, users

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
# With the broker up the log is read when it rings, and every few seconds as a safety net; without it, often.
POLL_WITH_BROKER = 2.0
POLL_WITHOUT_BROKER = 0.4
# A page that missed more than this many events reloads its sections instead of replaying them.
REPLAY_LIMIT = 200
# Announcement instants kept for the hub's lag, until their event is fanned out.
ANNOUNCED_LIMIT = 10_000

# Close codes of RFC 6455 that the page's WebSocket client reconnects after.
SERVICE_RESTART = 1012
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008  # the session ended (signed out, disabled, role changed) or the page misbehaved
# Open sockets' sessions are checked against the accounts every SESSION_CHECK seconds, and at once when an
# account changes (in this process, or in another one while the broker is up).

# Renders an entry for each of the viewers: {viewer: its HTML}, "" for a viewer with nothing to see.
Renderer = Callable[[Quart, AsyncConnection, LiveEntry, Iterable[Viewer]], Awaitable[dict[Viewer, str]]]
T = TypeVar("T")


class Wake:
    """asyncio.Event for its one waiter, the socket's sender, without the Event's deque of waiters (760 bytes
    an open socket)."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future | None = None

    def set(self) -> None:
        self._set = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


@dataclass(eq=False, slots=True)
class Subscription:
    """One open socket: what it watches (a customer, or the whole shop when customer_id is None)."""

    customer_id: int | None
    viewer: Viewer
    # Events up to this id were released before the socket subscribed: the replay's to send.
    start_watermark: int
    # What is still to be sent, oldest first, and one wake-up, which the sender alone waits on: an
    # asyncio.Queue and a closed event took two helper tasks to wait on both (about 5 KiB a socket). A list,
    # not a deque: an idle socket's deque held an empty block of 64 slots (760 bytes); this one is at most
    # QUEUE_SIZE long.
    pending: list[tuple[int, str]] = field(default_factory=list)
    # Set when there is something to send, or the socket must close.
    wake: Wake = field(default_factory=Wake)
    # Set when the socket must close: SERVICE_RESTART on shutdown, TRY_AGAIN_LATER when it fell behind.
    close_code: int | None = None
    # Whose session the socket lives on: it closes when that session ends.
    user_id: int | None = None
    session_version: int | None = None

    def push(self, event_id: int, message: str) -> None:
        if self.close_code is not None:
            return  # closing: the page replays from the log when it reconnects
        if len(self.pending) >= QUEUE_SIZE:
            self.close(TRY_AGAIN_LATER)
            return
        self.pending.append((event_id, message))
        self.wake.set()

    def discard_pending(self) -> None:
        """Once the socket is closed: count what it was never sent."""
        if self.pending:
            reason = "fell behind" if self.close_code == TRY_AGAIN_LATER else "closing"
            EVENTS_DROPPED.labels(reason).inc(len(self.pending))
            self.pending.clear()

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self.wake.set()


class Hub:
    def __init__(self, app: Quart, engine: AsyncEngine, broker: Broker, users: UserCache) -> None:
        self.app = app
        self.engine = engine
        self.broker = broker
        self.users = users
        self.follower: LogFollower | None = None
        self.broker_up = False
        self._subscriptions: dict[int | None, set[Subscription]] = defaultdict(set)
        self._doorbell = asyncio.Event()
        # The events the broker announced since the follower last looked, in the order they came.
        self._announcements: deque[LogEntry] = deque()
        # When each event the broker rang for was announced (its commit, near enough): the hub's lag.
        self._announced: dict[int, float] = {}
        # The follower's own connection (autocommit), taken at start and again after a failure.
        self._log_connection: AsyncConnection | None = None
        self._session_bell = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    @property
    def watermark(self) -> int:
        return self.follower.watermark if self.follower else 0

    async def start(self) -> None:
        # The follower's connection is taken now, for as long as the process serves: the pool's use is the
        # same before the first event as after it.
        self.follower = await self._with_log_connection(LogFollower.from_end)
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-listen"),
            asyncio.create_task(self._follow(), name="hub-follow"),
            asyncio.create_task(self._watch_sessions(), name="hub-sessions"),
        ]

    def close_sockets(self, code: int) -> None:
        """Ask every open socket of this process to close with `code`."""
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.close(code)

    async def stop(self) -> None:
        """Close every socket with 1012 (pages reconnect to a process that is still serving)."""
        self.close_sockets(SERVICE_RESTART)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._drop_log_connection()

    def subscribe(
        self, customer_id: int | None, viewer: Viewer, *, user_id: int | None = None, session_version: int = 0
    ) -> Subscription:
        subscription = Subscription(
            customer_id, viewer, self.watermark, user_id=user_id, session_version=session_version
        )
        self._subscriptions[customer_id].add(subscription)
        return subscription

    async def user_changed(self, user_id: int) -> None:
        """After the commit of any write to an account's row (sign-out, role, disabled, language…): forget
        it and check open sockets' sessions here at once, then tell the other processes. Without the broker
        they learn within SESSION_CHECK seconds, when their cached copy expires."""
        self._forget_user(user_id)
        try:
            await self.broker.publish(USERS_CHANNEL, str(user_id))
        except BrokerUnavailable as exc:
            log.warning("change of user %s not announced, broker unavailable: %s", user_id, exc)

    def _forget_user(self, user_id: int) -> None:
        self.users.evict(user_id)
        self._session_bell.set()

    async def _watch_sessions(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._session_bell.wait(), SESSION_CHECK)
            self._session_bell.clear()
            try:
                await self.close_ended_sessions()
            except Exception:
                log.exception("live: checking the sessions of open sockets failed; retrying")

    async def close_ended_sessions(self) -> None:
        """Close, with 1008, the sockets whose user signed out everywhere, was disabled or changed role."""
        open_ = [sub for subs in self._subscriptions.values() for sub in subs if sub.user_id is not None]
        if not open_:
            return
        ids = sorted({sub.user_id for sub in open_})
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(users.c.id, users.c.session_version, users.c.is_active, users.c.role).where(
                    users.c.id.in_(ids)
                )
            )
            current = {row.id: row for row in rows}
        for subscription in open_:
            account = current.get(subscription.user_id)
            if (
                account is None
                or not account.is_active
                or account.session_version != subscription.session_version
                or account.role != subscription.viewer.role
            ):
                subscription.close(POLICY_VIOLATION)

    def unsubscribe(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.customer_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.customer_id]

    @property
    def socket_count(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._subscriptions.values())

    async def _listen(self) -> None:
        delay = 0.5
        lost = False  # the subscription was up once and went down: its return is a reconnect
        while True:
            try:
                async for channel, message in self.broker.listen(ACTIVITY_CHANNEL, USERS_CHANNEL):
                    if not self.broker_up:
                        log.info("live: broker %s reachable, following the doorbell", self.broker.name)
                        if lost:
                            BROKER_RECONNECTS.inc()
                    self.broker_up, delay = True, 0.5
                    if channel == USERS_CHANNEL:
                        if message.isdigit():
                            self._forget_user(int(message))
                    else:
                        self._note_announcement(message)
            except BrokerUnavailable as exc:
                if self.broker_up:
                    log.warning("live: broker unreachable (%s); polling the event log meanwhile", exc)
                self.broker_up = False
            except Exception:
                log.exception("live: broker listener failed")
                self.broker_up = False
            lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _note_announcement(self, message: str) -> None:
        self._doorbell.set()
        try:
            announced = json.loads(message)
            entry = LogEntry(int(announced["id"]), int(announced["customer_id"]), announced.get("request"))
            at = float(announced["at"])
        except (ValueError, KeyError, TypeError):
            return  # not ours, or from a version that sent less: a doorbell all the same (the log is read)
        if len(self._announcements) >= ANNOUNCED_LIMIT:
            self._announcements.clear()  # the follower is stuck: the log has them all
        self._announcements.append(entry)
        if entry.id <= self.watermark:
            # Fanned out already, with an event committed just before it whose doorbell rang first: it
            # reached the pages before its own announcement did.
            HUB_LAG.observe(0.0)
            return
        if len(self._announced) >= ANNOUNCED_LIMIT:
            self._announced.clear()  # events given up on, never fanned out: forget them
        self._announced[entry.id] = at

    async def _follow(self) -> None:
        while True:
            timeout = POLL_WITH_BROKER if self.broker_up else POLL_WITHOUT_BROKER
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._doorbell.wait(), timeout)
            self._doorbell.clear()
            try:
                await self._release_and_dispatch()
            except Exception:
                log.exception("live: reading the event log failed; retrying")
                await self._drop_log_connection(broken=True)
                await asyncio.sleep(1.0)

    async def _release_and_dispatch(self) -> None:
        """Release what the announcements allow without reading the log; read it when they do not (a gap,
        a message that was not an announcement, the safety poll's timeout), then fan out."""
        assert self.follower is not None
        entries: list[LogEntry] = []
        read = not self._announcements
        while self._announcements and not read:
            released = self.follower.announced(self._announcements.popleft())
            if released is None:
                read = True
            else:
                entries += released
        if read:
            self._announcements.clear()  # committed before they were announced: the read finds them
            entries += await self._with_log_connection(self.follower.poll)
        if entries:
            await self.dispatch(entries)

    async def _with_log_connection(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`read` on the follower's connection; once more on a new one if the database dropped it (a restart,
        a failover), as the pool's pre-ping would have done."""

        async def attempt() -> T:
            try:
                if self._log_connection is None:
                    self._log_connection = await self.engine.connect()
                    await self._log_connection.execution_options(isolation_level="AUTOCOMMIT")
                return await read(self._log_connection)
            except DBAPIError:
                await self._drop_log_connection(broken=True)
                raise

        return await once_more_if_dropped(attempt)

    async def _drop_log_connection(self, *, broken: bool = False) -> None:
        conn, self._log_connection = self._log_connection, None
        if conn is not None:
            with contextlib.suppress(Exception):
                if broken:
                    await conn.invalidate()
                await conn.close()

    async def dispatch(self, entries: list[LogEntry]) -> None:
        any_stream = None in self._subscriptions
        watched = [entry.id for entry in entries if any_stream or entry.customer_id in self._subscriptions]
        loaded: dict[int, LiveEntry] = {}
        if watched:
            found = await self._with_log_connection(lambda conn: load_live_entries_by_id(conn, watched))
            loaded = {item.activity.id: item for item in found}  # an entry erased since is not found
        for entry in entries:
            if (item := loaded.get(entry.id)) is not None:
                pages, streams = self._subscriptions.get(entry.customer_id), self._subscriptions.get(None)
                with logs.handling(entry.request_id):
                    await self._fan_out(item, pages, render_customer_event)
                    await self._fan_out(item, streams, render_stream_event)
            announced = self._announced.pop(entry.id, None)
            if announced is not None:
                HUB_LAG.observe(max(time.time() - announced, 0.0))

    async def _fan_out(
        self, item: LiveEntry, subscriptions: set[Subscription] | None, render: Renderer
    ) -> None:
        """Render the entry once per kind of viewer among `subscriptions`, then queue it to each of them (all
        rendered before any is queued: a render retried on a new connection queues nothing twice)."""
        if not subscriptions:
            return
        subscriptions = list(subscriptions)
        viewers = {subscription.viewer for subscription in subscriptions}
        try:
            rendered = await self._with_log_connection(lambda conn: render(self.app, conn, item, viewers))
        except Exception:
            # The event's pages must not silently miss it, nor the events after it: they reload their sections
            # (which read the database) and resume after it.
            log.exception("live: rendering event %s failed; its pages reload instead", item.activity.id)
            rendered = dict.fromkeys(viewers, resync_message(item.activity.id))
        for subscription in subscriptions:
            if message := rendered[subscription.viewer]:
                subscription.push(item.activity.id, message)

    async def replay(self, subscription: Subscription, after: int) -> list[tuple[int, str]] | None:
        """The events a page missed, after `after` up to the subscription's start; None when too many, or when
        one cannot be rendered (the page then reloads its sections instead)."""
        if after >= subscription.start_watermark:
            return []
        customer_id, viewer = subscription.customer_id, subscription.viewer
        render = render_customer_event if customer_id is not None else render_stream_event
        log_ids = customer_activities.c.id
        missed = and_(log_ids > after, log_ids <= subscription.start_watermark)
        if customer_id is not None:
            missed = and_(missed, customer_activities.c.customer_id == customer_id)
        async with self.engine.connect() as conn:
            entries = await load_live_entries(conn, missed, limit=REPLAY_LIMIT + 1)
            if len(entries) > REPLAY_LIMIT:
                return None
            messages = []
            for item in entries:
                try:
                    message = (await render(self.app, conn, item, (viewer,)))[viewer]
                except Exception:  # as in the live fan-out: the page reloads its sections instead
                    log.exception("live: replaying event %s failed; the page reloads", item.activity.id)
                    return None
                if message:
                    messages.append((item.activity.id, message))
            return messages
