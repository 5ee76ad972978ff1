"""Push vs polling: what keeping 1,000 open Customer 360 pages fresh costs the server, by WebSocket, or by
each page asking for its timeline every 5 seconds (what a page would do without the socket).

Events come from a separate process that writes through the app's own domain code (record the activity,
commit, ring Redis: what `customer360 simulate` does), not through the server, so the server's CPU is what
keeping the pages fresh costs, plus its own background work. They go at 10 a second to random customers among
the 1,000. Each mode gets a fresh server (the Procfile's two Hypercorn workers), and its CPU time (user +
system, whole process tree) is read at the start and the end of the same window:

- idle: no page open, the writer alone: the server's floor (the hub following the log), for comparison.
- push: one socket per customer, open and idle before the window. Staleness: from the commit (the writer's
  clock, right after COMMIT) to the event's arrival on the page's socket.
- polling: every page GETs /customers/<id>/sections/activity as htmx would (HX-Request), every 5 s, the
  pages' polls evenly phased over the period (200 requests a second). Polling starts a period before the
  window and goes on a period after it, so that every event of the window meets a poll. Staleness: from the
  commit to the first poll response of its page whose timeline shows the event.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import aiohttp

from app import activity
from app.config import parse_database_url
from app.db import create_engine
from app.live.broker import create_broker
from app.live.events import announce
from app.simulate import CALLS, NOTES, VISITS
from app.tables import users
from bench.live import Fleet, Written, latest_event_id, run_async, tally
from bench.load import ADVISOR
from bench.report import Figure, at_least, percentile

PAGES = 1_000
POLL_PERIOD = 5.0  # seconds between two polls of one page
POLL_PROCESSES = 2
POLL_CONNECTIONS = 64  # per polling process, kept alive
EVENT_RATE = 10  # events a second, written beside the server
START_DELAY = 3.0  # seconds for the spawned processes to start before the common start time
TARGET_RATIO = 10
SEED = 31

# Every timeline row carries its event id (templates/partials/activity_row.html).
ROW_EVENT_ID = re.compile(r'data-event-id="(\d+)"')


@dataclass
class PollLog:
    """What one polling process saw: the responses that showed events of the window, and the rest in
    counts."""

    # (customer, wall-clock arrival, the event ids newer than the start that the timeline showed)
    showing: list[tuple[int, float, list[int]]] = field(default_factory=list)
    polls: int = 0
    answered_at: list[float] = field(default_factory=list)  # wall-clock arrival of every 200 response
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


# --- The writer ----------------------------------------------------------------------------------------


def write_events(
    database_url: str,
    redis_url: str,
    customers: Sequence[int],
    *,
    rate: float = EVENT_RATE,
    start_at: float,
    seconds: float,
) -> list[Written]:
    """Submitted to a process of its own: notes, calls and visits, `rate` a second from the wall-clock time
    `start_at` for `seconds`, each recorded, committed and announced as the app's own writes are."""
    return run_async(_write_events, database_url, redis_url, list(customers), rate, start_at, seconds)


async def _write_events(database_url, redis_url, customers, rate, start_at, seconds) -> list[Written]:
    rng = random.Random(SEED)
    engine = create_engine(parse_database_url(database_url, None), pool_size=1)
    broker = create_broker(redis_url)
    written: list[Written] = []
    try:
        async with engine.connect() as conn:
            author = (await conn.execute(users.select().where(users.c.role == "advisor").limit(1))).first().id
        for index in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start_at + index / rate - time.time()))
            customer_id = rng.choice(customers)
            kind, texts = rng.choice((("note", NOTES), ("call", CALLS), ("visit", VISITS)))
            async with engine.connect() as conn:
                event_id = await activity.record_activity(
                    conn, customer_id=customer_id, kind=kind, summary=rng.choice(texts)[1], actor_id=author
                )
                # app.live.events.commit_and_announce, in its two steps, to read the clock at the commit.
                await conn.commit()
                written.append(Written(event_id, customer_id, time.time()))
                await announce(broker, [(customer_id, event_id)])
    finally:
        await broker.close()
        await engine.dispose()
    return written


# --- The polling pages ---------------------------------------------------------------------------------


def poll_pages(
    base: str, cookie: str, pages: list[tuple[int, float]], *, after: int, start_at: float, stop_at: float
) -> PollLog:
    """Submitted to a process of its own: each (customer, phase) page polls its timeline at
    start_at + phase + k × POLL_PERIOD until stop_at; noting the events newer than `after` it shows."""
    return run_async(_poll_pages, base, cookie, pages, after, start_at, stop_at)


async def _poll_pages(base, cookie, pages, after, start_at, stop_at) -> PollLog:
    log = PollLog()
    errors: Counter[str] = Counter()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=POLL_CONNECTIONS),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"Cookie": cookie, "HX-Request": "true"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as client:

        async def page(customer_id: int, phase: float) -> None:
            due = start_at + phase
            while due < stop_at:
                await asyncio.sleep(max(0.0, due - time.time()))
                began = time.perf_counter()
                try:
                    async with client.get(f"{base}/customers/{customer_id}/sections/activity") as response:
                        text = await response.text()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    text, status = "", type(exc).__name__
                arrived = time.time()
                log.polls += 1
                if status != 200:
                    errors[str(status)] += 1
                else:
                    log.latencies_ms.append((time.perf_counter() - began) * 1000)
                    log.answered_at.append(arrived)
                    shown = [int(found) for found in ROW_EVENT_ID.findall(text) if int(found) > after]
                    if shown:
                        log.showing.append((customer_id, arrived, shown))
                due += POLL_PERIOD

        await asyncio.gather(*(page(customer_id, phase) for customer_id, phase in pages))
    log.errors = dict(errors)
    return log


def polling_staleness(events: Sequence[Written], logs: Sequence[PollLog]) -> tuple[list[float], int]:
    """Seconds from each event's commit to the first poll response of its page that showed it, and the
    number of events that no poll showed."""
    first_shown: dict[int, float] = {}
    for log in logs:
        for _, arrived, shown in log.showing:
            for event_id in shown:
                if arrived < first_shown.get(event_id, float("inf")):
                    first_shown[event_id] = arrived
    staleness = [first_shown[event.event_id] - event.at for event in events if event.event_id in first_shown]
    return staleness, len(events) - len(staleness)


# --- The three modes -----------------------------------------------------------------------------------


def cpu_over_window(server, start_at: float, seconds: float) -> float:
    """The server's CPU seconds between the wall-clock times start_at and start_at + seconds."""
    time.sleep(max(0.0, start_at - time.time()))
    began = server.usage().cpu_seconds
    time.sleep(max(0.0, start_at + seconds - time.time()))
    return server.usage().cpu_seconds - began


def measure_idle(bench, customers: Sequence[int], seconds: float) -> dict:
    with bench.server() as server, ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        start_at = time.time() + START_DELAY
        writer = pool.submit(
            write_events, bench.big.url, bench.redis_url, customers, start_at=start_at, seconds=seconds
        )
        cpu = cpu_over_window(server, start_at, seconds)
        events = writer.result()
    return {"cpu_seconds": cpu, "events": len(events)}


def measure_push(bench, customers: Sequence[int], seconds: float) -> dict:
    with bench.server() as server:
        after = latest_event_id(bench.big.url)
        with (
            Fleet(server.base, bench.cookies, customers, after=after) as fleet,
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
        ):
            fleet.wait_open()
            start_at = time.time() + START_DELAY
            writer = pool.submit(
                write_events, bench.big.url, bench.redis_url, customers, start_at=start_at, seconds=seconds
            )
            cpu = cpu_over_window(server, start_at, seconds)
            events = writer.result()
            deliveries = tally(events, fleet.collect(events))
    return {
        "cpu_seconds": cpu,
        "events": len(events),
        "mean_staleness_ms": statistics.fmean(deliveries.latencies_ms) if deliveries.latencies_ms else None,
        **deliveries.summary(),
    }


def measure_polling(bench, customers: Sequence[int], seconds: float) -> dict:
    pages = [
        (customer_id, index * POLL_PERIOD / len(customers)) for index, customer_id in enumerate(customers)
    ]
    with (
        bench.server() as server,
        ProcessPoolExecutor(POLL_PROCESSES + 1, mp_context=get_context("spawn")) as pool,
    ):
        after = latest_event_id(bench.big.url)
        start_at = time.time() + START_DELAY
        window_at = start_at + POLL_PERIOD  # every page has polled once: the steady state
        stop_at = window_at + seconds + POLL_PERIOD + 1  # every event of the window meets a poll after it
        pollers = [
            pool.submit(
                poll_pages,
                server.base,
                bench.cookies[ADVISOR],
                pages[index::POLL_PROCESSES],
                after=after,
                start_at=start_at,
                stop_at=stop_at,
            )
            for index in range(POLL_PROCESSES)
        ]
        writer = pool.submit(
            write_events, bench.big.url, bench.redis_url, customers, start_at=window_at, seconds=seconds
        )
        cpu = cpu_over_window(server, window_at, seconds)
        events = writer.result()
        logs = [poller.result() for poller in pollers]
    staleness, unseen = polling_staleness(events, logs)
    latencies = [latency for log in logs for latency in log.latencies_ms]
    in_window = sum(window_at <= at < window_at + seconds for log in logs for at in log.answered_at)
    errors: Counter[str] = Counter()
    for log in logs:
        errors.update(log.errors)
    return {
        "cpu_seconds": cpu,
        "events": len(events),
        "mean_staleness_ms": statistics.fmean(staleness) * 1000 if staleness else None,
        "events_no_poll_showed": unseen,
        "polls": sum(log.polls for log in logs),
        # Polls due in the window: PAGES / POLL_PERIOD a second; fewer answered means the server fell behind.
        "polls_answered_per_second": in_window / seconds,
        "cpu_ms_per_poll": cpu / in_window * 1000 if in_window else None,
        "poll_p50_ms": statistics.median(latencies) if latencies else None,
        "poll_p99_ms": percentile(latencies, 99),
        "poll_errors": dict(errors),
    }


def run(bench) -> list[Figure]:
    customers = bench.big.sample[:PAGES]
    seconds = bench.seconds(60)
    idle = measure_idle(bench, customers, seconds)
    push = measure_push(bench, customers, seconds)
    polling = measure_polling(bench, customers, seconds)
    per_minute = {
        mode: result["cpu_seconds"] / seconds * 60
        for mode, result in (("idle", idle), ("push", push), ("polling", polling))
    }
    ratio = per_minute["polling"] / per_minute["push"] if per_minute["push"] else float("nan")
    above_idle = (per_minute["polling"] - per_minute["idle"]) / max(
        per_minute["push"] - per_minute["idle"], 1e-9
    )
    bench.details["polling"] = {
        "pages": PAGES,
        "events_per_second": EVENT_RATE,
        "poll_period_s": POLL_PERIOD,
        "window_s": seconds,
        "cpu_s_per_minute": per_minute,
        "idle": idle,
        "push": push,
        "polling": polling,
        "ratio": ratio,
        "ratio_above_idle": above_idle,
    }

    def per_page(mode: str) -> str:
        return (
            f"{per_minute[mode] / PAGES * 1000:.2f} ms a minute per page; {per_minute['idle']:.2f} s with no "
            "page open"
        )

    return [
        Figure(
            "Push vs polling", "push: server CPU per minute", per_minute["push"], "s", note=per_page("push")
        ),
        Figure(
            "Push vs polling",
            "polling: server CPU per minute",
            per_minute["polling"],
            "s",
            note=per_page("polling"),
        ),
        Figure(
            "Push vs polling",
            "polling / push CPU per page",
            ratio,
            "×",
            f"≥ {TARGET_RATIO}×",
            at_least(ratio, TARGET_RATIO),
            f"{above_idle:.1f}× above the idle floor",
        ),
        Figure(
            "Push vs polling",
            "push: mean staleness",
            push["mean_staleness_ms"] or float("nan"),
            "ms",
            note=f"{push['deliveries']:,} deliveries; {push['lost']} lost",
        ),
        Figure(
            "Push vs polling",
            "polling: mean staleness",
            polling["mean_staleness_ms"] or float("nan"),
            "ms",
            note=f"a poll every {POLL_PERIOD:.0f} s per page: {polling['polls_answered_per_second']:.0f} "
            f"answered a second of {PAGES / POLL_PERIOD:.0f} due; poll p50 {polling['poll_p50_ms']:.0f} ms",
        ),
    ]
