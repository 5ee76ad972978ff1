"""The customer's figures, recomputed here from the rows each test inserts (SQLite and MariaDB)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.analytics import (
    add_months,
    chart_geometry,
    compact_money,
    load_analytics,
    load_revenue_chart,
    nice_ticks,
)
from tests.factories import add_customer, add_dated_invoice, add_dated_work_order

TORONTO = ZoneInfo("America/Toronto")
TODAY = date(2026, 6, 15)

# (issued_on, total, status, paid, due_on)
INVOICES = [
    (date(2024, 11, 3), 50_000, "paid", 50_000, date(2024, 12, 3)),
    (date(2025, 1, 10), 12_345, "paid", 12_345, date(2025, 2, 9)),
    (date(2025, 7, 7), 70_000, "void", 0, date(2025, 8, 6)),
    (date(2025, 12, 31), 20_000, "paid", 20_000, date(2026, 1, 30)),
    (date(2026, 1, 1), 30_000, "partially_paid", 10_000, date(2026, 1, 31)),  # past due, not yet marked
    (date(2026, 3, 15), 45_000, "overdue", 5_000, date(2026, 4, 14)),
    (date(2026, 5, 20), 8_000, "sent", 0, date(2026, 6, 19)),  # due in a few days
    (date(2026, 6, 2), 9_999, "draft", 0, date(2026, 7, 2)),
    (date(2026, 6, 10), 15_001, "paid", 15_001, date(2026, 7, 10)),
]
VISITS = [
    datetime(2023, 4, 2, 14, 0, tzinfo=UTC),
    datetime(2025, 6, 15, 3, 59, tzinfo=UTC),  # June 14, 23:59 in Toronto: 366 days before TODAY
    datetime(2025, 6, 15, 4, 30, tzinfo=UTC),  # June 15, 00:30 in Toronto: exactly 365 days before
    datetime(2026, 2, 1, 16, 0, tzinfo=UTC),
    datetime(2026, 6, 15, 3, 0, tzinfo=UTC),  # June 14, 23:00 in Toronto: yesterday, for the shop
]


async def insert(engine, invoices=INVOICES, visits=VISITS) -> tuple[int, int]:
    """The customer with these rows, and a neighbour whose rows must never be counted."""
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        neighbour = await add_customer(conn, "John", "Smith")
        for issued_on, total, status, paid, due_on in invoices:
            await add_dated_invoice(
                conn,
                customer,
                issued_on=issued_on,
                total_cents=total,
                status=status,
                paid_cents=paid,
                due_on=due_on,
            )
        for opened_at in visits:
            await add_dated_work_order(conn, customer, opened_at=opened_at)
        await add_dated_invoice(conn, neighbour, issued_on=TODAY, total_cents=999_999, status="overdue")
        await add_dated_work_order(conn, neighbour, opened_at=datetime(2026, 6, 15, 12, tzinfo=UTC))
    return customer, neighbour


async def analytics_of(engine, customer_id: int, today: date = TODAY):
    async with engine.connect() as conn:
        return await load_analytics(conn, customer_id, today=today)


async def chart_of(engine, customer_id: int, months: int = 12, today: date = TODAY):
    async with engine.connect() as conn:
        return await load_revenue_chart(conn, customer_id, months=months, today=today)


async def test_kpis_agree_with_the_rows(engine):
    customer, _ = await insert(engine)
    figures = await analytics_of(engine, customer)

    revenue = [(issued, total) for issued, total, status, _, _ in INVOICES if status not in ("draft", "void")]
    lifetime = sum(total for _, total in revenue)
    this_year = sum(total for issued, total in revenue if issued.year == 2026)
    last_year = sum(total for issued, total in revenue if issued.year == 2025)
    open_rows = [row for row in INVOICES if row[2] in ("sent", "partially_paid", "overdue")]
    overdue_rows = [row for row in open_rows if row[2] == "overdue" or row[4] < TODAY]
    assert (
        figures.lifetime_revenue_cents
        == lifetime
        == 50_000 + 12_345 + 20_000 + 30_000 + 45_000 + 8_000 + 15_001
    )
    assert figures.invoice_count == len(revenue) == 7
    assert figures.average_ticket_cents == round(lifetime / len(revenue)) == 25_764
    assert figures.revenue_this_year_cents == this_year == 98_001
    assert figures.revenue_last_year_cents == last_year == 32_345
    assert figures.revenue_change_pct == round((this_year - last_year) * 100 / last_year, 1) == 203.0
    assert figures.revenue_trend == "up"
    assert figures.outstanding_cents == sum(total - paid for _, total, _, paid, _ in open_rows) == 68_000
    assert figures.open_invoice_count == 3
    assert figures.overdue_cents == sum(total - paid for _, total, _, paid, _ in overdue_rows) == 60_000
    assert figures.overdue_invoice_count == 2


async def test_visits_count_in_the_shops_calendar_days(engine):
    customer, _ = await insert(engine)
    figures = await analytics_of(engine, customer)

    local_days = sorted(opened.astimezone(TORONTO).date() for opened in VISITS)
    assert figures.last_visit_at == max(VISITS)
    assert figures.last_visit_on == local_days[-1] == date(2026, 6, 14)
    assert figures.days_since_last_visit == (TODAY - local_days[-1]).days == 1
    assert figures.first_visit_on == date(2023, 4, 2)
    assert figures.visit_count == len(VISITS)
    year_ago = TODAY - timedelta(days=365)
    assert figures.visits_last_365_days == sum(1 for day in local_days if day >= year_ago) == 3
    span = (TODAY - local_days[0]).days
    assert figures.visits_per_year == round(len(VISITS) * 365 / span, 1) == 1.6


async def test_a_recent_first_visit_counts_as_one_year_not_more(engine):
    visits = [datetime(2026, 5, 1, 15, tzinfo=UTC), datetime(2026, 6, 1, 15, tzinfo=UTC)]
    customer, _ = await insert(engine, invoices=[], visits=visits)
    figures = await analytics_of(engine, customer)
    assert figures.visits_per_year == 2.0
    assert figures.visits_last_365_days == 2


async def test_year_over_year_is_none_without_revenue_last_year_and_down_when_lower(engine):
    rows = [
        (date(2026, 2, 1), 10_000, "paid", 10_000, date(2026, 3, 1)),
        (date(2025, 2, 1), 5_000, "void", 0, date(2025, 3, 1)),
    ]
    customer, _ = await insert(engine, invoices=rows, visits=[])
    figures = await analytics_of(engine, customer)
    assert figures.revenue_last_year_cents == 0
    assert figures.revenue_change_pct is None and figures.revenue_trend is None

    lower = await analytics_of(engine, customer, today=date(2027, 1, 5))
    assert lower.revenue_this_year_cents == 0 and lower.revenue_last_year_cents == 10_000
    assert lower.revenue_change_pct == -100.0 and lower.revenue_trend == "down"


async def test_a_sent_invoice_becomes_overdue_the_day_after_its_due_date(engine):
    rows = [(date(2026, 5, 16), 8_000, "sent", 3_000, date(2026, 6, 15))]
    customer, _ = await insert(engine, invoices=rows, visits=[])
    assert (await analytics_of(engine, customer)).overdue_cents == 0
    assert (await analytics_of(engine, customer, today=date(2026, 6, 16))).overdue_cents == 5_000


async def test_a_customer_without_history_has_zeroes(engine):
    customer, _ = await insert(engine, invoices=[], visits=[])
    figures = await analytics_of(engine, customer)
    assert figures.lifetime_revenue_cents == figures.invoice_count == figures.average_ticket_cents == 0
    assert figures.outstanding_cents == figures.overdue_cents == 0
    assert figures.revenue_change_pct is None
    assert figures.last_visit_at is None and figures.days_since_last_visit is None
    assert figures.visit_count == figures.visits_last_365_days == 0 and figures.visits_per_year is None
    assert not figures.has_invoices


def expected_buckets(rows, first: date, months: int) -> list[tuple[date, int, int]]:
    buckets = []
    for offset in range(months):
        month = add_months(first, offset)
        issued = [
            total
            for issued_on, total, status, _, _ in rows
            if status not in ("draft", "void")
            and (issued_on.year, issued_on.month) == (month.year, month.month)
        ]
        buckets.append((month, sum(issued), len(issued)))
    return buckets


async def test_twelve_months_end_with_the_current_month_and_include_empty_ones(engine):
    customer, _ = await insert(engine)
    chart = await chart_of(engine, customer, months=12)

    assert [point.month for point in chart.points] == [date(2025, m, 1) for m in range(7, 13)] + [
        date(2026, m, 1) for m in range(1, 7)
    ]
    got = [(point.month, point.revenue_cents, point.invoice_count) for point in chart.points]
    assert got == expected_buckets(INVOICES, date(2025, 7, 1), 12)
    # July 2025 had only a void invoice; December 31 and January 1 fall in their own months.
    assert got[0] == (date(2025, 7, 1), 0, 0)
    assert got[5] == (date(2025, 12, 1), 20_000, 1)
    assert got[6] == (date(2026, 1, 1), 30_000, 1)
    assert got[11] == (date(2026, 6, 1), 15_001, 1)  # the draft of June 2 is not revenue
    assert chart.total_cents == sum(total for _, total, _ in got) == 118_001
    assert chart.max_cents == 45_000
    assert chart.best.month == date(2026, 3, 1)
    assert chart.months_without_revenue == 7


async def test_twenty_four_months_reach_back_across_two_new_years(engine):
    customer, _ = await insert(engine)
    chart = await chart_of(engine, customer, months=24)

    assert len(chart.points) == 24
    assert chart.points[0].month == date(2024, 7, 1) and chart.points[-1].month == date(2026, 6, 1)
    got = [(point.month, point.revenue_cents, point.invoice_count) for point in chart.points]
    assert got == expected_buckets(INVOICES, date(2024, 7, 1), 24)
    assert dict((m, r) for m, r, _ in got)[date(2024, 11, 1)] == 50_000
    assert chart.total_cents == 50_000 + 12_345 + 118_001


async def test_the_window_follows_today_across_the_new_year(engine):
    rows = [
        (date(2025, 1, 31), 1_000, "paid", 1_000, date(2025, 2, 28)),  # 13 months back: outside
        (date(2025, 2, 1), 2_000, "paid", 2_000, date(2025, 3, 1)),
        (date(2025, 12, 31), 3_000, "paid", 3_000, date(2026, 1, 30)),
        (date(2026, 1, 1), 4_000, "sent", 0, date(2026, 1, 31)),
        (date(2026, 1, 31), 5_000, "overdue", 0, date(2026, 3, 2)),
        (date(2026, 2, 1), 6_000, "sent", 0, date(2026, 3, 3)),  # after the current month: outside
    ]
    customer, _ = await insert(engine, invoices=rows, visits=[])
    chart = await chart_of(engine, customer, months=12, today=date(2026, 1, 2))

    assert chart.points[0].month == date(2025, 2, 1) and chart.points[-1].month == date(2026, 1, 1)
    assert [(p.month, p.revenue_cents, p.invoice_count) for p in chart.points] == expected_buckets(
        rows, date(2025, 2, 1), 12
    )
    assert chart.points[0].revenue_cents == 2_000
    assert chart.points[-2].revenue_cents == 3_000
    assert chart.points[-1].revenue_cents == 9_000 and chart.points[-1].invoice_count == 2
    assert chart.total_cents == 14_000


async def test_a_customer_without_invoices_has_a_flat_chart(engine):
    customer, _ = await insert(engine, invoices=[], visits=[])
    chart = await chart_of(engine, customer, months=24)
    assert len(chart.points) == 24
    assert chart.total_cents == chart.max_cents == 0 and chart.best is None
    assert all(bar.height == 0 for bar in chart_geometry(chart).bars)


async def test_only_twelve_or_twenty_four_months(engine):
    customer, _ = await insert(engine, invoices=[], visits=[])
    with pytest.raises(ValueError, match="months"):
        await chart_of(engine, customer, months=13)


@pytest.mark.parametrize(
    ("max_cents", "ticks"),
    [
        (98_000, (0, 20_000, 40_000, 60_000, 80_000, 100_000)),
        (45_000, (0, 10_000, 20_000, 30_000, 40_000, 50_000)),
        (100_000, (0, 20_000, 40_000, 60_000, 80_000, 100_000)),
        (1_234_567, (0, 500_000, 1_000_000, 1_500_000)),
        (350, (0, 100, 200, 300, 400)),
        (7, (0, 100)),
        (0, (0, 100)),
    ],
)
def test_gridlines_fall_on_round_values(max_cents, ticks):
    assert nice_ticks(max_cents) == ticks


def test_gridline_steps_are_one_two_or_five_times_a_power_of_ten():
    for max_cents in range(1, 3_000_000, 7_919):
        ticks = nice_ticks(max_cents)
        step = ticks[1]
        assert ticks[-1] >= max_cents and len(ticks) - 1 <= 5
        assert str(step).rstrip("0") in ("1", "2", "5")


@pytest.mark.parametrize(
    ("cents", "english", "french"),
    [
        (0, "$0", "0\u00a0$"),
        (25_000, "$250", "250\u00a0$"),
        (150_000, "$1.5k", "1,5\u00a0k$"),
        (2_000_000, "$20k", "20\u00a0k$"),
        (50, "$0.50", "0,50\u00a0$"),
    ],
)
def test_axis_labels_are_short(cents, english, french):
    assert compact_money(cents, "en") == english
    assert compact_money(cents, "fr") == french


async def test_bars_are_drawn_to_scale(engine):
    customer, _ = await insert(engine)
    chart = await chart_of(engine, customer, months=12)
    geometry = chart_geometry(chart)

    assert len(geometry.bars) == 12
    assert geometry.scale_cents == geometry.ticks[-1].cents == 50_000
    plot_height = geometry.baseline - geometry.top
    for bar in geometry.bars:
        assert bar.y + bar.height == pytest.approx(geometry.baseline, abs=0.02)
        assert bar.height == pytest.approx(plot_height * bar.point.revenue_cents / 50_000, abs=0.01)
    xs = [bar.x for bar in geometry.bars]
    assert xs == sorted(xs) and geometry.left <= xs[0] and xs[-1] + geometry.bars[-1].width <= geometry.right
    assert geometry.ticks[0].y == geometry.baseline and geometry.ticks[-1].y == geometry.top
    assert geometry.bars[-1].is_current and not geometry.bars[0].is_current
    # Years under the first month and under January.
    assert [bar.year_label for bar in geometry.bars if bar.year_label] == ["2025", "2026"]
    assert geometry.bars[6].point.month == date(2026, 1, 1) and geometry.bars[6].year_label == "2026"


async def test_a_small_month_stays_visible_next_to_a_large_one(engine):
    rows = [
        (date(2026, 5, 1), 1_000_000, "paid", 1_000_000, date(2026, 6, 1)),
        (date(2026, 6, 1), 100, "paid", 100, date(2026, 7, 1)),
    ]
    customer, _ = await insert(engine, invoices=rows, visits=[])
    geometry = chart_geometry(await chart_of(engine, customer))
    assert geometry.bars[-1].height > 1 and geometry.bars[0].height == 0


@pytest.mark.parametrize(
    ("months", "years", "first_hidden_on_phones"),
    [(12, ["2025", "2026"], True), (24, ["2025", "2026"], False)],
)
async def test_year_labels_never_collide(engine, months, years, first_hidden_on_phones):
    customer, _ = await insert(engine, invoices=[], visits=[])
    # From December: a January follows at once. Over 24 months there is no room for "2024" next to "2025".
    chart = await chart_of(engine, customer, months=months, today=date(2026, 11, 15))
    bars = chart_geometry(chart).bars
    assert [bar.year_label for bar in bars if bar.year_label] == years
    assert bars[0].year_minor == first_hidden_on_phones


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (0, "today"),
        (1, "yesterday"),
        (12, "12 days ago"),
        (183, "about 6 months ago"),
        (800, "over 2 years ago"),
    ],
)
async def test_time_since_the_last_visit_reads_naturally(engine, days, said):
    visit = datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), TORONTO) + timedelta(hours=10)
    customer, _ = await insert(engine, invoices=[], visits=[visit])
    figures = await analytics_of(engine, customer)
    assert figures.days_since_last_visit == days
    assert figures.time_since_last_visit == said
