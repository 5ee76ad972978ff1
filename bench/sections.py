"""Sections: throughput at saturation, then latency at half of it.

The mix is what Customer 360 pages ask for: every section of a customer's page (the ten of them, profile and
analytics included, as a live refresh asks for them), for customers drawn from the whole database, with the
filters and the second pages advisors use now and then. 32 signed-in clients back to back give the rate at
saturation; then requests at a constant 50 % of that rate, whatever the server does, give the latency an
advisor sees on a busy but not overloaded shop.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from app.sections import SECTIONS
from bench.dataset import Dataset
from bench.load import ADVISOR, closed_loop, open_loop
from bench.report import Figure, at_least, at_most, percentile
from bench.server import database_cpu_seconds

# Now and then an advisor filters or widens a section.
VARIANTS = {
    "activity": ("?kind=payment", "?kind=note", "?kind=call"),
    "invoices": ("?status=paid", "?status=overdue"),
    "work-orders": ("?status=completed",),
    "revenue-chart": ("?months=24",),
}
CLIENTS = 32
PROCESSES = 2


def section_mix(data: Dataset, *, customers: int = 1000, seed: int = 11) -> list[str]:
    """Section URLs of `customers` customers' pages, shuffled: 10 % of them filtered."""
    chooser = random.Random(seed)
    urls = []
    for customer in data.sample[:customers]:
        for name in SECTIONS:
            query = ""
            if name in VARIANTS and chooser.random() < 0.1:
                query = chooser.choice(VARIANTS[name])
            urls.append(f"/customers/{customer}/sections/{name}{query}")
    chooser.shuffle(urls)
    return urls


NO_CACHE = {"Cache-Control": "no-cache"}


def _window(bench, headers: dict[str, str] | None) -> dict:
    """What a saturating and a steady run share: the load processes, the warm-up and the window."""
    return {
        "processes": PROCESSES,
        "warmup": bench.seconds(5),
        "seconds": bench.seconds(30),
        "headers": headers,
    }


def saturate(bench, server, urls: Sequence[str], *, headers: dict[str, str] | None = None) -> dict:
    before, database_before, began = server.usage(), database_cpu_seconds(), time.perf_counter()
    cookie = bench.cookies[ADVISOR]
    result = closed_loop(server.base, cookie, urls, clients=CLIENTS, **_window(bench, headers))
    wall = time.perf_counter() - began
    return {
        # Cores busy over the whole run (warm-up included): where the machine's two went.
        "server_cores": (server.usage().cpu_seconds - before.cpu_seconds) / wall,
        "database_cores": (database_cpu_seconds() - database_before) / wall,
        "rate": result.rate,
        "requests": result.requests,
        "errors": result.errors,
        "p50_ms": percentile(result.latencies_ms, 50),
        "p99_ms": percentile(result.latencies_ms, 99),
    }


def steady(bench, server, urls: Sequence[str], rate: float, *, headers: dict[str, str] | None = None) -> dict:
    cookie = bench.cookies[ADVISOR]
    result = open_loop(server.base, cookie, urls, rate=rate, **_window(bench, headers))
    return {
        "offered_rate": rate,
        "achieved_rate": result.rate,
        "requests": result.requests,
        "errors": result.errors,
        "p50_ms": percentile(result.latencies_ms, 50),
        "p90_ms": percentile(result.latencies_ms, 90),
        "p99_ms": percentile(result.latencies_ms, 99),
        "max_ms": max(result.latencies_ms, default=float("nan")),
    }


def run(bench) -> list[Figure]:
    """As served, from an empty section cache (the mix is 10,000 sections, about what the window asks for:
    nearly every one is read, rendered and kept once); again with the cache holding what that run kept (each
    section asked again with nothing changed since, as when advisors reopen the same customers); then
    computed (every request asks for no cached copy, so every section is read and rendered)."""
    urls = section_mix(bench.big)
    details = bench.details["sections"] = {"customers": 1000, "urls": len(urls)}
    with bench.server() as server:
        bench.empty_cache()
        served = details["served"] = saturate(bench, server, urls)
        kept = bench.cached_sections()
        warm = details["served_warm"] = saturate(bench, server, urls)
        # Sections the warm run had to render, warm-up included: at most that many misses.
        warm["cache_hit_ratio"] = max(0.0, 1 - (bench.cached_sections() - kept) / max(1, warm["requests"]))
        served_half = details["served_half_rate"] = steady(bench, server, urls, served["rate"] / 2)
        computed = details["computed"] = saturate(bench, server, urls, headers=NO_CACHE)
        computed_half = details["computed_half_rate"] = steady(
            bench, server, urls, computed["rate"] / 2, headers=NO_CACHE
        )
    errors = sum(
        sum(part["errors"].values()) for part in (served, warm, served_half, computed, computed_half)
    )
    p99 = served_half["p99_ms"]
    return [
        Figure(
            "Sections",
            f"throughput, {CLIENTS} clients, as served",
            served["rate"],
            "req/s",
            "≥ 1,000",
            at_least(served["rate"], 1000),
            f"cache empty at the start; server {served['server_cores']:.2f} cores, "
            f"MariaDB {served['database_cores']:.2f}",
        ),
        Figure(
            "Sections",
            f"throughput, {CLIENTS} clients, cache warm",
            warm["rate"],
            "req/s",
            note=f"≥ {warm['cache_hit_ratio']:.0%} from the cache; server {warm['server_cores']:.2f} cores, "
            f"MariaDB {warm['database_cores']:.2f}",
        ),
        Figure(
            "Sections",
            f"p50 at {served_half['offered_rate']:,.0f} req/s (open loop)",
            served_half["p50_ms"],
            "ms",
        ),
        Figure(
            "Sections",
            f"p99 at {served_half['offered_rate']:,.0f} req/s (open loop)",
            p99,
            "ms",
            "≤ 25 ms",
            at_most(p99, 25),
        ),
        Figure(
            "Sections",
            f"throughput, {CLIENTS} clients, computed",
            computed["rate"],
            "req/s",
            note=f"no cached copy; server {computed['server_cores']:.2f} cores, "
            f"MariaDB {computed['database_cores']:.2f}",
        ),
        Figure(
            "Sections",
            f"p50 / p99 at {computed_half['offered_rate']:,.0f} req/s, computed",
            computed_half["p50_ms"],
            "ms",
            note=f"p99 {computed_half['p99_ms']:.1f} ms",
        ),
        Figure("Sections", "errors (non-200)", errors, "", "0", errors == 0),
    ]
