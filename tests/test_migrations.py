"""Migrations: upgrade to head, idempotent, and the one schema description (app.tables) matches them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.migrations import head_revision, upgrade
from app.tables import metadata


def schema_of(sync_connection) -> dict:
    inspector = inspect(sync_connection)
    return {
        table: (
            [
                (column["name"], str(column["type"]), column["nullable"])
                for column in inspector.get_columns(table)
            ],
            sorted((index["name"], tuple(index["column_names"])) for index in inspector.get_indexes(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


async def test_upgrade_reaches_head_and_a_second_run_changes_nothing(engine):
    before, after = await upgrade(engine)  # the fixture's database is migrated already
    assert before == after == head_revision()
    async with engine.connect() as conn:
        schema = await conn.run_sync(schema_of)
    assert await upgrade(engine) == (head_revision(), head_revision())
    async with engine.connect() as conn:
        assert await conn.run_sync(schema_of) == schema
    assert {"customers", "customer_activities", "invoices", "consent_events", "audit_log"} <= set(schema)


async def test_migrations_build_exactly_the_schema_of_app_tables(engine):
    async with engine.connect() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    assert differences == []


async def test_every_section_query_has_its_index(engine):
    async with engine.connect() as conn:
        indexes = await conn.run_sync(
            lambda sync: {
                table: {tuple(index["column_names"]) for index in inspect(sync).get_indexes(table)}
                for table in inspect(sync).get_table_names()
            }
        )
    # Keyset pages of each section: the filter columns, then the sort key, then the id.
    assert ("customer_id", "occurred_at", "id") in indexes["customer_activities"]
    assert ("customer_id", "kind", "occurred_at", "id") in indexes["customer_activities"]
    assert ("customer_id", "id") in indexes["customer_activities"]
    assert ("customer_id", "issued_on", "id") in indexes["invoices"]
    assert ("customer_id", "status", "issued_on", "id") in indexes["invoices"]
    assert ("customer_id", "status", "opened_at", "id") in indexes["work_orders"]
    assert ("customer_id", "uploaded_at", "id") in indexes["documents"]
    assert ("customer_id", "created_at", "id") in indexes["emails"]
    assert ("customer_id", "occurred_at", "id") in indexes["consent_events"]
    assert ("kind", "search_key") in indexes["customer_contacts"]
    assert ("plate_key",) in indexes["vehicles"]
