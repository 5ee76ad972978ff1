"""The customer's figures: KPI tiles and the monthly revenue chart.

Revenue means one thing everywhere here: the total_cents of the invoices issued to the customer (every status
but draft and void), counted on their issued_on date. Calendar years, months and "today" are the shop's (its
time zone, America/Toronto by default), so an invoice issued on December 31 counts in December everywhere.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from babel.dates import format_date
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.i18n import LOCALES, current_language, gettext, ngettext
from app.shop_time import shop_timezone, shop_today
from app.tables import invoices, work_orders

NOT_REVENUE = ("draft", "void")
# Invoices that still expect money; overdue ones are also those of them whose due date has passed.
OPEN_STATUSES = ("sent", "partially_paid", "overdue")
AWAITING_PAYMENT = ("sent", "partially_paid")
CHART_PERIODS = (12, 24)
# English month names (the chart's labels come from Babel, in the reader's language).
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# -- KPI tiles ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Analytics:
    """The KPI tiles of one customer, as of `today` (a date in the shop's zone).

    Money is integer cents. Revenue: see the module docstring.
    - revenue_change_pct: this calendar year (to date) against the whole of last calendar year, in percent
      rounded to one decimal; None when last year had no revenue (no meaningful ratio).
    - average_ticket_cents: lifetime revenue / invoice count, rounded half up; 0 without invoices.
    - outstanding_cents: sum of total - paid over sent, partially_paid and overdue invoices.
    - overdue_cents: the part of it on overdue invoices: status overdue, or sent/partially_paid with a due
      date before today.
    - A visit is a work order opened for the customer (any status); last_visit_at is the newest opened_at
      and last_visit_on/days_since_last_visit count in the shop's calendar days.
    - visits_last_365_days: work orders opened on or after the same calendar day 365 days before today.
    - visits_per_year: the average since the first visit, over at least one year (a customer who came twice
      last month is 2.0 a year, not 24), rounded to one decimal; None without visits.
    """

    today: date
    lifetime_revenue_cents: int
    invoice_count: int
    average_ticket_cents: int
    revenue_this_year_cents: int
    revenue_last_year_cents: int
    revenue_change_pct: float | None
    outstanding_cents: int
    open_invoice_count: int
    overdue_cents: int
    overdue_invoice_count: int
    last_visit_at: datetime | None
    last_visit_on: date | None
    days_since_last_visit: int | None
    first_visit_on: date | None
    visit_count: int
    visits_last_365_days: int
    visits_per_year: float | None

    @property
    def this_year(self) -> int:
        return self.today.year

    @property
    def last_year(self) -> int:
        return self.today.year - 1

    @property
    def revenue_trend(self) -> str | None:
        """ "up", "down" or "flat" against last year; None when there is nothing to compare with."""
        if self.revenue_change_pct is None:
            return None
        if self.revenue_change_pct > 0:
            return "up"
        if self.revenue_change_pct < 0:
            return "down"
        return "flat"

    @property
    def time_since_last_visit(self) -> str | None:
        """ "today", "12 days ago", "about 6 months ago", "over 2 years ago", in the reader's language."""
        days = self.days_since_last_visit
        if days is None:
            return None
        if days <= 1:
            return gettext("yesterday") if days else gettext("today")
        if days < 60:
            return ngettext("%(num)d day ago", "%(num)d days ago", days)
        if days < 730:
            return ngettext("about %(num)d month ago", "about %(num)d months ago", round(days / 30.44))
        return ngettext("over %(num)d year ago", "over %(num)d years ago", days // 365)

    @property
    def has_invoices(self) -> bool:
        return self.invoice_count > 0


def _sum_if(condition, value):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _rounded_division(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (no float on money)."""
    return (2 * numerator + denominator) // (2 * denominator)


async def load_analytics(conn: AsyncConnection, customer_id: int, *, today: date | None = None) -> Analytics:
    """Two aggregate queries, one over the customer's invoices and one over their work orders."""
    today = today or shop_today()
    zone = shop_timezone()
    this_year_start, last_year_start = date(today.year, 1, 1), date(today.year - 1, 1, 1)
    next_year_start = date(today.year + 1, 1, 1)

    status, issued_on = invoices.c.status, invoices.c.issued_on
    total, balance = invoices.c.total_cents, invoices.c.total_cents - invoices.c.paid_cents
    is_revenue = status.not_in(NOT_REVENUE)
    is_open = status.in_(OPEN_STATUSES)
    is_overdue = or_(status == "overdue", and_(status.in_(AWAITING_PAYMENT), invoices.c.due_on < today))
    figures = (
        await conn.execute(
            select(
                _sum_if(is_revenue, 1).label("invoice_count"),
                _sum_if(is_revenue, total).label("lifetime"),
                _sum_if(
                    and_(is_revenue, issued_on >= this_year_start, issued_on < next_year_start), total
                ).label("this_year"),
                _sum_if(
                    and_(is_revenue, issued_on >= last_year_start, issued_on < this_year_start), total
                ).label("last_year"),
                _sum_if(is_open, 1).label("open_count"),
                _sum_if(is_open, balance).label("outstanding"),
                _sum_if(is_overdue, 1).label("overdue_count"),
                _sum_if(is_overdue, balance).label("overdue"),
            ).where(invoices.c.customer_id == customer_id)
        )
    ).one()

    year_ago = datetime.combine(today - timedelta(days=365), time(), zone)
    opened_at = work_orders.c.opened_at
    visits = (
        await conn.execute(
            select(
                func.count().label("visit_count"),
                func.min(opened_at).label("first_at"),
                func.max(opened_at).label("last_at"),
                _sum_if(opened_at >= year_ago, 1).label("recent"),
            ).where(work_orders.c.customer_id == customer_id)
        )
    ).one()

    invoice_count, lifetime = int(figures.invoice_count), int(figures.lifetime)
    this_year, last_year = int(figures.this_year), int(figures.last_year)
    change = round((this_year - last_year) * 100 / last_year, 1) if last_year else None
    visit_count = int(visits.visit_count)
    last_visit_on = visits.last_at.astimezone(zone).date() if visits.last_at else None
    first_visit_on = visits.first_at.astimezone(zone).date() if visits.first_at else None
    visits_per_year = None
    if first_visit_on is not None:
        span_days = max((today - first_visit_on).days, 365)
        visits_per_year = round(visit_count * 365 / span_days, 1)
    return Analytics(
        today=today,
        lifetime_revenue_cents=lifetime,
        invoice_count=invoice_count,
        average_ticket_cents=_rounded_division(lifetime, invoice_count) if invoice_count else 0,
        revenue_this_year_cents=this_year,
        revenue_last_year_cents=last_year,
        revenue_change_pct=change,
        outstanding_cents=int(figures.outstanding),
        open_invoice_count=int(figures.open_count),
        overdue_cents=int(figures.overdue),
        overdue_invoice_count=int(figures.overdue_count),
        last_visit_at=visits.last_at,
        last_visit_on=last_visit_on,
        days_since_last_visit=max((today - last_visit_on).days, 0) if last_visit_on else None,
        first_visit_on=first_visit_on,
        visit_count=visit_count,
        visits_last_365_days=int(visits.recent),
        visits_per_year=visits_per_year,
    )


# -- the revenue chart --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthRevenue:
    month: date  # the 1st of the month
    revenue_cents: int
    invoice_count: int

    # In the reader's language (Babel's CLDR names): "Mar" / "mars", "Mar 2026" / "mars 2026".
    @property
    def short_label(self) -> str:
        """ "Mar": the chart's axis."""
        return _month_format(self.month, "LLL")

    @property
    def label(self) -> str:
        """ "Mar 2026"."""
        return _month_format(self.month, "MMM y")

    @property
    def long_label(self) -> str:
        """ "March 2026"."""
        return _month_format(self.month, "MMMM y")


def _month_format(month: date, pattern: str) -> str:
    return format_date(month, pattern, locale=LOCALES[current_language()])


@dataclass(frozen=True, slots=True)
class RevenueChart:
    """Revenue per calendar month, oldest first, one point per month (zero months included), ending with
    the current month (which is still running: its figure is month to date)."""

    months: int
    points: tuple[MonthRevenue, ...]
    total_cents: int
    max_cents: int

    @property
    def first_month(self) -> MonthRevenue:
        return self.points[0]

    @property
    def current_month(self) -> MonthRevenue:
        return self.points[-1]

    @property
    def best(self) -> MonthRevenue | None:
        """The month with the highest revenue (the earliest on a tie); None when every month is zero."""
        if self.max_cents <= 0:
            return None
        return next(point for point in self.points if point.revenue_cents == self.max_cents)

    @property
    def invoice_count(self) -> int:
        return sum(point.invoice_count for point in self.points)

    @property
    def average_cents(self) -> int:
        """Monthly average over the whole period, rounded half up."""
        return _rounded_division(self.total_cents, self.months)

    @property
    def months_without_revenue(self) -> int:
        return sum(1 for point in self.points if point.revenue_cents == 0)

    def geometry(self, language: str = "en") -> ChartGeometry:
        return chart_geometry(self, language=language)


def add_months(month: date, count: int) -> date:
    """The 1st of the month `count` months after (or before, when negative) `month`'s month."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


async def load_revenue_chart(
    conn: AsyncConnection, customer_id: int, *, months: int = 12, today: date | None = None
) -> RevenueChart:
    """One query: the customer's revenue per issue day over the window, in the order of the index
    invoices(customer_id, issued_on, id) (no sort, no temporary table); the days are summed into months and
    the months without any invoice filled in here."""
    if months not in CHART_PERIODS:
        raise ValueError(f"months must be one of {CHART_PERIODS}, not {months!r}")
    today = today or shop_today()
    current = today.replace(day=1)
    start, end = add_months(current, -(months - 1)), add_months(current, 1)
    rows = await conn.execute(
        select(
            invoices.c.issued_on,
            func.count().label("invoice_count"),
            func.coalesce(func.sum(invoices.c.total_cents), 0).label("revenue"),
        )
        .where(
            invoices.c.customer_id == customer_id,
            invoices.c.issued_on >= start,
            invoices.c.issued_on < end,
            invoices.c.status.not_in(NOT_REVENUE),
        )
        .group_by(invoices.c.issued_on)
        .order_by(invoices.c.issued_on)
    )
    buckets: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        bucket = buckets.setdefault((row.issued_on.year, row.issued_on.month), [0, 0])
        bucket[0] += int(row.revenue)
        bucket[1] += int(row.invoice_count)
    points = []
    for offset in range(months):
        first = add_months(start, offset)
        revenue, count = buckets.get((first.year, first.month), (0, 0))
        points.append(MonthRevenue(month=first, revenue_cents=revenue, invoice_count=count))
    return RevenueChart(
        months=months,
        points=tuple(points),
        total_cents=sum(point.revenue_cents for point in points),
        max_cents=max(point.revenue_cents for point in points),
    )


# -- chart geometry: the SVG's arithmetic, so that the template only places what is computed here --------

CHART_WIDTH = 720
CHART_HEIGHT = 280
# Room for the y-axis labels on the left and two lines of x-axis labels (month, year) below; both sized for
# the larger type the stylesheet uses on narrow screens, where the whole drawing is scaled down.
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 76, 708, 16, 224
BAR_FILL = 0.64  # share of its month's slot a bar covers
MIN_BAR_HEIGHT = 1.5  # a month with a little revenue stays visible next to a big one
TICK_INTERVALS = 5
YEAR_LABEL_ROOM = 34  # width a "2026" needs at the normal type size, in the drawing's units


@dataclass(frozen=True, slots=True)
class Tick:
    cents: int
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    point: MonthRevenue
    x: float
    y: float
    width: float
    height: float
    center: float
    # On narrow screens only every other month (every third, over 24 months) keeps its label.
    minor: bool
    year_label: str | None
    # The first month's year is hidden on narrow screens when a January follows closely.
    year_minor: bool
    is_current: bool


@dataclass(frozen=True, slots=True)
class ChartGeometry:
    width: int
    height: int
    left: int
    right: int
    top: int
    baseline: int
    scale_cents: int
    ticks: tuple[Tick, ...]
    bars: tuple[Bar, ...]


def nice_ticks(max_cents: int, intervals: int = TICK_INTERVALS) -> tuple[int, ...]:
    """Round gridline values from 0 up to at least `max_cents`: a step of 1, 2 or 5 × 10^n cents (at least
    a dollar), so that at most `intervals` steps cover the maximum."""
    if max_cents <= 0:
        return (0, 100)
    raw = max(math.ceil(max_cents / intervals), 100)
    magnitude = 10 ** (len(str(raw)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = math.ceil(max_cents / step) * step
    return tuple(range(0, top + 1, step))


def compact_money(cents: int, language: str = "en") -> str:
    """An axis label: "$1.5k" / "1,5 k$", "$250", "$0.50"."""
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    if cents >= 100_000_000:
        number, suffix = f"{cents / 100_000_000:g}", "M"
    elif cents >= 100_000:
        number, suffix = f"{cents / 100_000:g}", "k"
    elif cents % 100:
        number, suffix = f"{cents / 100:.2f}", ""
    else:
        number, suffix = str(cents // 100), ""
    if language == "fr":
        return f"{sign}{number.replace('.', ',')}\u00a0{suffix}$"
    return f"{sign}${number}{suffix}"


def chart_geometry(chart: RevenueChart, *, language: str = "en") -> ChartGeometry:
    ticks = nice_ticks(chart.max_cents)
    scale = ticks[-1]
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(chart.points)
    bar_width = slot * BAR_FILL
    label_every = 2 if chart.months <= 12 else 3
    first_january = next((i for i, point in enumerate(chart.points) if point.month.month == 1), None)
    bars = []
    for index, point in enumerate(chart.points):
        height = plot_height * max(point.revenue_cents, 0) / scale
        if point.revenue_cents > 0:
            height = max(height, MIN_BAR_HEIGHT)
        # The year goes under each January and the first month; the first month's is left out when a January
        # follows too closely for both to fit (and hidden on narrow screens, where the type is twice as big).
        year_gap = None if first_january in (None, 0) else first_january * slot
        show_year = point.month.month == 1 or (
            index == 0 and (year_gap is None or year_gap >= YEAR_LABEL_ROOM)
        )
        year_minor = show_year and index == 0 and year_gap is not None and year_gap < 2 * YEAR_LABEL_ROOM
        bars.append(
            Bar(
                point=point,
                x=round(PLOT_LEFT + index * slot + (slot - bar_width) / 2, 2),
                y=round(PLOT_BOTTOM - height, 2),
                width=round(bar_width, 2),
                height=round(height, 2),
                center=round(PLOT_LEFT + index * slot + slot / 2, 2),
                minor=(point.month.month - 1) % label_every != 0,
                year_label=str(point.month.year) if show_year else None,
                year_minor=year_minor,
                is_current=index == len(chart.points) - 1,
            )
        )
    return ChartGeometry(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=PLOT_TOP,
        baseline=PLOT_BOTTOM,
        scale_cents=scale,
        ticks=tuple(
            Tick(
                cents=value,
                y=round(PLOT_BOTTOM - plot_height * value / scale, 2),
                label=compact_money(value, language),
            )
            for value in ticks
        ),
        bars=tuple(bars),
    )


# -- kept in the section cache (app.cache) as JSON -------------------------------------------------------


def dump_analytics(figures: Analytics) -> str:
    return json.dumps(asdict(figures), default=_iso, separators=(",", ":"))


def restore_analytics(text: str) -> Analytics:
    data = json.loads(text)
    for name in ("today", "last_visit_on", "first_visit_on"):
        data[name] = date.fromisoformat(data[name]) if data[name] else None
    if data["last_visit_at"]:
        data["last_visit_at"] = datetime.fromisoformat(data["last_visit_at"])
    return Analytics(**data)


def dump_revenue_chart(chart: RevenueChart) -> str:
    return json.dumps(asdict(chart), default=_iso, separators=(",", ":"))


def restore_revenue_chart(text: str) -> RevenueChart:
    data = json.loads(text)
    data["points"] = tuple(
        MonthRevenue(date.fromisoformat(point["month"]), point["revenue_cents"], point["invoice_count"])
        for point in data["points"]
    )
    return RevenueChart(**data)


def _iso(value: date) -> str:  # dates and instants (aware, in UTC)
    return value.isoformat()
