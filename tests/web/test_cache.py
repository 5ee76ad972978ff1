"""The section cache (analytics, the revenue chart), in process and on Redis: a hit serves what was computed,
a payment makes that customer's figures fresh at once and leaves every other customer's entries as they were,
and a cache that fails only misses."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import update

from app import create_app
from app.activity import record_activity
from app.cache import SectionCache
from app.live.broker import RedisBroker
from app.tables import invoices
from tests.conftest import TEST_REDIS_URL, pay_through_form, sign_in, unavailable
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


async def kpis(client, customer_id: int) -> str:
    response = await client.get(f"/customers/{customer_id}/sections/analytics")
    assert response.status_code == 200
    return await response.get_data(as_text=True)


def outstanding(html: str) -> str:
    return re.search(r'id="kpi-outstanding".*?class="kpi-value">([^<]*)<', html, re.S).group(1)


async def test_a_payment_refreshes_that_customers_figures_and_no_other(app, staff, two_customers):
    cache: SectionCache = app.extensions["section_cache"]
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    payer, neighbour = two_customers["payer"], two_customers["neighbour"]

    first = await kpis(client, payer)
    await kpis(client, neighbour)
    assert outstanding(first) == "$114.98" and (cache.hits, cache.misses) == (0, 2)
    assert await kpis(client, payer) == first and cache.hits == 1  # served from the cache

    paid = await pay_through_form(client, payer, two_customers["payer_invoice"], "114.98")
    assert paid.status_code == 200

    hits, misses = cache.hits, cache.misses
    after = await kpis(client, payer)
    assert cache.misses == misses + 1  # the payment's entry in the log made this customer's key new
    assert outstanding(after) == "$0.00"
    await kpis(client, neighbour)
    assert cache.hits == hits + 1  # the neighbour's figures were left as they were


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
    assert (cache.misses, cache.hits) == (2, 2)
