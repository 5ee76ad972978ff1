"""Migrations: upgrade to head, idempotent, and the one schema description (app.tables) matches them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
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


# Operations that can break the version still serving while `release: customer360 migrate` runs.
CONTRACTING = {
    "drop_column",
    "drop_table",
    "drop_index",
    "drop_constraint",
    "alter_column",
    "rename_table",
    "execute",
}
VERSIONS = sorted((Path(__file__).resolve().parent.parent / "sql" / "versions").glob("*.py"))


def upgrade_calls(path: Path) -> tuple[str, list[ast.Call]]:
    module = ast.parse(path.read_text())
    upgrade_function = next(
        node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
    )
    return ast.get_docstring(module) or "", [
        node for node in ast.walk(upgrade_function) if isinstance(node, ast.Call)
    ]


def added_columns_the_old_version_cannot_fill(calls: list[ast.Call]) -> list[str]:
    """Columns added NOT NULL without a server default: the previous version's inserts would fail."""
    found = []
    for call in calls:
        if not (isinstance(call.func, ast.Attribute) and call.func.attr == "add_column"):
            continue
        column = next(arg for arg in call.args if isinstance(arg, ast.Call))
        keywords = {keyword.arg: keyword.value for keyword in column.keywords}
        not_null = isinstance(keywords.get("nullable"), ast.Constant) and keywords["nullable"].value is False
        if not_null and "server_default" not in keywords:
            found.append(ast.unparse(column))
    return found


@pytest.mark.parametrize("path", VERSIONS, ids=[path.stem for path in VERSIONS])
def test_each_migration_is_expand_only_unless_it_says_it_contracts(path):
    """docs/deploy.md: migrations run while the previous version serves, so they only add (tables, nullable
    or defaulted columns, indexes); a removal ships as a "Contract:" migration one release after the code
    stopped using what it removes."""
    docstring, calls = upgrade_calls(path)
    if "\nContract:" in f"\n{docstring}":
        return
    contracting = [
        ast.unparse(call)
        for call in calls
        if isinstance(call.func, ast.Attribute) and call.func.attr in CONTRACTING
    ]
    assert not contracting, f"{path.name} contracts the schema without saying so: {contracting}"
    assert not added_columns_the_old_version_cannot_fill(calls), path.name


def test_the_expand_only_check_catches_a_dropped_column_and_a_column_the_old_version_cannot_fill(tmp_path):
    migration = tmp_path / "9999_example.py"
    migration.write_text(
        '"""An example."""\n'
        "def upgrade():\n"
        "    with op.batch_alter_table('customers') as batch_op:\n"
        "        batch_op.drop_column('company')\n"
        "        batch_op.add_column(sa.Column('tier', sa.String(10), nullable=False))\n"
    )
    with pytest.raises(AssertionError, match="drop_column"):
        test_each_migration_is_expand_only_unless_it_says_it_contracts(migration)
    _, calls = upgrade_calls(migration)
    assert added_columns_the_old_version_cannot_fill(calls) == [
        "sa.Column('tier', sa.String(10), nullable=False)"
    ]
