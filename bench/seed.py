"""How fast `customer360 seed` fills a database.

    .venv/bin/python -m bench.seed --customers 100000 --database-url mysql://root@127.0.0.1:3306/c360_seedbench

Seeds into the given database (migrated first with --migrate) and prints the wall time, the rows written per
table and the rows per second. It writes into that database: point it at a scratch one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from app.config import parse_database_url
from app.db import create_engine
from app.migrations import upgrade
from app.seed import seed


async def run(args: argparse.Namespace) -> None:
    engine = create_engine(parse_database_url(args.database_url, Path("var")), pool_size=1)
    try:
        if args.migrate:
            await upgrade(engine)
        last_report = 0.0

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal last_report
            now = time.perf_counter()
            if now - last_report >= 10 or done == total:
                last_report = now
                print(f"  {now - started:7.1f} s  {stage}: {done:,}/{total:,}", file=sys.stderr, flush=True)

        started = time.perf_counter()
        counts = await seed(
            engine,
            customers=args.customers,
            seed=args.seed,
            activities_per_customer=args.activities_per_customer,
            progress=progress,
        )
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    total = sum(counts.values())
    print(f"seeded {args.customers:,} customers in {elapsed:.1f} s ({engine.dialect.name})")
    for table, count in counts.items():
        print(f"  {table:<20} {count:>12,}")
    print(f"  {'total':<20} {total:>12,}  ({total / elapsed:,.0f} rows/s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--database-url", required=True, help="mysql://… or sqlite:///…")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--activities-per-customer", type=int, default=50)
    parser.add_argument("--migrate", action="store_true", help="run the migrations first")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
