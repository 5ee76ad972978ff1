"""`customer360 migrate | seed | serve | createuser`."""

from __future__ import annotations

import asyncio
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import ConfigError, Settings
from app.db import create_engine, transaction

T = TypeVar("T")


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        click.echo(f"customer360: configuration error: {exc}", err=True)
        sys.exit(2)


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(settings.database_url, pool_size=2)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def describe_database(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ChronoTech Customer 360."""


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version (safe to run again)."""
    from app.migrations import upgrade

    settings = load_settings()
    before, after = run_with_engine(settings, upgrade)
    where = describe_database(settings)
    if before == after:
        click.echo(f"{where}: already at revision {after}, nothing to do")
    else:
        click.echo(f"{where}: upgraded from {before or 'an empty database'} to revision {after}")


@main.command()
@click.option("--customers", type=click.IntRange(1, 10_000_000), default=200, show_default=True)
@click.option("--seed", "seed_value", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--activities-per-customer",
    type=click.IntRange(0, 10_000),
    default=50,
    show_default=True,
    help="Mean length of a customer's activity history.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has customers.")
def seed(customers: int, seed_value: int, activities_per_customer: int, if_empty: bool) -> None:
    """Fill the database with realistic demo data (deterministic for a given --seed)."""
    settings = load_settings()
    from app.seed import seed as write_seed
    from app.tables import customers as customers_table

    progress = Progress()

    async def work(engine: AsyncEngine) -> dict[str, int] | None:
        if if_empty:
            async with transaction(engine) as conn:
                existing = (await conn.execute(select(func.count()).select_from(customers_table))).scalar()
            if existing:
                click.echo(f"The database already has {existing:,} customers: not seeding.")
                return None
        return await write_seed(
            engine,
            customers=customers,
            seed=seed_value,
            activities_per_customer=activities_per_customer,
            timezone=settings.shop_timezone,
            progress=progress,
        )

    started = time.perf_counter()
    counts = run_with_engine(settings, work)
    progress.finish()
    if counts is None:
        return
    elapsed = time.perf_counter() - started
    click.echo(f"Seeded {describe_database(settings)} in {elapsed:.1f} s:")
    width = max(map(len, counts))
    for table, count in counts.items():
        click.echo(f"  {table:<{width}}  {count:>12,}")
    click.echo(f"  {'total':<{width}}  {sum(counts.values()):>12,}")


class Progress:
    """Progress on stderr: one rewritten line on a terminal, a line every 10 % otherwise."""

    def __init__(self) -> None:
        self.interactive = sys.stderr.isatty()
        self.last_reported: dict[str, int] = {}
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        elapsed = time.perf_counter() - self.started
        line = f"seeding {stage}: {done:,}/{total:,} ({percent}%) {elapsed:.0f} s"
        if self.interactive:
            click.echo(f"\r\033[K{line}", nl=False, err=True)
        elif percent // 10 != self.last_reported.get(stage, -1):
            self.last_reported[stage] = percent // 10
            click.echo(line, err=True)

    def finish(self) -> None:
        if self.interactive:
            click.echo("\r\033[K", nl=False, err=True)


@main.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
def serve(workers: int) -> None:
    """Serve the application with Hypercorn (uvloop) on HOST:PORT."""
    from app.serving import serve as serve_app

    settings = load_settings()
    if workers > 1 and settings.redis_url is None:
        raise click.UsageError("several workers need REDIS_URL: the in-process broker serves one process")
    url = f"http://{'127.0.0.1' if settings.host == '0.0.0.0' else settings.host}:{settings.port}"
    click.echo(
        f"Customer 360 on {url}  (database: {describe_database(settings)}, broker: "
        f"{'redis' if settings.redis_url else 'in-process'}, workers: {workers})"
    )
    if not settings.is_production:
        click.echo(
            "Demo sign-ins (from `customer360 seed`): advisor@example.com, operations@example.com, "
            "admin@example.com — password customer360-demo"
        )
    sys.exit(serve_app(settings, workers))


@main.command()
@click.option(
    "--rate", type=click.FloatRange(0.1, 10_000), default=2.0, show_default=True, help="Events a second."
)
@click.option(
    "--customers", type=click.IntRange(1), default=20, show_default=True, help="How many customers."
)
@click.option(
    "--duration", type=click.FloatRange(min=1), default=None, help="Seconds (default: until Ctrl-C)."
)
@click.option("--seed", "seed_value", type=int, default=None, help="Random seed, for a repeatable stream.")
def simulate(rate: float, customers: int, duration: float | None, seed_value: int | None) -> None:
    """Write a realistic live stream (notes, calls, payments, work-order steps) for demos and load tests."""
    settings = load_settings()
    from app.live.broker import create_broker
    from app.simulate import simulate as run_simulation

    def report(tally, elapsed: float) -> None:
        click.echo(
            f"\r\033[K{tally.total:,} events in {elapsed:.0f} s ({tally.total / elapsed:.1f}/s)",
            nl=False,
            err=True,
        )

    async def work(engine: AsyncEngine):
        broker = create_broker(settings.redis_url)
        try:
            return await run_simulation(
                engine,
                broker,
                rate=rate,
                customers_count=customers,
                duration=duration,
                seed=seed_value,
                report=report if sys.stderr.isatty() else None,
            )
        finally:
            await broker.close()

    if settings.redis_url is None:
        click.echo(
            "No REDIS_URL: open pages will pick the events up from the log (within half a second).", err=True
        )
    try:
        tally = run_with_engine(settings, work)
    except KeyboardInterrupt:
        return
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Wrote {tally.total:,} events: "
        + ", ".join(f"{kind} {n:,}" for kind, n in sorted(tally.counts.items()))
    )


@main.command()
@click.argument("email")
@click.option("--role", type=click.Choice(["advisor", "operations", "admin"]), required=True)
@click.option("--name", default="", help="Display name (defaults to the address).")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def createuser(email: str, role: str, name: str, language: str) -> None:
    """Create a staff account; the password is read from standard input."""
    from app.users import UserError, create_user

    settings = load_settings()
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise click.ClickException("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def work(engine: AsyncEngine):
        async with transaction(engine) as conn:
            return await create_user(
                conn, email=email, name=name, role=role, password=password, language=language
            )

    try:
        user = run_with_engine(settings, work)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@main.group()
def token() -> None:
    """API tokens for other ChronoTech modules (`Authorization: Bearer …` on /api/customer360/…)."""


@token.command("create")
@click.argument("email")
@click.option("--name", required=True, help='What calls the API with it, e.g. "billing".')
def token_create(email: str, name: str) -> None:
    """Make a token acting as the account EMAIL (its role decides what the token may do)."""
    from app.tokens import create_token
    from app.users import UserError

    async def work(engine: AsyncEngine) -> str:
        async with transaction(engine) as conn:
            return await create_token(conn, email=email, name=name)

    try:
        secret = run_with_engine(load_settings(), work)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Token {name.strip()!r} made; it is shown this once, keep it in the client's secrets:", err=True
    )
    click.echo(secret)


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token NAME at once."""
    from app.tokens import revoke_token

    async def work(engine: AsyncEngine) -> bool:
        async with transaction(engine) as conn:
            return await revoke_token(conn, name)

    if not run_with_engine(load_settings(), work):
        raise click.ClickException(f"there is no live token named {name!r}")
    click.echo(f"Token {name!r} revoked.")


@token.command("list")
def token_list() -> None:
    """The tokens, live and revoked, with the account each acts as."""
    from app.tokens import list_tokens

    async def work(engine: AsyncEngine):
        async with engine.connect() as conn:
            return await list_tokens(conn)

    for info in run_with_engine(load_settings(), work):
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M} UTC" if info.revoked_at else "live"
        click.echo(f"{info.name}\t{info.email} ({info.role})\tmade {info.created_at:%Y-%m-%d} UTC\t{state}")


if __name__ == "__main__":
    main()
