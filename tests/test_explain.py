"""Every section is index-backed on MariaDB: each statement a section runs, EXPLAINed on a seeded database
whose statistics are analysed, reads no table in full (nor a whole index) and sorts nothing outside an index.

The statements are the ones the sections really run: captured from the app's engine while a signed-in client
loads every section of a long-history customer, with the filters and the next pages an advisor asks for.
The last test drops an index a section relies on and checks that this very check then fails.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import event, text

from app import create_app
from app.config import Settings
from app.db import create_engine
from app.sections import SECTIONS
from app.seed import DEMO_PASSWORD, seed
from app.tables import metadata
from tests.conftest import csrf_token_of, scratch_mysql_database

pytestmark = pytest.mark.mysql

# Sorting or grouping a handful of rows already narrowed down by an index (one customer's months of revenue)
# costs nothing at any size; a filesort over what a customer's history grows to would.
SORTS = re.compile(r"Using filesort|Using temporary")


@pytest.fixture(scope="module")
async def seeded_url(tmp_path_factory):
    async with scratch_mysql_database("explain") as url:
        engine = create_engine(url)
        try:
            await seed(engine, customers=400, activities_per_customer=60)
            async with engine.begin() as conn:
                for table in metadata.sorted_tables:
                    await conn.exec_driver_sql(f"ANALYZE TABLE {table.name}")
        finally:
            await engine.dispose()
        yield url


@pytest.fixture
async def app(seeded_url, tmp_path):
    base = Settings.from_env(
        {"APP_ENV": "test", "SECRET_KEY": "e" * 40, "VAR_DIR": str(tmp_path), "SHOP_LANGUAGE": "en"}
    )
    app = create_app(replace(base, database_url=seeded_url))
    async with app.test_app():
        yield app


async def long_history_customer(app) -> int:
    async with app.extensions["db_engine"].connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT customer_id FROM customer_activities GROUP BY customer_id "
                    "ORDER BY COUNT(*) DESC, customer_id LIMIT 1"
                )
            )
        ).scalar_one()


async def statements_of_every_section(app, customer: int | None = None) -> list[tuple[str, str, object]]:
    """(what was asked, statement, parameters) of every query the sections ran, none served from a cache."""
    client = app.test_client()
    token = await csrf_token_of(client)
    form = {"email": "advisor@example.com", "password": DEMO_PASSWORD, "csrf_token": token}
    assert (await client.post("/login", form=form)).status_code == 302
    customer = customer or await long_history_customer(app)
    urls = [f"/customers/{customer}/sections/{name}" for name in SECTIONS]
    urls += [
        f"/customers/{customer}/sections/activity?kind=note",
        f"/customers/{customer}/sections/work-orders?status=completed",
        f"/customers/{customer}/sections/invoices?status=paid",
        f"/customers/{customer}/sections/revenue-chart?months=24",
    ]
    captured: list[tuple[str, str, object]] = []
    asking = ""

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((asking, statement, parameters))

    # The section's own statements, and the look at its cache key on the autocommit pool.
    engines = [app.extensions[name].sync_engine for name in ("db_engine", "db_autocommit_engine")]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        pending = list(urls)
        while pending:
            asking = pending.pop(0)
            response = await client.get(asking, headers={"Cache-Control": "no-cache"})
            assert response.status_code == 200, asking
            html = await response.get_data(as_text=True)
            # The next page of the timeline ("Show older activity"), once.
            if asking.endswith("/sections/activity"):
                more = re.search(r'hx-get="(/customers/\d+/activity\?[^"]+)"', html)
                assert more, "a long history has a next page"
                pending.append(more.group(1).replace("&amp;", "&"))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)
    return captured


async def plan_problems(app, captured) -> list[str]:
    problems = []
    async with app.extensions["db_engine"].connect() as conn:
        for asking, statement, parameters in captured:
            plan = (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).mappings().all()
            for step in plan:
                table, kind, extra = step["table"], step["type"], step["Extra"] or ""
                if kind in ("ALL", "index") or SORTS.search(extra):
                    problems.append(
                        f"{asking}: {table} read by {kind} ({extra or 'no index'}) in\n    {statement[:300]}"
                    )
    return problems


async def test_every_section_query_is_index_backed(app):
    captured = await statements_of_every_section(app)
    assert len({asking for asking, _, _ in captured}) == 15  # every section, its filters and a next page
    problems = await plan_problems(app, captured)
    assert problems == [], "\n".join(problems)


async def rows_read(app, captured) -> Counter[str]:
    """Rows each request read, by what was asked: MariaDB's ANALYZE runs each statement and counts, for every
    table it reads, the rows it went through (an index range that a filter then mostly rejects included)."""
    totals: Counter[str] = Counter()
    async with app.extensions["db_engine"].connect() as conn:
        for asking, statement, parameters in captured:
            result = await conn.exec_driver_sql("ANALYZE FORMAT=JSON " + statement, parameters)
            totals[asking] += sum(
                (step.get("r_rows") or 0) * step.get("r_loops", 1)
                for step in table_steps(json.loads(result.scalar()))
            )
    return totals


def table_steps(node):
    """Every table access of an ANALYZE FORMAT=JSON plan, however deep it is nested."""
    if isinstance(node, dict):
        if "table_name" in node:
            yield node
        for value in node.values():
            yield from table_steps(value)
    elif isinstance(node, list):
        for value in node:
            yield from table_steps(value)


async def test_no_section_reads_more_for_a_longer_history(app):
    """What the growth bench times, counted in rows: 2,000 more activities in a customer's past must not make
    any of its sections read more rows (a keyset page reads its page; an aggregate reads its window)."""
    engine = app.extensions["db_engine"]
    customer = await long_history_customer(app)
    before = await rows_read(app, await statements_of_every_section(app, customer))
    async with engine.begin() as conn:
        newest = (
            await conn.execute(
                text("SELECT MAX(id) FROM customer_activities WHERE customer_id = :customer"),
                {"customer": customer},
            )
        ).scalar_one()
        # Other customers' facts, years before this customer's own history begins.
        await conn.execute(
            text(
                "INSERT INTO customer_activities (customer_id, kind, actor_id, actor_label, occurred_at, "
                "summary, details, pinned) "
                "SELECT :customer, kind, actor_id, actor_label, occurred_at - INTERVAL 8 YEAR, summary, "
                "details, 0 FROM customer_activities WHERE customer_id <> :customer ORDER BY id LIMIT 2000"
            ),
            {"customer": customer},
        )
        await conn.exec_driver_sql("ANALYZE TABLE customer_activities")
    try:
        after = await rows_read(app, await statements_of_every_section(app, customer))
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM customer_activities WHERE customer_id = :customer AND id > :newest"),
                {"customer": customer, "newest": newest},
            )
    assert before.keys() == after.keys()
    grown = {
        asking: f"{before[asking]:,.0f} → {after[asking]:,.0f} rows"
        for asking in before
        if after[asking] > before[asking] * 1.2 + 20
    }
    assert grown == {}, grown


async def test_the_check_fails_when_an_index_a_section_needs_is_dropped(app):
    """The timeline's index, (customer_id, occurred_at, id): without it, the newest entries of a customer
    are found by sorting all of them."""
    async with app.extensions["db_engine"].begin() as conn:
        name = (
            await conn.execute(
                text(
                    "SELECT index_name FROM information_schema.statistics"
                    " WHERE table_schema = DATABASE() AND table_name = 'customer_activities'"
                    " AND column_name = 'occurred_at' AND seq_in_index = 2"
                )
            )
        ).scalar_one()
        await conn.exec_driver_sql(f"ALTER TABLE customer_activities DROP INDEX {name}")
    try:
        problems = await plan_problems(app, await statements_of_every_section(app))
        assert any("/sections/activity" in problem for problem in problems), problems
    finally:
        async with app.extensions["db_engine"].begin() as conn:
            await conn.exec_driver_sql(
                f"CREATE INDEX {name} ON customer_activities (customer_id, occurred_at, id)"
            )
