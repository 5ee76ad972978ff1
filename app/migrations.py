"""Alembic, driven from the application: `customer360 migrate` and the test fixtures call upgrade()."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "sql"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; returns the revision before and after. At head already, it changes nothing."""
    async with engine.connect() as conn:
        before = await conn.run_sync(current_revision)
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
        await conn.commit()
        after = await conn.run_sync(current_revision)
    return before, after


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def is_at_head(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision) == head_revision()
