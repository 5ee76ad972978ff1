"""The section cache, in process and on Redis: rendered sections and the figures of analytics and the revenue
chart. A hit serves what was computed, a payment makes that customer's sections fresh at once and leaves every
other customer's entries as they were, a rendering is shared only by readers who would see the same HTML, and
a cache that fails only misses."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import event, update

from app import create_app
from app.activity import record_activity
from app.cache import SectionCache
from app.live.broker import RedisBroker
from app.tables import invoices
from app.users import create_user
from tests.conftest import (
    PASSWORD,
    TEST_REDIS_URL,
    csrf_token_of,
    driver_connection_class,
    end_other_connections,
    pay_through_form,
    record_driver_calls,
    sign_in,
    unavailable,
)
from tests.factories import add_customer, add_invoice


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def app(request, settings):
    if request.param == "redis":
        probe = RedisBroker(TEST_REDIS_URL)
        try:
            if not await probe.ping():
                unavailable(f"Redis at {TEST_REDIS_URL}", "no answer to PING")
            # The sign-in limits are shared through Redis too: start from none spent by earlier tests.
            spent = [key async for key in probe.client.scan_iter("app-auth.login_submit-*")]
            if spent:
                await probe.client.delete(*spent)
        finally:
            await probe.close()
        settings = replace(settings, redis_url=TEST_REDIS_URL)
    app = create_app(settings)
    async with app.test_app():
        yield app


@pytest.fixture
async def two_customers(engine) -> dict[str, int]:
    """Two customers, each with a note and one unpaid invoice of $114.98 ($100.00 before taxes)."""
    ids = {}
    async with engine.begin() as conn:
        for name in ("payer", "neighbour"):
            customer = await add_customer(conn, name.title(), "Client")
            await record_activity(conn, customer_id=customer, kind="note", summary="Came in for a quote")
            invoice = await add_invoice(
                conn, customer, number=f"INV-2026-{len(ids) + 1:06d}", issued_on=date.today()
            )
            ids[name], ids[f"{name}_invoice"] = customer, invoice
    return ids


async def kpis(client, customer_id: int, **headers: str) -> str:
    response = await client.get(f"/customers/{customer_id}/sections/analytics", headers=headers)
    assert response.status_code == 200
    return await response.get_data(as_text=True)


def html_counts(cache: SectionCache) -> tuple[int, int]:
    return cache.counts["html", "hit"], cache.counts["html", "miss"]


def outstanding(html: str) -> str:
    return re.search(r'id="kpi-outstanding".*?class="kpi-value">([^<]*)<', html, re.S).group(1)


async def test_a_payment_refreshes_that_customers_sections_and_no_other(app, staff, two_customers):
    cache: SectionCache = app.extensions["section_cache"]
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    payer, neighbour = two_customers["payer"], two_customers["neighbour"]

    first = await kpis(client, payer)
    await kpis(client, neighbour)
    assert outstanding(first) == "$114.98" and html_counts(cache) == (0, 2)
    assert await kpis(client, payer) == first and html_counts(cache) == (1, 2)  # served from the cache

    paid = await pay_through_form(client, payer, two_customers["payer_invoice"], "114.98")
    assert paid.status_code == 200

    hits, misses = html_counts(cache)
    after = await kpis(client, payer)
    assert html_counts(cache) == (hits, misses + 1)  # the payment's entry in the log made this key new
    assert outstanding(after) == "$0.00"
    await kpis(client, neighbour)
    assert html_counts(cache) == (hits + 1, misses + 1)  # the neighbour's section was left as it was


async def test_a_section_the_cache_holds_is_served_without_the_requests_connection(
    app, staff, two_customers, monkeypatch
):
    """A hit reads only the customer's latest event, in a statement of its own: the request takes no
    connection of the primary pool, hence neither its ping nor the rollback that ends its snapshot, and the
    autocommit pool sends no rollback either."""
    checkouts: list[str] = []
    for name in ("db_engine", "db_autocommit_engine"):
        pool = app.extensions[name].sync_engine
        event.listen(pool, "checkout", lambda *_, name=name: checkouts.append(name))
    autocommit_driver = await driver_connection_class(app.extensions["db_autocommit_engine"])
    rollbacks = record_driver_calls(autocommit_driver, monkeypatch, ("rollback",))
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    checkouts.clear()
    first = await kpis(client, two_customers["payer"])
    assert checkouts.count("db_engine") == 1 and checkouts.count("db_autocommit_engine") == 1
    checkouts.clear()
    rollbacks.clear()
    assert await kpis(client, two_customers["payer"]) == first
    assert checkouts == ["db_autocommit_engine"] and rollbacks == []
    assert html_counts(app.extensions["section_cache"]) == (1, 1)


@pytest.mark.mysql
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)  # SQLite has no server to end it
async def test_the_key_is_read_on_a_new_connection_once_the_database_drops_the_pooled_one(
    app, engine, staff, two_customers
):
    """No ping before the autocommit pool's statement: one that finds its connection ended (a restart, a
    failover) runs again on a new one, and the reader never sees it."""
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    first = await kpis(client, two_customers["payer"])
    assert await end_other_connections(engine)  # the autocommit pool's connection among them
    assert await kpis(client, two_customers["payer"]) == first
    assert html_counts(app.extensions["section_cache"]) == (1, 1)


async def test_no_cache_computes_the_section_again_and_keeps_it(app, staff, two_customers):
    """A reader who asks for no cached copy (a hard reload) gets the section computed again from the database
    and rendered again; the new copy is what the next reader gets."""
    cache: SectionCache = app.extensions["section_cache"]
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    first = await kpis(client, two_customers["payer"])
    assert (cache.hits, cache.misses) == (0, 1)
    assert await kpis(client, two_customers["payer"], **{"Cache-Control": "no-cache"}) == first
    assert html_counts(cache) == (0, 2) and (cache.hits, cache.misses) == (0, 2)
    assert await kpis(client, two_customers["payer"]) == first
    assert html_counts(cache) == (1, 2) and (cache.hits, cache.misses) == (0, 2)


async def test_a_rendering_is_shared_only_by_readers_who_see_the_same(app, engine, staff, two_customers):
    """The forms a role may use and the reader's language make different HTML; another session's CSRF token is
    never in a shared rendering (htmx sends each page's own)."""
    cache: SectionCache = app.extensions["section_cache"]
    url = f"/customers/{two_customers['payer']}/sections/invoices"
    advisor, second_advisor, operations = app.test_client(), app.test_client(), app.test_client()
    await sign_in(advisor, staff["advisor"])
    async with engine.begin() as conn:
        other = await create_user(
            conn,
            email="advisor2@test.example",
            name="Second Advisor",
            role="advisor",
            password=PASSWORD,
            language="en",
        )
    await sign_in(second_advisor, other)
    await sign_in(operations, staff["operations"])

    token = await csrf_token_of(advisor)
    shown = await (await advisor.get(url)).get_data(as_text=True)
    assert 'name="amount"' in shown and token not in shown  # the payment form, without the token
    assert await (await second_advisor.get(url)).get_data(as_text=True) == shown
    assert html_counts(cache) == (1, 1)

    for_operations = await (await operations.get(url)).get_data(as_text=True)
    assert 'name="amount"' not in for_operations  # operations may read, not take payments
    await second_advisor.post(
        "/language", form={"language": "fr", "csrf_token": await csrf_token_of(second_advisor)}
    )
    in_french = await (await second_advisor.get(url)).get_data(as_text=True)
    assert "Factures" in in_french or "factures" in in_french
    assert html_counts(cache) == (1, 3)


async def test_a_hit_serves_the_figures_as_computed_until_the_customers_next_event(
    app, engine, staff, two_customers
):
    """A change that records no entry in the log is not seen until the customer's next event: why every write
    of the app records one in the same transaction (app.activity)."""
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    before = await kpis(client, two_customers["payer"])
    async with engine.begin() as conn:
        await conn.execute(
            update(invoices).where(invoices.c.id == two_customers["payer_invoice"]).values(status="void")
        )
    assert await kpis(client, two_customers["payer"]) == before


async def test_the_revenue_chart_is_cached_per_period(app, staff, two_customers):
    cache: SectionCache = app.extensions["section_cache"]
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    for months in (12, 24, 12, 24):
        response = await client.get(
            f"/customers/{two_customers['payer']}/sections/revenue-chart?months={months}"
        )
        assert response.status_code == 200
    assert html_counts(cache) == (2, 2) and (cache.misses, cache.hits) == (2, 0)
