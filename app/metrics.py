"""Prometheus metrics of the service, summed over all its worker processes.

prometheus-client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set before the client is first imported,
each process keeps its values in memory-mapped files there, and a scrape, answered by whichever worker the
kernel hands it to, reads every process's files. `customer360 serve` points it at a fresh directory for the
workers it starts (app.serving); a single process without it keeps its values in memory.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from quart import Quart, g, request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: a section answers in a few milliseconds, a page in tens, a slow export in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "c360_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (its URL rule, not the path) and section.",
    ["method", "route", "section"],
    buckets=LATENCY_BUCKETS,
)
RESPONSES = Counter("c360_http_responses", "HTTP responses, by route and status.", ["route", "status"])
WEBSOCKETS_OPEN = Gauge(
    "c360_websockets_open",
    "Open WebSockets: customer pages and operations streams.",
    ["kind"],
    multiprocess_mode="livesum",
)
EVENTS_PUBLISHED = Counter("c360_events_published", "Events announced on the broker after their commit.")
EVENTS_DELIVERED = Counter(
    "c360_events_delivered", "Events sent live to open pages: one per event and page that shows it."
)
EVENTS_REPLAYED = Counter(
    "c360_events_replayed", "Events sent from the log to a page that reconnected after missing them."
)
EVENTS_DROPPED = Counter(
    "c360_events_dropped",
    "Events queued for a page but never sent to it: the page fell behind (closed with 1013, it resyncs) or "
    "its socket was closing (the page replays them when it reconnects).",
    ["reason"],
)
BROKER_RECONNECTS = Counter(
    "c360_broker_reconnects", "Times a process's broker subscription came back after the broker was lost."
)
HUB_LAG = Histogram(
    "c360_hub_lag_seconds",
    "From an event's announcement, just after its commit, to its fan-out to the process's open pages.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FULL_COLLECTIONS = Histogram(
    "c360_gc_full_collection_seconds",
    "Full garbage collections of a serving process, each the time it stopped the process: it walks every "
    "object the process tracks, about 240 for each open page.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DB_CONNECTIONS_IN_USE = Gauge(
    "c360_db_connections_in_use",
    "Database connections checked out of the pools.",
    ["database"],
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "c360_db_pool_capacity",
    "Connections the pools may open (size plus overflow).",
    ["database"],
    multiprocess_mode="livesum",
)
CACHE_LOOKUPS = Counter(
    "c360_section_cache_lookups",
    "Section cache lookups: figures (analytics, revenue chart) and rendered HTML, hits and misses.",
    ["layer", "result"],
)


def watch_pool(engine: AsyncEngine, database: str) -> None:
    """Count the engine's connections in use as they are checked out and in (on the engine, not its pool:
    disposing of the engine replaces the pool)."""
    in_use = DB_CONNECTIONS_IN_USE.labels(database)
    pool = engine.sync_engine.pool
    if callable(size := getattr(pool, "size", None)):
        DB_POOL_CAPACITY.labels(database).inc(size() + max(getattr(pool, "_max_overflow", 0), 0))
    event.listen(engine.sync_engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: in_use.dec())


def scrape(accept: str | None) -> tuple[bytes, str]:
    """Every process's figures, in the format the scraper asks for (Prometheus text or OpenMetrics)."""
    encode, content_type = choose_encoder(accept or "")
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return encode(registry), content_type
    return encode(REGISTRY), content_type


# Sections are named by a URL parameter: only known names become label values.
_SECTION_ARGS = ("name", "section")


def init_app(app: Quart) -> None:
    from app.sections import SECTIONS

    @app.before_request
    async def start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    async def observe(response):
        started = g.get("request_started")
        if started is not None:
            rule = request.url_rule
            route = rule.rule if rule is not None else "unmatched"
            section = ""
            if request.view_args:
                section = next(
                    (value for arg in _SECTION_ARGS if (value := request.view_args.get(arg)) in SECTIONS),
                    "",
                )
            REQUEST_SECONDS.labels(request.method, route, section).observe(time.perf_counter() - started)
            RESPONSES.labels(route, str(response.status_code)).inc()
        return response
