"""Invoices and payments: the section's rows and totals, payments, issuing invoices, the overdue mark."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from app import invoices
from app.pagination import encode_cursor
from app.params import ParamError
from app.tables import customer_activities, payments, work_orders
from app.tables import invoices as invoices_table
from tests.factories import add_customer, add_invoice, add_work_order

TODAY = date(2026, 6, 15)


# -- taxes and amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtotal", "gst", "qst"),
    [
        (0, 0, 0),
        (1, 0, 0),  # 0.05 and 0.09975 of a cent round down
        (9, 0, 1),  # GST 0.45 -> 0, QST 0.89775 -> 1
        (10, 1, 1),  # GST exactly half a cent rounds up
        (30, 2, 3),  # GST 1.5 -> 2, QST 2.9925 -> 3
        (2000, 100, 200),  # QST exactly 199.5 rounds up
        (4000, 200, 399),  # QST exactly 399.0
        (10_000, 500, 998),  # QST 997.5 -> 998
        (12_345, 617, 1231),  # 617.25 and 1231.41
        (99_999_999, 5_000_000, 9_975_000),  # 4999999.95 and 9974999.90025 round up
    ],
)
def test_sales_taxes_round_half_up_to_the_cent(subtotal, gst, qst):
    assert invoices.sales_taxes(subtotal) == (gst, qst)


def test_sales_taxes_agree_with_decimal_arithmetic():
    def half_up(value: Decimal) -> int:
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    for subtotal in [*range(0, 5000), 123_456_789, 10**12 + 7]:
        expected = (
            half_up(Decimal(subtotal) * Decimal("0.05")),
            half_up(Decimal(subtotal) * Decimal("0.09975")),
        )
        assert invoices.sales_taxes(subtotal) == expected, subtotal


def test_sales_taxes_refuse_a_negative_subtotal():
    with pytest.raises(ValueError, match="negative"):
        invoices.sales_taxes(-1)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("123.45", 12345),
        ("123,45", 12345),
        ("123", 12300),
        ("0.5", 50),
        ("0,05", 5),
        ("$1,234.50", 123450),
        ("1 234,56 $", 123456),
        ("1\u202f234,56\u00a0$", 123456),
        ("1.234,56", 123456),
        ("1,234,567.00", 123456700),
        ("  80.00 ", 8000),
    ],
)
def test_amounts_typed_by_people_become_cents(typed, cents):
    assert invoices.parse_amount(typed) == cents


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "Enter the amount"),
        ("   ", "Enter the amount"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("-5", "more than zero"),
        ("12.345", "ambiguous"),
        ("1,234", "ambiguous"),
        ("12.3456", "is not an amount"),
        ("1,234,56", "is not an amount"),
        ("12.3.4", "is not an amount"),
        ("abc", "is not an amount"),
        ("1e5", "is not an amount"),
        ("99999999999", "far more than any invoice"),
    ],
)
def test_amounts_that_are_not_money_are_refused_with_a_reason(typed, problem):
    with pytest.raises(ValueError, match=problem):
        invoices.parse_amount(typed)


def test_the_payment_form_reports_every_bad_field_at_once():
    with pytest.raises(invoices.PaymentInvalid) as refused:
        invoices.parse_payment_form({"amount": "lots", "method": "bitcoin", "reference": "x" * 61})
    assert set(refused.value.errors) == {"amount", "method", "reference"}
    form = invoices.parse_payment_form({"amount": "10", "method": "cash", "reference": "  "})
    assert form == invoices.PaymentForm(1000, "cash", None)


# -- the section: rows, status, totals -----------------------------------------------------------------


@pytest.fixture
async def ledger(engine):
    """A customer with one invoice in every situation, and a neighbour whose invoices must never count."""
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        neighbour = await add_customer(conn, "John", "Smith")
        ids = {
            "current": await add_invoice(conn, customer, number="INV-2026-000001", issued_on=TODAY),
            "late_sent": await add_invoice(
                conn, customer, number="INV-2026-000002", issued_on=date(2026, 4, 1)
            ),
            "late_partial": await add_invoice(
                conn,
                customer,
                number="INV-2026-000003",
                issued_on=date(2026, 4, 2),
                status="partially_paid",
                paid_cents=5_000,
            ),
            "marked_overdue": await add_invoice(
                conn, customer, number="INV-2026-000004", issued_on=date(2026, 3, 1), status="overdue"
            ),
            "partial_on_time": await add_invoice(
                conn,
                customer,
                number="INV-2026-000005",
                issued_on=date(2026, 6, 1),
                status="partially_paid",
                paid_cents=1_000,
            ),
            "due_today": await add_invoice(
                conn, customer, number="INV-2026-000006", issued_on=date(2026, 5, 16), due_on=TODAY
            ),
            "paid": await add_invoice(
                conn,
                customer,
                number="INV-2026-000007",
                issued_on=date(2026, 1, 5),
                status="paid",
                paid_cents=11_498,
            ),
            "void": await add_invoice(
                conn, customer, number="INV-2026-000008", issued_on=date(2026, 2, 5), status="void"
            ),
            "draft": await add_invoice(
                conn, customer, number="INV-2026-000009", issued_on=date(2026, 6, 14), status="draft"
            ),
        }
        ids["neighbours"] = await add_invoice(
            conn, neighbour, number="INV-2026-000010", issued_on=date(2026, 1, 1)
        )
    return {"customer": customer, "neighbour": neighbour, **ids}


async def test_rows_show_what_the_advisor_must_know(engine, ledger):
    async with engine.connect() as conn:
        page = await invoices.load_invoices(conn, ledger["customer"], today=TODAY)
    rows = {row.id: row for row in page.invoices}
    assert len(rows) == 9 and ledger["neighbours"] not in rows
    assert [row.issued_on for row in page.invoices] == sorted(
        (r.issued_on for r in page.invoices), reverse=True
    )
    late = rows[ledger["late_sent"]]
    assert (late.status, late.stored_status, late.days_late) == ("overdue", "sent", 45)
    assert late.status_label == "Overdue" and late.balance_cents == 11_498
    assert rows[ledger["late_partial"]].status == "overdue"
    assert rows[ledger["late_partial"]].balance_cents == 6_498
    assert rows[ledger["partial_on_time"]].status == "partially_paid"
    assert rows[ledger["due_today"]].status == "sent"  # due today is not late yet
    assert rows[ledger["paid"]].status == "paid" and not rows[ledger["paid"]].accepts_payment
    assert not rows[ledger["void"]].accepts_payment and not rows[ledger["draft"]].accepts_payment
    current = rows[ledger["current"]]
    assert (current.subtotal_cents, current.gst_cents, current.qst_cents, current.total_cents) == (
        10_000,
        500,
        998,
        11_498,
    )


async def test_totals_cover_every_invoice_and_agree_with_a_recomputation(engine, ledger):
    async with engine.connect() as conn:
        page = await invoices.load_invoices(conn, ledger["customer"], limit=2, today=TODAY)
        stored = (
            await conn.execute(
                select(invoices_table).where(invoices_table.c.customer_id == ledger["customer"])
            )
        ).all()
    # Independently: what is owed on sent, partially paid and overdue invoices; late when past due.
    owed = [row for row in stored if row.status in ("sent", "partially_paid", "overdue")]
    late = [row for row in owed if row.status == "overdue" or row.due_on < TODAY]
    assert len(page.invoices) == 2  # the totals are not those of the page
    assert page.totals.balance_due_cents == sum(row.total_cents - row.paid_cents for row in owed)
    assert page.totals.overdue_cents == sum(row.total_cents - row.paid_cents for row in late)
    assert page.totals.open_count == len(owed) == 6
    assert page.totals.overdue_count == len(late) == 3
    assert page.totals.balance_due_cents == 11_498 * 6 - 5_000 - 1_000
    async with engine.connect() as conn:
        everything = await invoices.load_invoices(conn, ledger["customer"], today=TODAY)
    shown = [row for row in everything.invoices if row.accepts_payment]
    assert page.totals.balance_due_cents == sum(row.balance_cents for row in shown)
    assert page.totals.overdue_cents == sum(row.balance_cents for row in shown if row.is_overdue)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("overdue", {"late_sent", "late_partial", "marked_overdue"}),
        ("sent", {"current", "due_today"}),
        ("partially_paid", {"partial_on_time"}),
        ("paid", {"paid"}),
        ("void", {"void"}),
        ("draft", {"draft"}),
    ],
)
async def test_the_status_filter_goes_by_the_status_shown(engine, ledger, status, expected):
    async with engine.connect() as conn:
        page = await invoices.load_invoices(conn, ledger["customer"], status=status, today=TODAY)
    assert {row.id for row in page.invoices} == {ledger[name] for name in expected}
    assert {row.status for row in page.invoices} == {status}
    assert page.status == status
    assert page.totals.open_count == 6  # the totals ignore the filter


async def test_pages_follow_each_other_without_gaps_or_repeats(engine):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Fleet", "Owner")
        for index in range(47):
            # Several invoices share an issue date: the id breaks the tie.
            await add_invoice(
                conn,
                customer,
                number=f"INV-2026-{index + 1:06d}",
                issued_on=date(2026, 1, 1) + timedelta(days=index // 3),
                status="paid" if index % 4 == 0 else "sent",
                paid_cents=11_498 if index % 4 == 0 else 0,
            )
    async with engine.connect() as conn:
        expected = [
            row.id
            for row in await conn.execute(
                select(invoices_table.c.id)
                .where(invoices_table.c.customer_id == customer)
                .order_by(invoices_table.c.issued_on.desc(), invoices_table.c.id.desc())
            )
        ]
        for status, wanted in ((None, expected), ("paid", None)):
            seen, cursor, pages = [], None, 0
            while True:
                page = await invoices.load_invoices(
                    conn, customer, status=status, cursor=cursor, limit=10, today=date(2026, 1, 2)
                )
                seen += [row.id for row in page.invoices]
                pages += 1
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            if wanted is not None:
                assert seen == wanted and pages == 5
            else:
                assert len(seen) == len(set(seen)) == 12
                assert all(row_id in expected for row_id in seen)


async def test_a_cursor_with_a_bad_date_is_a_param_error(engine, ledger):
    async with engine.connect() as conn:
        with pytest.raises(ParamError) as error:
            await invoices.load_invoices(
                conn, ledger["customer"], cursor=encode_cursor("not-a-date", 3), today=TODAY
            )
    assert error.value.name == "cursor"


# -- payments ------------------------------------------------------------------------------------------------


async def pay(engine, customer_id, invoice_id, amount_cents, method="card", reference=None):
    async with engine.begin() as conn:
        return await invoices.record_payment(
            conn,
            customer_id,
            invoice_id,
            invoices.PaymentForm(amount_cents, method, reference),
            actor_id=None,
        )


async def stored(engine, invoice_id):
    async with engine.connect() as conn:
        invoice = (await conn.execute(select(invoices_table).where(invoices_table.c.id == invoice_id))).one()
        payment_count = (
            await conn.execute(
                select(func.count()).select_from(payments).where(payments.c.invoice_id == invoice_id)
            )
        ).scalar_one()
        activity_count = (
            await conn.execute(
                select(func.count())
                .select_from(customer_activities)
                .where(customer_activities.c.kind == "payment")
            )
        ).scalar_one()
    return invoice, payment_count, activity_count


async def test_a_part_payment_then_the_rest_mark_the_invoice_paid(engine, ledger):
    invoice_id = ledger["current"]
    first = await pay(engine, ledger["customer"], invoice_id, 4_000, "debit", "AUTH 123")
    assert (first.status, first.balance_cents) == ("partially_paid", 7_498)
    invoice, payment_count, _ = await stored(engine, invoice_id)
    assert (invoice.status, invoice.paid_cents, payment_count) == ("partially_paid", 4_000, 1)

    second = await pay(engine, ledger["customer"], invoice_id, 7_498, "cash")
    assert (second.status, second.balance_cents) == ("paid", 0)
    invoice, payment_count, activity_count = await stored(engine, invoice_id)
    assert (invoice.status, invoice.paid_cents, payment_count, activity_count) == ("paid", 11_498, 2, 2)

    async with engine.connect() as conn:
        entry = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.id == first.activity_id)
            )
        ).one()
        payment = (await conn.execute(select(payments).where(payments.c.id == first.payment_id))).one()
    assert entry.kind == "payment" and entry.customer_id == ledger["customer"]
    assert entry.summary == "Payment of $40.00 by interac debit on INV-2026-000001 — $74.98 still due"
    assert (entry.ref_type, entry.ref_id) == ("payment", first.payment_id)
    assert entry.details["invoice_id"] == invoice_id and entry.details["invoice"] == "INV-2026-000001"
    assert entry.details["amount_cents"] == 4_000 and entry.details["method"] == "debit"
    assert entry.details["status"] == "partially_paid"
    assert (payment.amount_cents, payment.method, payment.reference) == (4_000, "debit", "AUTH 123")


async def test_a_part_payment_leaves_an_overdue_invoice_overdue(engine, ledger):
    recorded = await pay(engine, ledger["customer"], ledger["marked_overdue"], 1_000)
    assert recorded.status == "overdue"
    invoice, _, _ = await stored(engine, ledger["marked_overdue"])
    assert (invoice.status, invoice.paid_cents) == ("overdue", 1_000)
    paid_off = await pay(engine, ledger["customer"], ledger["marked_overdue"], 10_498)
    assert paid_off.status == "paid"


async def test_an_overpayment_is_refused_naming_the_balance_and_nothing_is_written(engine, ledger):
    invoice_id = ledger["late_partial"]  # balance $64.98
    with pytest.raises(invoices.PaymentInvalid) as refused:
        await pay(engine, ledger["customer"], invoice_id, 6_499)
    assert "more than the balance due of $64.98" in refused.value.errors["amount"]
    invoice, payment_count, activity_count = await stored(engine, invoice_id)
    assert (invoice.status, invoice.paid_cents, payment_count, activity_count) == (
        "partially_paid",
        5_000,
        0,
        0,
    )


@pytest.mark.parametrize(("name", "reason"), [("paid", "already paid"), ("void", "void"), ("draft", "draft")])
async def test_invoices_that_expect_no_money_refuse_a_payment(engine, ledger, name, reason):
    with pytest.raises(invoices.PaymentInvalid) as refused:
        await pay(engine, ledger["customer"], ledger[name], 100)
    assert reason in refused.value.errors["form"]
    _, payment_count, activity_count = await stored(engine, ledger[name])
    assert (payment_count, activity_count) == (0, 0)


async def test_a_payment_on_another_customers_invoice_is_not_found(engine, ledger):
    with pytest.raises(invoices.InvoiceNotFound):
        await pay(engine, ledger["neighbour"], ledger["current"], 100)
    invoice, payment_count, _ = await stored(engine, ledger["current"])
    assert (invoice.paid_cents, payment_count) == (0, 0)


async def test_two_payments_at_once_never_overpay(engine, ledger):
    """Two cashiers take $70 each on a $114.98 invoice at the same moment: exactly one is recorded."""
    invoice_id = ledger["current"]

    async def attempt():
        try:
            await pay(engine, ledger["customer"], invoice_id, 7_000)
        except invoices.PaymentInvalid as exc:
            return exc.errors["amount"]
        return "recorded"

    outcomes = await asyncio.gather(attempt(), attempt())
    assert sorted(outcomes) == [
        "$70.00 is more than the balance due of $44.98; enter at most $44.98.",
        "recorded",
    ]
    invoice, payment_count, activity_count = await stored(engine, invoice_id)
    assert (invoice.paid_cents, invoice.status, payment_count, activity_count) == (
        7_000,
        "partially_paid",
        1,
        1,
    )


async def test_a_payment_that_waited_for_another_finds_the_balance_that_one_left(engine, ledger):
    """The guard itself: the second payment looked at the invoice before the first one committed."""
    invoice_id = ledger["current"]
    async with engine.connect() as first:
        await invoices.record_payment(
            first, ledger["customer"], invoice_id, invoices.PaymentForm(7_000, "cash", None), actor_id=None
        )
        second = asyncio.create_task(pay(engine, ledger["customer"], invoice_id, 7_000))
        await asyncio.sleep(0.3)  # let it read the invoice and queue behind the first one's lock
        await first.commit()
    with pytest.raises(invoices.PaymentInvalid, match=r"balance due of \$44\.98"):
        await second
    invoice, payment_count, _ = await stored(engine, invoice_id)
    assert (invoice.paid_cents, payment_count) == (7_000, 1)


# -- issuing the invoice of a completed work order -----------------------------------------------------------


@pytest.fixture
async def garage(engine):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        neighbour = await add_customer(conn, "John", "Smith")
        completed = await add_work_order(
            conn,
            customer,
            number="WO-2026-000100",
            status="completed",
            labour_cents=12_000,
            parts_cents=3_450,
        )
        in_progress = await add_work_order(
            conn, customer, number="WO-2026-000101", status="in_progress", labour_cents=5_000
        )
        warranty = await add_work_order(conn, customer, number="WO-2026-000102", status="completed")
        await add_invoice(conn, neighbour, number="INV-2026-000041", issued_on=date(2026, 5, 1))
        await add_invoice(conn, neighbour, number="INV-2025-000900", issued_on=date(2025, 12, 1))
    return {
        "customer": customer,
        "neighbour": neighbour,
        "completed": completed,
        "in_progress": in_progress,
        "warranty": warranty,
    }


async def issue(engine, customer_id, work_order_id, today=TODAY):
    async with engine.begin() as conn:
        return await invoices.issue_invoice(conn, customer_id, work_order_id, actor_id=None, today=today)


async def test_issuing_computes_quebec_taxes_and_numbers_the_invoice(engine, garage):
    issued = await issue(engine, garage["customer"], garage["completed"])
    assert issued.number == "INV-2026-000042"  # one more than the year's highest
    async with engine.connect() as conn:
        invoice = (
            await conn.execute(select(invoices_table).where(invoices_table.c.id == issued.invoice_id))
        ).one()
        entry = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.id == issued.activity_id)
            )
        ).one()
    # 154.50 of work: GST 7.725 -> 7.73, QST 15.411375 -> 15.41.
    assert (invoice.subtotal_cents, invoice.gst_cents, invoice.qst_cents, invoice.total_cents) == (
        15_450,
        773,
        1_541,
        17_764,
    )
    assert (invoice.status, invoice.issued_on, invoice.due_on) == ("sent", TODAY, date(2026, 7, 15))
    assert (invoice.customer_id, invoice.work_order_id, invoice.paid_cents) == (
        garage["customer"],
        garage["completed"],
        0,
    )
    assert entry.kind == "invoice_issued" and (entry.ref_type, entry.ref_id) == ("invoice", issued.invoice_id)
    assert entry.summary == "Invoice INV-2026-000042 issued for WO-2026-000100: $177.64, due 2026-07-15"
    assert entry.details["work_order"] == "WO-2026-000100" and entry.details["total_cents"] == 17_764


async def test_the_first_invoice_of_a_year_is_number_one(engine, garage):
    issued = await issue(engine, garage["customer"], garage["completed"], today=date(2027, 1, 2))
    assert issued.number == "INV-2027-000001"


async def test_a_work_order_is_invoiced_once(engine, garage):
    first = await issue(engine, garage["customer"], garage["completed"])
    with pytest.raises(invoices.InvoiceRefused, match=f"already invoiced \\({first.number}\\)"):
        await issue(engine, garage["customer"], garage["completed"])
    async with engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count())
                .select_from(invoices_table)
                .where(invoices_table.c.work_order_id == garage["completed"])
            )
        ).scalar_one()
    assert count == 1


async def test_two_advisors_issuing_the_same_invoice_at_once_make_one(engine, garage):
    async def attempt():
        try:
            return (await issue(engine, garage["customer"], garage["completed"])).number
        except invoices.InvoiceRefused as exc:
            return str(exc)

    outcomes = await asyncio.gather(attempt(), attempt())
    assert sorted(outcomes) == [
        "INV-2026-000042",
        "Work order WO-2026-000100 is already invoiced (INV-2026-000042).",
    ]


async def test_a_void_invoice_can_be_replaced(engine, garage):
    first = await issue(engine, garage["customer"], garage["completed"])
    async with engine.begin() as conn:
        await conn.execute(
            invoices_table.update().where(invoices_table.c.id == first.invoice_id).values(status="void")
        )
    second = await issue(engine, garage["customer"], garage["completed"])
    assert second.number == "INV-2026-000043"


async def test_only_a_completed_work_order_with_something_to_bill_is_invoiced(engine, garage):
    with pytest.raises(invoices.InvoiceRefused, match="only a completed work order"):
        await issue(engine, garage["customer"], garage["in_progress"])
    with pytest.raises(invoices.InvoiceRefused, match="nothing to invoice"):
        await issue(engine, garage["customer"], garage["warranty"])
    with pytest.raises(invoices.WorkOrderNotFound):
        await issue(engine, garage["neighbour"], garage["completed"])
    async with engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count())
                .select_from(invoices_table)
                .where(invoices_table.c.customer_id == garage["customer"])
            )
        ).scalar_one()
        untouched = (
            await conn.execute(
                select(work_orders.c.updated_at).where(work_orders.c.id == garage["completed"])
            )
        ).scalar_one()
    assert count == 0
    assert untouched.year == 2026 and untouched.month == 6 and untouched.day == 1  # the factory's NOW


async def test_two_work_orders_invoiced_at_once_get_different_numbers(engine, garage):
    async with engine.begin() as conn:
        other = await add_work_order(
            conn, garage["customer"], number="WO-2026-000103", status="completed", parts_cents=2_000
        )
    first, second = await asyncio.gather(
        issue(engine, garage["customer"], garage["completed"]), issue(engine, garage["customer"], other)
    )
    assert {first.number, second.number} == {"INV-2026-000042", "INV-2026-000043"}


# -- the overdue mark --------------------------------------------------------------------------------------


async def test_mark_overdue_flips_late_invoices_with_a_balance_and_logs_each(engine, ledger):
    async with engine.begin() as conn:
        events = await invoices.mark_overdue(conn, TODAY)
    async with engine.connect() as conn:
        statuses = dict(
            (
                await conn.execute(
                    select(invoices_table.c.id, invoices_table.c.status).where(
                        invoices_table.c.customer_id == ledger["customer"]
                    )
                )
            ).all()
        )
        entries = (
            await conn.execute(
                select(customer_activities)
                .where(customer_activities.c.kind == "invoice_status")
                .order_by(customer_activities.c.id)
            )
        ).all()
    assert statuses[ledger["late_sent"]] == statuses[ledger["late_partial"]] == "overdue"
    for name, status in [
        ("current", "sent"),
        ("due_today", "sent"),
        ("partial_on_time", "partially_paid"),
        ("paid", "paid"),
        ("void", "void"),
        ("draft", "draft"),
        ("marked_overdue", "overdue"),
    ]:
        assert statuses[ledger[name]] == status, name
    # The neighbour's invoice was due on 2026-01-31: late too.
    assert len(events) == len(entries) == 3
    assert events == [(entry.customer_id, entry.id) for entry in entries]
    mine = [entry for entry in entries if entry.customer_id == ledger["customer"]]
    assert {entry.ref_id for entry in mine} == {ledger["late_sent"], ledger["late_partial"]}
    late_sent = next(entry for entry in mine if entry.ref_id == ledger["late_sent"])
    assert late_sent.details == {
        "number": "INV-2026-000002",
        "from": "sent",
        "to": "overdue",
        "balance_cents": 11_498,
        "due_on": "2026-05-01",
    }
    assert late_sent.actor_label == "system" and late_sent.ref_type == "invoice"
    assert late_sent.summary == "Invoice INV-2026-000002 is overdue: $114.98 was due on 2026-05-01"

    async with engine.begin() as conn:
        assert await invoices.mark_overdue(conn, TODAY) == []  # nothing left to mark


# -- row versions: what open pages compare ---------------------------------------------------------------


async def version_of(engine, table, row_id) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(table.c.version).where(table.c.id == row_id))).scalar_one()


async def test_every_change_of_an_invoice_raises_its_version(engine, ledger):
    invoice_id = ledger["current"]
    start = await version_of(engine, invoices_table, invoice_id)
    await pay(engine, ledger["customer"], invoice_id, 1_000)
    after_part = await version_of(engine, invoices_table, invoice_id)
    await pay(engine, ledger["customer"], invoice_id, 10_498)
    after_rest = await version_of(engine, invoices_table, invoice_id)
    assert start < after_part < after_rest
    async with engine.connect() as conn:
        page = await invoices.load_invoices(conn, ledger["customer"], today=TODAY)
    assert {row.id: row.version for row in page.invoices}[invoice_id] == after_rest


async def test_issuing_an_invoice_raises_its_work_orders_version(engine, garage):
    before = await version_of(engine, work_orders, garage["completed"])
    await issue(engine, garage["customer"], garage["completed"])
    assert await version_of(engine, work_orders, garage["completed"]) == before + 1
