"""`make bench`: the figures advisors feel, at production size, on this machine.

    .venv/bin/python -m bench [--only sections,page,...] [--quick] [--profile]

Seeds the bench databases once (bench/dataset.py), then runs each suite against the app served as the
Procfile serves it, with the load from separate processes; prints one table and writes
bench/results/<timestamp>.json. BENCHMARKS.md explains the figures and keeps the latest table.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis

from bench import dataset
from bench.dataset import Dataset, say
from bench.load import ADVISOR, OPERATIONS, sign_in
from bench.profiles import summarize
from bench.report import RESULTS, Figure, save, table
from bench.server import Server

SUITES = ("sections", "floors", "growth", "page", "live", "polling", "servers")
ACCOUNTS = (ADVISOR, OPERATIONS)


@dataclass
class Bench:
    """What every suite gets: the databases, the services, sessions already signed in."""

    mysql: str
    redis_url: str
    big: Dataset
    small: Dataset
    # Cookie headers by account (one sign-in each: the sign-in rate limit is real here too).
    cookies: dict[str, str]
    quick: bool
    details: dict = field(default_factory=dict)
    # With --profile: where py-spy writes each server's stacks, and the suite that is running.
    profiles: Path | None = None
    suite: str = ""
    servers_started: int = 0

    def seconds(self, full: float) -> float:
        """A measuring window: `full` seconds, or a fifth of it (at least 3 s) with --quick."""
        return max(3.0, full / 5) if self.quick else full

    def empty_cache(self) -> None:
        """Forget every rendered section and cached figure (the bench's own Redis database)."""
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter("c360:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])

    def cached_sections(self) -> int:
        """How many rendered sections the cache holds (each one a miss that was kept)."""
        return sum(1 for _ in redis.Redis.from_url(self.redis_url).scan_iter("c360:*:html:*", count=1000))

    def server(self, kind: str = "hypercorn", *, data: Dataset | None = None, **options) -> Server:
        if self.profiles is not None:
            self.servers_started += 1
            options["profile"] = self.profiles / f"{self.servers_started:02}-{self.suite}-{kind}.txt"
        return Server(kind, database_url=(data or self.big).url, redis_url=self.redis_url, **options)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated, of: {', '.join(SUITES)}")
    parser.add_argument("--quick", action="store_true", help="short windows and small counts: a smoke run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server's workers with py-spy during each suite (bench/results/<timestamp>/)",
    )
    parser.add_argument("--mysql", default=os.environ.get("BENCH_MYSQL", "mysql://root@127.0.0.1:3306"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SUITES))
    if unknown:
        parser.error(f"unknown suites {unknown}; choose from {', '.join(SUITES)}")

    # Thousands of sockets: the server and the clients inherit the raised limit.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    started = datetime.now(UTC)
    # The bench's own Redis database: emptied, so that rate-limit counters of earlier runs are gone.
    redis.Redis.from_url(args.redis).flushdb()
    pool = asyncio.run(dataset.set_buffer_pool(args.mysql))
    say(f"MariaDB buffer pool: {pool / 1024**3:.1f} GiB")
    big = asyncio.run(dataset.prepare(args.mysql, "c360_bench", 100_000, heavy=True))
    small = asyncio.run(dataset.prepare(args.mysql, "c360_bench_small", 1_000, heavy=False))
    say(f"c360_bench: {big.customers:,} customers, about {big.activities:,} activities")

    with Server("hypercorn", database_url=big.url, redis_url=args.redis) as server:
        cookies = {email: asyncio.run(sign_in(server.base, email)) for email in ACCOUNTS}
    bench = Bench(args.mysql, args.redis, big, small, cookies, args.quick)
    bench.details["buffer_pool_bytes"] = pool
    if args.profile:
        bench.profiles = RESULTS / started.strftime("%Y%m%dT%H%M%SZ")

    figures: list[Figure] = []
    for name in SUITES:
        if name not in chosen:
            continue
        say(f"running {name}")
        bench.suite = name
        began = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        figures += module.run(bench)
        say(f"{name} done in {time.perf_counter() - began:.0f} s")

    print()
    print(table(figures))
    path = save(figures, bench.details, started)
    print(f"\nwritten to {path.relative_to(path.parent.parent.parent)}")
    if bench.profiles is not None:
        for profile in sorted(bench.profiles.glob("*.txt")):
            print()
            print(summarize(profile))


if __name__ == "__main__":
    sys.exit(main())
