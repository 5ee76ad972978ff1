"""The analytics tiles and the revenue chart as an advisor sees them (SQLite and MariaDB)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest

from app.analytics import load_revenue_chart
from tests.factories import add_customer, add_dated_invoice, add_dated_work_order


def dollars(cents: int) -> str:
    """How the page shows money to an English-speaking user (the test staff)."""
    return f"${cents / 100:,.2f}"


@pytest.fixture
def today(app) -> date:
    return datetime.now(app.config["SETTINGS"].shop_timezone).date()


@pytest.fixture
async def customer(engine, app, today):
    """A year of history relative to today: an overdue partial payment this year, a paid invoice last year,
    a void and a draft that are not revenue, and a visit ten days ago."""
    zone = app.config["SETTINGS"].shop_timezone
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
        jan_first = date(today.year, 1, 1)
        await add_dated_invoice(
            conn,
            customer_id,
            issued_on=jan_first,
            total_cents=123_456,
            status="partially_paid",
            paid_cents=23_456,
            due_on=today - timedelta(days=1),
        )
        await add_dated_invoice(
            conn,
            customer_id,
            issued_on=date(today.year - 1, 6, 1),
            total_cents=61_728,
            status="paid",
            paid_cents=61_728,
        )
        await add_dated_invoice(conn, customer_id, issued_on=jan_first, total_cents=999_900, status="void")
        await add_dated_invoice(conn, customer_id, issued_on=today, total_cents=555_500, status="draft")
        visit = datetime.combine(today - timedelta(days=10), time(12), zone)
        await add_dated_work_order(conn, customer_id, opened_at=visit)
        await add_dated_work_order(conn, customer_id, opened_at=visit - timedelta(days=400))
    return customer_id


@pytest.fixture
async def newcomer(engine):
    async with engine.begin() as conn:
        return await add_customer(conn, "Jean", "Nouveau")


def tile(html: str, name: str) -> str:
    match = re.search(rf'<div class="kpi[^"]*" id="kpi-{name}">(.*?)</div>', html, re.S)
    assert match, f"no tile {name}"
    return " ".join(match.group(1).split())


async def get_section(client, customer_id: int, name: str, **query):
    return await client.get(
        f"/customers/{customer_id}/sections/{name}", query_string=query, headers={"HX-Request": "true"}
    )


async def test_tiles_show_the_customers_figures(signed_in, customer, today):
    client = await signed_in("advisor")
    response = await get_section(client, customer, "analytics")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card section section-analytics" id="section-analytics"')
    assert 'id="analytics-tiles"' in html

    lifetime = 123_456 + 61_728  # the void and the draft are not revenue
    assert dollars(lifetime) in tile(html, "lifetime-revenue") and "2 invoices" in tile(
        html, "lifetime-revenue"
    )
    this_year = tile(html, "revenue-this-year")
    assert f"Revenue {today.year}" in this_year and dollars(123_456) in this_year
    assert f"+100.0&nbsp;% vs {today.year - 1}" in this_year  # said in text, not only in colour
    assert dollars(61_728) in tile(html, "revenue-last-year")
    assert dollars(round(lifetime / 2)) in tile(html, "average-ticket")
    assert dollars(100_000) in tile(html, "outstanding") and "1 unpaid invoice" in tile(html, "outstanding")
    overdue = tile(html, "overdue")
    assert dollars(100_000) in overdue and "Past due" in overdue
    last_visit = today - timedelta(days=10)
    assert last_visit.isoformat() in tile(html, "last-visit")
    days_since = tile(html, "days-since-visit")
    assert '<dd class="kpi-value">10</dd>' in days_since and "Came in 10 days ago" in days_since
    visits = tile(html, "visits-per-year")
    assert f'<dd class="kpi-value">{round(2 * 365 / 410, 1)}</dd>' in visits  # two visits over 410 days
    assert "1 in the last 12 months" in visits


async def test_operations_staff_see_the_figures_too(signed_in, customer):
    client = await signed_in("operations")
    response = await get_section(client, customer, "analytics")
    assert response.status_code == 200


async def test_a_customer_without_invoices_gets_zeroes_and_a_message(signed_in, newcomer):
    client = await signed_in("advisor")
    analytics = await get_section(client, newcomer, "analytics")
    assert analytics.status_code == 200
    html = await analytics.get_data(as_text=True)
    assert "$0.00" in tile(html, "lifetime-revenue")
    assert "$0.00" in tile(html, "outstanding") and "Nothing to collect" in tile(html, "outstanding")
    assert "No visit on record" in tile(html, "last-visit")
    assert "No invoices yet" in html

    chart = await get_section(client, newcomer, "revenue-chart")
    assert chart.status_code == 200
    html = await chart.get_data(as_text=True)
    assert "No revenue in the last 12 months" in html
    assert "<svg" not in html
    assert 'aria-pressed="true"' in html  # the period can still be changed


@pytest.mark.parametrize("months", [12, 24])
async def test_the_chart_draws_one_bar_per_month_and_the_table_repeats_the_figures(
    signed_in, engine, customer, today, months
):
    client = await signed_in("advisor")
    response = await get_section(client, customer, "revenue-chart", months=str(months))
    assert response.status_code == 200
    html = await response.get_data(as_text=True)

    svg = re.search(r"<svg[^>]*>.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="revenue-chart-title revenue-chart-desc"' in svg
    assert 'viewBox="0 0 ' in svg and 'width="100%"' in svg
    assert re.search(
        r'<title id="revenue-chart-title">Monthly revenue, \w{3} \d{4} to \w{3} \d{4}</title>', svg
    )
    assert svg.count('<rect class="bar') == months

    # The figures, recomputed from what the fixture inserted.
    first = today.year * 12 + today.month - 1 - (months - 1)
    window_start = date(first // 12, first % 12 + 1, 1)
    revenue = [(date(today.year, 1, 1), 123_456), (date(today.year - 1, 6, 1), 61_728)]
    total = sum(cents for issued, cents in revenue if issued >= window_start)
    desc = re.search(r'<desc id="revenue-chart-desc">(.*?)</desc>', svg, re.S).group(1)
    assert f"Total {dollars(total)} over {months} months" in desc

    async with engine.connect() as conn:
        chart = await load_revenue_chart(conn, customer, months=months, today=today)
    assert chart.total_cents == total
    table = re.search(r"<table.*?</table>", html, re.S).group(0)
    rows = re.findall(r'<tr id="revenue-month-(\d{4}-\d{2})">(.*?)</tr>', table, re.S)
    assert len(rows) == months
    for (month, row), point in zip(rows, chart.points, strict=True):
        assert month == point.month.strftime("%Y-%m")
        assert point.label in row and dollars(point.revenue_cents) in row
    assert f'<td class="num nowrap">{dollars(total)}</td>' in table
    assert '<th scope="row">' in table and '<th scope="col">' in table


async def test_the_period_toggle_says_which_period_is_shown_and_refreshes_keep_it(signed_in, customer):
    client = await signed_in("advisor")
    html = await (await get_section(client, customer, "revenue-chart", months="24")).get_data(as_text=True)
    buttons = re.findall(
        r'<button type="button" aria-pressed="(true|false)".*?>(\d+) months</button>', html, re.S
    )
    assert {label: pressed for pressed, label in buttons} == {"12": "false", "24": "true"}
    assert 'hx-target="#section-revenue-chart"' in html and 'hx-swap="outerHTML"' in html
    assert f'hx-get="/customers/{customer}/sections/revenue-chart?months=12"' in html
    # The section reloads itself (after a payment, say) with the period it shows.
    frame = re.search(r'<section[^>]*id="section-revenue-chart"[^>]*>', html, re.S).group(0)
    assert f'hx-get="/customers/{customer}/sections/revenue-chart?months=24"' in frame

    default = await (await get_section(client, customer, "revenue-chart")).get_data(as_text=True)
    assert default.count('<rect class="bar') == 12


@pytest.mark.parametrize("months", ["13", "6", "abc", "36"])
async def test_a_period_other_than_12_or_24_months_is_a_400_naming_months(signed_in, customer, months):
    client = await signed_in("advisor")
    response = await get_section(client, customer, "revenue-chart", months=months)
    assert response.status_code == 400
    assert "months: must be" in await response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["analytics", "revenue-chart"])
async def test_unknown_customer_is_a_404(signed_in, customer, name):
    client = await signed_in("advisor")
    response = await get_section(client, 987_654, name)
    assert response.status_code == 404
