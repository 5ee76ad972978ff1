"""Live: thousands of open pages, and how soon a committed event reaches each of them.

For each count of open Customer 360 pages (1,000, 5,000 and 10,000), a fresh server (the Procfile's two
Hypercorn workers) gets that many WebSockets, spread evenly over 1,000 customers so that every event goes to
pages / 1,000 pages of its customer, plus 20 operations streams that every event goes to. Four spawned client
processes hold the sockets; they open them at a fixed rate, with few handshakes in flight, so that Hypercorn's
listen backlog (100) never overflows and no connection waits on a SYN retry.

What is measured, and how:

- RSS per open page: the resident memory of the server's whole process tree once every socket is open and
  idle, less what it was before the first one opened, divided by the number of sockets (pages and streams).
- commit→page latency: a writer process posts notes through the JSON API at a constant 100 events/s (open
  loop: a slow answer does not delay the next request; a request due while the writer's 8 connections are
  all busy waits for one), over the four API tokens, each to a random watched customer, after a few seconds
  of the same to warm the fresh server up. Every client notes the wall-clock time each event id arrives on
  each socket (same machine, same clock). The latency counts from when the request was due, so it includes
  the API call itself (parsing, the INSERT, the COMMIT): an upper bound of commit→page.
- lost / duplicated: every event is due once on every socket watching its customer and once on every
  stream. Deliveries are awaited as long as they keep coming; one still missing when none has come for
  QUIET seconds is lost; an event that arrives twice on one socket is a duplicate. A socket the server
  closes is counted, and reconnects as the page does (resuming after the last event it showed), so a close
  should cost latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import random
import re
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import NamedTuple

import aiohttp
from sqlalchemy import func, select

from app.config import parse_database_url
from app.db import create_engine
from app.tables import customer_activities
from bench.load import ADVISOR, OPERATIONS
from bench.report import Figure, at_most, percentile
from bench.server import database_cpu_seconds

PAGE_COUNTS = (1_000, 5_000, 10_000)
QUICK_PAGE_COUNTS = (200, 1_000)
CUSTOMERS = 1_000  # the watched customers: an event reaches pages / CUSTOMERS pages
STREAMS = 20  # operations streams: every event reaches each of them
CLIENT_PROCESSES = 4
# Handshakes a second (all client processes together), and at most OPEN_IN_FLIGHT at once per process: far
# below the listen backlog, whatever the server's pace.
OPEN_RATE = 500
OPEN_IN_FLIGHT = 16
EVENT_RATE = 100  # events a second, through the JSON API
# The writer's connections, as a module's HTTP client pool would hold: a request due while all are busy waits
# for one, and its latency counts that wait (it runs from when the event was due, not from when it left).
# So the writer can post at most WRITER_CONNECTIONS / (an API call's time) a second: the writer's capacity,
# measured first with no page open.
WRITER_CONNECTIONS = 8
WARMUP = 3.0  # seconds of events before the counted ones
# After the last event, deliveries are awaited as long as they keep coming: until none has come for QUIET
# seconds (then the missing ones are lost), and at most DRAIN_LIMIT seconds.
QUIET = 10.0
DRAIN_LIMIT = 120.0
TARGET_PAGES = 10_000
TARGET_P99_MS = 100
TARGET_RSS_KIB = 40
SEED = 23

# Every pushed message names its event (templates/live/*.html); a resync names where the page resumes.
EVENT_ID = re.compile(r'<meta name="live-event" content="(\d+)"')
RESYNC = re.compile(r'<meta name="live-resync" content="(\d+)"')
# A refusal that retrying cannot cure: the bench's own mistake (cookie, origin, customer), not load.
FATAL_HANDSHAKE = frozenset({400, 401, 403, 404})


class Written(NamedTuple):
    """An event in the log: its id, its customer, and when it was written (wall clock, `time.time()`)."""

    event_id: int
    customer_id: int
    at: float
    # Through the API, `at` is when the request was due, and this when its answer came (after the commit).
    answered: float | None = None


@dataclass
class SocketLog:
    """What one client socket saw: each event id with its wall-clock arrival, and how its connection went."""

    customer_id: int | None  # None: an operations stream
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    # Close codes of the closes the client did not ask for (None: the connection dropped without one).
    closes: list[int | None] = field(default_factory=list)
    failed_handshakes: int = 0
    resyncs: int = 0


@dataclass
class Deliveries:
    """Sockets' arrivals matched against what each was due."""

    latencies_ms: list[float]
    # From the API's answer instead (a lower bound of commit→page: the commit happened before the answer).
    from_answer_ms: list[float]
    expected: int
    lost: int
    duplicated: int
    misdelivered: int  # an event on a page of another customer
    closes: Counter
    failed_handshakes: int
    resyncs: int

    def summary(self) -> dict:
        return {
            "deliveries": len(self.latencies_ms),
            "expected": self.expected,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "misdelivered": self.misdelivered,
            "unexpected_closes": {str(code): count for code, count in self.closes.items()},
            "failed_handshakes": self.failed_handshakes,
            "resyncs": self.resyncs,
            "p50_ms": percentile(self.latencies_ms, 50),
            "p99_ms": percentile(self.latencies_ms, 99),
            "max_ms": max(self.latencies_ms, default=math.nan),
            **(
                {
                    "from_answer_p50_ms": percentile(self.from_answer_ms, 50),
                    "from_answer_p99_ms": percentile(self.from_answer_ms, 99),
                }
                if self.from_answer_ms
                else {}
            ),
        }


def tally(events: Sequence[Written], sockets: Sequence[SocketLog]) -> Deliveries:
    """Each socket was due every event of its customer (a page) or every event (a stream), once; the
    latency of a delivery runs from the event's `at` to its first arrival on that socket."""
    written_at = {event.event_id: event.at for event in events}
    answered_at = {event.event_id: event.answered for event in events if event.answered is not None}
    by_customer: dict[int, list[int]] = defaultdict(list)
    for event in events:
        by_customer[event.customer_id].append(event.event_id)
    result = Deliveries([], [], 0, 0, 0, 0, Counter(), 0, 0)
    for socket in sockets:
        due = list(written_at) if socket.customer_id is None else by_customer.get(socket.customer_id, [])
        first: dict[int, float] = {}
        for event_id, arrived in socket.arrivals:
            if event_id in first:
                result.duplicated += 1
            else:
                first[event_id] = arrived
        for event_id in due:
            if event_id in first:
                result.latencies_ms.append((first[event_id] - written_at[event_id]) * 1000)
                if event_id in answered_at:
                    result.from_answer_ms.append((first[event_id] - answered_at[event_id]) * 1000)
            else:
                result.lost += 1
        result.expected += len(due)
        due_here = set(due)
        result.misdelivered += sum(event_id in written_at and event_id not in due_here for event_id in first)
        result.closes.update(socket.closes)
        result.failed_handshakes += socket.failed_handshakes
        result.resyncs += socket.resyncs
    return result


# --- The client processes ------------------------------------------------------------------------------


class Fleet:
    """WebSockets held open by spawned client processes, each with an equal share of them.

        with Fleet(base, cookies, watched, after=latest) as fleet:
            fleet.wait_open()                  # returns once every socket is open
            ...                                # events happen
            sockets = fleet.collect(events)    # what every socket received

    `watched` holds, for each socket, the customer whose page it is, or None for an operations stream.
    Sockets open resuming after `after` (the log's last id), as a page rendered at that moment would.
    """

    def __init__(
        self,
        base: str,
        cookies: dict[str, str],
        watched: Sequence[int | None],
        *,
        after: int,
        processes: int = CLIENT_PROCESSES,
    ) -> None:
        context = get_context("spawn")
        self.sockets = len(watched)
        self._pipes: list[Connection] = []
        self._processes = []
        for index in range(processes):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_client_process,
                args=(theirs, base, cookies, list(watched[index::processes]), after, OPEN_RATE / processes),
                kwargs={"seed": SEED + index},
                name=f"live-client-{index}",
                daemon=True,
            )
            self._pipes.append(ours)
            self._processes.append(process)

    def __enter__(self) -> Fleet:
        for process in self._processes:
            process.start()
        return self

    def wait_open(self) -> float:
        """Block until every socket is open; returns the seconds the slowest process took."""
        timeout = 120 + 10 * self.sockets / OPEN_RATE
        return max(reply["seconds"] for reply in self._replies(timeout))

    def collect(self, events: Sequence[Written]) -> list[SocketLog]:
        """Hand every client the events written; each waits until its sockets have all they were due (or
        none has come for QUIET seconds), then returns what they received and closes them."""
        due = [(event.event_id, event.customer_id) for event in events]
        for pipe in self._pipes:
            pipe.send(("collect", due))
        return [log for reply in self._replies(DRAIN_LIMIT + 60) for log in reply]

    def _replies(self, timeout: float) -> list:
        """The next message of every client process; raises if one fails, dies or stays silent."""
        replies: dict[int, object] = {}
        deadline = time.monotonic() + timeout
        while len(replies) < len(self._pipes):
            waiting = [index for index in range(len(self._pipes)) if index not in replies]
            handles = [self._pipes[index] for index in waiting]
            handles += [self._processes[index].sentinel for index in waiting]
            if not wait(handles, max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"live clients {waiting} silent for {timeout:.0f} s")
            for index in waiting:
                pipe, process = self._pipes[index], self._processes[index]
                try:
                    message = pipe.recv() if pipe.poll() else None
                except EOFError:
                    message = None
                if message is not None:
                    kind, payload = message
                    if kind == "error":
                        raise RuntimeError(f"live client {index} failed: {payload}")
                    replies[index] = payload
                elif not process.is_alive():
                    process.join()
                    raise RuntimeError(f"live client {index} exited with {process.exitcode}")
        return [replies[index] for index in range(len(self._pipes))]

    def __exit__(self, *exc: object) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop", None))
        for process in self._processes:
            process.join(timeout=20)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for pipe in self._pipes:
            pipe.close()


def _client_process(pipe: Connection, base: str, cookies: dict[str, str], watched, after, open_rate, *, seed):
    try:
        run_async(_hold_sockets, pipe, base, cookies, watched, after, open_rate, seed)
    except BaseException as exc:  # the parent must hear of it, whatever it is
        with contextlib.suppress(OSError):
            pipe.send(("error", repr(exc)))
        raise


class _Pending:
    """The due deliveries that have not arrived yet, over all the sockets of a client process."""

    def __init__(self) -> None:
        self.count = 0
        self.arrival = asyncio.Event()

    def arrived(self) -> None:
        self.count -= 1
        self.arrival.set()

    async def drain(self) -> None:
        """Until every due delivery is in, or none has come for QUIET seconds (at most DRAIN_LIMIT)."""
        deadline = time.monotonic() + DRAIN_LIMIT
        while self.count and (left := deadline - time.monotonic()) > 0:
            self.arrival.clear()
            try:
                await asyncio.wait_for(self.arrival.wait(), min(QUIET, left))
            except TimeoutError:
                return


class _Socket:
    """One socket of a client process: a Customer 360 page, or an operations stream; reconnects like one."""

    def __init__(self, customer_id: int | None, after: int) -> None:
        self.log = SocketLog(customer_id)
        self.path = "/ws/activity" if customer_id is None else f"/ws/customers/{customer_id}"
        self.last_id = after  # the page's live.lastEventId: where a reconnection resumes
        self.opened = asyncio.Event()
        self.missing: set[int] = set()
        self.pending: _Pending | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    def receive(self, text: str, arrived: float) -> None:
        for match in EVENT_ID.finditer(text):
            event_id = int(match[1])
            self.log.arrivals.append((event_id, arrived))
            self.last_id = max(self.last_id, event_id)
            if event_id in self.missing:
                self.missing.remove(event_id)
                self.pending.arrived()
        if resync := RESYNC.search(text):  # the page reloads its sections and resumes from there
            self.log.resyncs += 1
            self.last_id = max(self.last_id, int(resync[1]))

    def expect(self, event_ids: list[int], pending: _Pending) -> None:
        self.missing = set(event_ids) - {event_id for event_id, _ in self.log.arrivals}
        self.pending = pending
        pending.count += len(self.missing)

    async def keep_open(self, session, base, headers, gate: asyncio.Semaphore, rng, stopping) -> None:
        retries = 0
        while not stopping.is_set():
            try:
                async with gate:
                    self.ws = await session.ws_connect(
                        base + self.path, params={"after": self.last_id}, headers=headers
                    )
                if stopping.is_set():  # opened while the client was closing its sockets
                    await self.ws.close()
                    return
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in FATAL_HANDSHAKE:
                    raise
                self.log.failed_handshakes += 1
            except (aiohttp.ClientError, OSError, TimeoutError):
                self.log.failed_handshakes += 1
            else:
                self.opened.set()
                retries = 0
                async for message in self.ws:
                    arrived = time.time()
                    if message.type is aiohttp.WSMsgType.TEXT:
                        self.receive(message.data, arrived)
                    elif message.type is aiohttp.WSMsgType.ERROR:
                        break
                if stopping.is_set():
                    return
                self.log.closes.append(self.ws.close_code)
            # As static/app.js does: a random delay under a ceiling that doubles, at most 10 s.
            retries += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), min(2 ** (retries - 1), 10) * rng.random())


async def _hold_sockets(pipe, base, cookies, watched, after, open_rate, seed) -> None:
    """A client process's life: open its sockets at `open_rate` and say ("open", …); on ("collect", events)
    wait for the deliveries due and send ("sockets", logs); then close the sockets."""
    rng = random.Random(seed)
    sockets = [_Socket(customer_id, after) for customer_id in watched]
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(OPEN_IN_FLIGHT)
    headers = {
        "page": {"Cookie": cookies[ADVISOR], "Origin": base},
        "stream": {"Cookie": cookies[OPERATIONS], "Origin": base},
    }
    connector = aiohttp.TCPConnector(limit=0)  # the default of 100 would cap the open sockets
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with (
        aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout
        ) as session,
        asyncio.TaskGroup() as group,  # a socket that fails for good fails the whole process
    ):
        began = time.perf_counter()
        for index, socket in enumerate(sockets):
            await asyncio.sleep(max(0.0, began + index / open_rate - time.perf_counter()))
            kind = "page" if socket.log.customer_id is not None else "stream"
            group.create_task(socket.keep_open(session, base, headers[kind], gate, rng, stopping))
        await asyncio.gather(*(socket.opened.wait() for socket in sockets))
        # What this process holds now lives until it ends: out of the collector's sight, its full collections
        # (0.7 s each with 2,500 sockets held) no longer add a pause of the load generator's own to the
        # latencies it records.
        gc.collect()
        gc.freeze()
        pipe.send(("open", {"seconds": time.perf_counter() - began}))

        command, events = await _next_command(pipe)
        if command == "collect":
            by_customer: dict[int, list[int]] = defaultdict(list)
            for event_id, customer_id in events:
                by_customer[customer_id].append(event_id)
            every_event = [event_id for event_id, _ in events]
            pending = _Pending()
            for socket in sockets:
                customer_id = socket.log.customer_id
                socket.expect(every_event if customer_id is None else by_customer[customer_id], pending)
            await pending.drain()
            pipe.send(("sockets", [socket.log for socket in sockets]))

        stopping.set()
        open_ = [socket.ws for socket in sockets if socket.ws is not None and not socket.ws.closed]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in open_), return_exceptions=True), 15)


async def _next_command(pipe: Connection) -> tuple:
    """The parent's next message, awaited without blocking the sockets' loop."""
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(pipe.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        await readable
    finally:
        loop.remove_reader(pipe.fileno())
        # The loop made the pipe non-blocking; a message of several MB is read, and later sent, whole.
        os.set_blocking(pipe.fileno(), True)
    try:
        return pipe.recv()
    except EOFError:  # the parent is gone
        return ("stop", None)


def run_async(function, *args):
    """Run `function(*args)` in this process's own event loop: uvloop, as the server has."""
    import uvloop

    return uvloop.run(function(*args))


# --- The writer ----------------------------------------------------------------------------------------


def post_events(
    base: str,
    tokens: Sequence[str],
    customers: Sequence[int],
    *,
    rate: float,
    warmup: float,
    seconds: float,
    seed: int,
) -> tuple[list[Written], list[float], dict[str, int]]:
    """In a process of its own: notes posted through the JSON API at `rate` a second, each to a random one
    of `customers`, over the tokens in turn, for `warmup` seconds (not counted: a fresh server loads its
    templates and locale data on the first events) and then `seconds`. Returns the counted events (`at`:
    when the request was due), each call's time from then (ms) and the failures by status."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        job = pool.submit(
            run_async, _post_events, base, list(tokens), list(customers), rate, warmup, seconds, seed
        )
        return job.result()


async def _post_events(base, tokens, customers, rate, warmup, seconds, seed):
    rng = random.Random(seed)
    total, counted_from = int(rate * (warmup + seconds)), int(rate * warmup)
    plan = [(rng.choice(customers), tokens[index % len(tokens)]) for index in range(total)]
    events: list[Written] = []
    api_ms: list[float] = []
    errors: Counter[str] = Counter()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=WRITER_CONNECTIONS), timeout=aiohttp.ClientTimeout(total=30)
    ) as client:

        async def post(index: int, customer_id: int, token: str) -> None:
            due, began = time.time(), time.perf_counter()
            try:
                async with client.post(
                    f"{base}/api/customer360/{customer_id}/activity",
                    json={"kind": "note", "summary": f"Bench live event {index}"},
                    headers={"Authorization": f"Bearer {token}"},
                ) as response:
                    status = response.status
                    body = await response.json() if status == 201 else None
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, body = type(exc).__name__, None
            if index < counted_from:
                return
            if body is None:
                errors[str(status)] += 1
                return
            api_ms.append((time.perf_counter() - began) * 1000)
            events.append(Written(body["id"], customer_id, due, time.time()))

        began = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for index, (customer_id, token) in enumerate(plan):
                await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
                group.create_task(post(index, customer_id, token))
    return sorted(events), api_ms, dict(errors)


def writer_capacity(base: str, tokens: Sequence[str], customers: Sequence[int], seconds: float) -> int:
    """In a process of its own: notes posted as fast as the server answers them, WRITER_CONNECTIONS at a
    time (closed loop), for a second of warm-up and then `seconds`; returns how many were written in those
    `seconds`."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        job = pool.submit(run_async, _post_flat_out, base, list(tokens), list(customers), seconds)
        return job.result()


async def _post_flat_out(base, tokens, customers, seconds):
    rng = random.Random(SEED)
    written = 0
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=WRITER_CONNECTIONS), timeout=aiohttp.ClientTimeout(total=30)
    ) as client:

        async def poster(number: int, warm_until: float, until: float) -> None:
            nonlocal written
            while (now := time.perf_counter()) < until:
                async with client.post(
                    f"{base}/api/customer360/{rng.choice(customers)}/activity",
                    json={"kind": "note", "summary": "Bench writer capacity"},
                    headers={"Authorization": f"Bearer {tokens[number % len(tokens)]}"},
                ) as response:
                    await response.read()
                if response.status == 201 and now >= warm_until:
                    written += 1

        began = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for number in range(WRITER_CONNECTIONS):
                group.create_task(poster(number, began + 1, began + 1 + seconds))
    return written


def latest_event_id(database_url: str) -> int:
    """The last id of the event log: where a page rendered now would resume from."""

    async def read() -> int:
        engine = create_engine(parse_database_url(database_url, None), pool_size=1)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(select(func.max(customer_activities.c.id)))).scalar() or 0
        finally:
            await engine.dispose()

    return asyncio.run(read())


# --- The suite -----------------------------------------------------------------------------------------


def measure(bench, pages: int) -> dict:
    """One server, `pages` open pages and the streams: memory once idle, then a window of events."""
    customers = bench.big.sample[:CUSTOMERS]
    watched = [customers[index % len(customers)] for index in range(pages)] + [None] * STREAMS
    seconds = bench.seconds(30)
    with bench.server() as server:
        capacity = {}
        if pages == (QUICK_PAGE_COUNTS if bench.quick else PAGE_COUNTS)[0]:
            capacity = measure_writer(bench, server, customers)
        after = latest_event_id(bench.big.url)
        before = server.usage().rss_bytes
        with Fleet(server.base, bench.cookies, watched, after=after) as fleet:
            open_seconds = fleet.wait_open()
            idle = server.usage().rss_bytes
            events, api_ms, errors = post_events(
                server.base,
                bench.big.api_tokens,
                customers,
                rate=EVENT_RATE,
                warmup=WARMUP,
                seconds=seconds,
                seed=SEED,
            )
            deliveries = tally(events, fleet.collect(events))
        collections, paused = full_collections(server)
    return {
        "pages": pages,
        "streams": STREAMS,
        "open_seconds": open_seconds,
        "rss_before_bytes": before,
        "rss_open_bytes": idle,
        "rss_per_socket_kib": (idle - before) / len(watched) / 1024,
        "window_s": seconds,
        "events_due": int(EVENT_RATE * seconds),
        "events": len(events),
        "writer_errors": errors,
        "api_p50_ms": percentile(api_ms, 50),
        "api_p99_ms": percentile(api_ms, 99),
        **capacity,
        "full_collections": collections,
        "full_collection_seconds": paused,
        **deliveries.summary(),
    }


def full_collections(server) -> tuple[float, float]:
    """The full collections the server's workers have run, and their pauses in all (s), from /metrics (one
    at each worker's start included)."""
    with urllib.request.urlopen(f"{server.base}/metrics", timeout=10) as response:
        text = response.read().decode()
    figures = dict(re.findall(r"^c360_gc_full_collection_seconds_(count|sum) (\S+)$", text, re.MULTILINE))
    return float(figures.get("count", math.nan)), float(figures.get("sum", math.nan))


def measure_writer(bench, server, customers) -> dict:
    """The writer's capacity on this server before any page opens, and what each note costs."""
    seconds = bench.seconds(10)
    before, database_before = server.usage().cpu_seconds, database_cpu_seconds()
    written = writer_capacity(server.base, bench.big.api_tokens, customers, seconds)
    server_cpu, database_cpu = server.usage().cpu_seconds - before, database_cpu_seconds() - database_before
    return {
        "writer_capacity_per_s": written / seconds,
        # CPU over the warm-up second too, shared out over the notes counted: an upper bound.
        "writer_server_cpu_ms": server_cpu / max(written, 1) * 1000,
        "writer_database_cpu_ms": database_cpu / max(written, 1) * 1000,
    }


def figures_for(result: dict, floor_ms: float | None = None) -> list[Figure]:
    """The figures of one run; floor_ms is the floors suite's raw Redis publish → receive p50, if it ran."""
    pages = result["pages"]
    over_floor = f"; {result['p50_ms'] / floor_ms:,.0f}× the raw Redis floor" if floor_ms else ""
    at_target = pages == TARGET_PAGES
    p99 = result["p99_ms"]
    wrong = result["lost"] + result["duplicated"]
    closed = sum(result["unexpected_closes"].values())
    answered_p50 = result.get("from_answer_p50_ms", math.nan)
    answered_p99 = result.get("from_answer_p99_ms", math.nan)
    capacity = []
    if "writer_capacity_per_s" in result:
        capacity.append(
            Figure(
                "Live",
                "writer capacity, no page open",
                result["writer_capacity_per_s"],
                "notes/s",
                note=f"{WRITER_CONNECTIONS} connections, each posting when its last note is answered; "
                f"≤ {result['writer_server_cpu_ms']:.1f} ms of server CPU a note, "
                f"≤ {result['writer_database_cpu_ms']:.1f} ms of MariaDB's; the suite posts {EVENT_RATE}/s",
            )
        )
    return [
        *capacity,
        Figure(
            "Live",
            f"p50 commit→page ({pages:,} pages)",
            result["p50_ms"],
            "ms",
            note=f"{result['deliveries']:,} deliveries; API call p50 {result['api_p50_ms']:.0f} ms, "
            f"from its answer {answered_p50:.0f} ms{over_floor}",
        ),
        Figure(
            "Live",
            f"p99 commit→page ({pages:,} pages)",
            p99,
            "ms",
            f"≤ {TARGET_P99_MS} ms" if at_target else None,
            at_most(p99, TARGET_P99_MS) if at_target else None,
            f"API call p99 {result['api_p99_ms']:.0f} ms, from its answer {answered_p99:.0f} ms; "
            f"{result['events']:,} of {result['events_due']:,} events written; "
            f"{result['full_collections']:.0f} full collections ({result['full_collection_seconds']:.2f} s), "
            "the workers' first included",
        ),
        Figure(
            "Live",
            f"lost / duplicated ({pages:,} pages)",
            wrong,
            "events",
            "0",
            wrong == 0 and result["expected"] > 0,
            f"{result['lost']:,} lost, {result['duplicated']:,} duplicated of {result['expected']:,}; "
            f"{closed} sockets closed by the server",
        ),
        Figure(
            "Live",
            f"RSS per open page ({pages:,})",
            result["rss_per_socket_kib"],
            "KiB",
            f"≤ {TARGET_RSS_KIB} KiB",
            at_most(result["rss_per_socket_kib"], TARGET_RSS_KIB),
            f"{(result['rss_open_bytes'] - result['rss_before_bytes']) / 1024**2:.0f} MiB for "
            f"{pages + STREAMS:,} sockets, open in {result['open_seconds']:.0f} s",
        ),
    ]


def run(bench) -> list[Figure]:
    results = [measure(bench, pages) for pages in (QUICK_PAGE_COUNTS if bench.quick else PAGE_COUNTS)]
    bench.details["live"] = results
    floor_ms = bench.details.get("floors", {}).get("redis_publish_to_receive", {}).get("p50_ms")
    return [figure for result in results for figure in figures_for(result, floor_ms)]
