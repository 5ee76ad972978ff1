"""Background jobs of every app process. They are idempotent, so running in each process is safe: a guarded
UPDATE lets exactly one process flip a row, and only that one records and announces the change."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from quart import Quart
from sqlalchemy.ext.asyncio import AsyncEngine

from app.invoices import mark_overdue
from app.live.broker import Broker
from app.live.events import commit_and_announce
from app.shop_time import shop_today

log = logging.getLogger(__name__)

OVERDUE_EVERY = 300.0  # seconds


async def mark_overdue_once(engine: AsyncEngine, broker: Broker) -> int:
    """Mark the invoices that went past due, announce each change; returns how many."""
    async with engine.connect() as conn:
        events = await mark_overdue(conn, shop_today())
        await commit_and_announce(conn, broker, events)
    return len(events)


async def overdue_loop(engine: AsyncEngine, broker: Broker) -> None:
    while True:
        try:
            if marked := await mark_overdue_once(engine, broker):
                log.info("jobs: %d invoices went overdue", marked)
        except Exception:
            log.exception("jobs: marking overdue invoices failed; trying again later")
        await asyncio.sleep(OVERDUE_EVERY)


def init_app(app: Quart, engine: AsyncEngine, broker: Broker) -> None:
    tasks: list[asyncio.Task] = []

    @app.before_serving
    async def start_jobs() -> None:
        # Not under APP_ENV=test: tests set up rows with past due dates and expect them left as they are.
        if app.config["SETTINGS"].env != "test":
            tasks.append(asyncio.create_task(overdue_loop(engine, broker), name="jobs-overdue"))

    @app.after_serving
    async def stop_jobs() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        tasks.clear()
