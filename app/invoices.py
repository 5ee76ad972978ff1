"""Invoices and payments: the invoices section, payments taken at the counter, issuing the invoice of a
completed work order, and the nightly mark of overdue invoices.

An invoice is overdue when it still expects money (sent or partially paid, with a balance) and its due date
has passed in the shop's calendar. The nightly job stores that status; until it has run, every reader here
computes it, so the page never shows a late invoice as merely "sent".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.i18n import N_, format_money, gettext
from app.pagination import encode_cursor
from app.params import NOT_OUR_CURSOR, ParamError, cursor_values
from app.shop_time import shop_today
from app.tables import PAYMENT_METHODS, invoices, payments, work_orders
from app.work_orders import STATUS_LABELS as WORK_ORDER_STATUS_LABELS
from app.work_orders import WorkOrderNotFound

PAGE_SIZE = 20
DUE_DAYS = 30
# Statuses that still expect money; only these accept a payment.
PAYABLE_STATUSES = ("sent", "partially_paid", "overdue")
# Statuses the nightly job turns into "overdue" once the due date has passed with a balance.
AWAITING_PAYMENT = ("sent", "partially_paid")
REFERENCE_MAX_LENGTH = 60
# $10 million: far above any invoice of a car-service shop; refuses a slip of the finger outright.
MAX_AMOUNT_CENTS = 10_000_000 * 100
NUMBER_ATTEMPTS = 5

STATUS_LABELS = {
    "draft": N_("Draft"),
    "sent": N_("Sent"),
    "partially_paid": N_("Partially paid"),
    "paid": N_("Paid"),
    "overdue": N_("Overdue"),
    "void": N_("Void"),
}
METHOD_LABELS = {
    "card": N_("Credit card"),
    "debit": N_("Interac debit"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "transfer": N_("Transfer"),
}


# -- money and the shop's calendar -----------------------------------------------------------------------


def sales_taxes(subtotal_cents: int) -> tuple[int, int]:
    """Quebec sales taxes on a subtotal: (GST 5 %, QST 9.975 %), each rounded half up to the cent.

    Integer arithmetic only: 10 cents -> GST 0.5 -> 1 cent, QST 0.9975 -> 1 cent.
    """
    if subtotal_cents < 0:
        raise ValueError(f"a subtotal cannot be negative ({subtotal_cents})")
    gst = (subtotal_cents * 5 + 50) // 100
    qst = (subtotal_cents * 9975 + 50_000) // 100_000
    return gst, qst


def dollars(cents: int) -> str:
    """12345 -> "$123.45": money in the text of the activity log."""
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    return f"{sign}${units:,}.{hundredths:02d}"


def overdue_condition(today: date):
    """SQL: the invoice is overdue on `today`, whether or not the nightly job has marked it yet."""
    return or_(
        invoices.c.status == "overdue",
        and_(
            invoices.c.status.in_(AWAITING_PAYMENT),
            invoices.c.due_on < today,
            invoices.c.paid_cents < invoices.c.total_cents,
        ),
    )


def shown_status(status: str, due_on: date, paid_cents: int, total_cents: int, today: date) -> str:
    """The status a reader sees: overdue_condition, row by row."""
    if status in AWAITING_PAYMENT and due_on < today and paid_cents < total_cents:
        return "overdue"
    return status


# -- the invoices section --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    id: int
    number: str
    work_order_number: str | None
    # As shown: "overdue" when past due with a balance, even before the nightly job has stored it.
    status: str
    stored_status: str
    issued_on: date
    due_on: date
    subtotal_cents: int
    gst_cents: int
    qst_cents: int
    total_cents: int
    paid_cents: int
    currency: str
    # Days past the due date for an overdue invoice, else 0.
    days_late: int
    # Raised by every change of the row: of two renderings, an open page keeps the higher.
    version: int

    @property
    def balance_cents(self) -> int:
        return self.total_cents - self.paid_cents

    @property
    def is_overdue(self) -> bool:
        return self.status == "overdue"

    @property
    def accepts_payment(self) -> bool:
        return self.stored_status in PAYABLE_STATUSES and self.balance_cents > 0

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    """Across all the customer's invoices, whatever the page or filter shows."""

    balance_due_cents: int
    overdue_cents: int
    open_count: int
    overdue_count: int


@dataclass(frozen=True, slots=True)
class InvoicesPage:
    invoices: list[InvoiceRow]
    status: str | None
    # Opaque: where the next page starts; the HTML link and the JSON API hand it back as `cursor`.
    next_cursor: str | None
    totals: InvoiceTotals
    today: date


_SELECT_ROWS = (
    select(
        invoices.c.id,
        invoices.c.number,
        work_orders.c.number.label("work_order_number"),
        invoices.c.status,
        invoices.c.issued_on,
        invoices.c.due_on,
        invoices.c.subtotal_cents,
        invoices.c.gst_cents,
        invoices.c.qst_cents,
        invoices.c.total_cents,
        invoices.c.paid_cents,
        invoices.c.currency,
        invoices.c.version,
    )
    .select_from(invoices)
    .outerjoin(work_orders, work_orders.c.id == invoices.c.work_order_id)
)


def _row(row, today: date) -> InvoiceRow:
    status = shown_status(row.status, row.due_on, row.paid_cents, row.total_cents, today)
    return InvoiceRow(
        id=row.id,
        number=row.number,
        work_order_number=row.work_order_number,
        status=status,
        stored_status=row.status,
        issued_on=row.issued_on,
        due_on=row.due_on,
        subtotal_cents=row.subtotal_cents,
        gst_cents=row.gst_cents,
        qst_cents=row.qst_cents,
        total_cents=row.total_cents,
        paid_cents=row.paid_cents,
        currency=row.currency,
        days_late=(today - row.due_on).days if status == "overdue" and row.due_on < today else 0,
        version=row.version,
    )


def _status_filter(status: str, today: date):
    if status == "overdue":
        return overdue_condition(today)
    if status in AWAITING_PAYMENT:
        # Those already late are shown (and filtered) as overdue, not as sent or partially paid.
        return and_(
            invoices.c.status == status,
            not_(and_(invoices.c.due_on < today, invoices.c.paid_cents < invoices.c.total_cents)),
        )
    return invoices.c.status == status


def _parse_cursor(cursor: str) -> tuple[date, int]:
    cursor = cursor_values(cursor, str, int)
    try:
        return date.fromisoformat(cursor[0]), cursor[1]
    except ValueError:
        raise ParamError("cursor", gettext(NOT_OUR_CURSOR)) from None


async def load_invoices(
    conn: AsyncConnection,
    customer_id: int,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    today: date | None = None,
) -> InvoicesPage:
    """A page of the customer's invoices, newest issued first, with the totals of all their invoices."""
    today = today or shop_today()
    statement = _SELECT_ROWS.where(invoices.c.customer_id == customer_id)
    if status is not None:
        statement = statement.where(_status_filter(status, today))
    if cursor is not None:
        issued_on, last_id = _parse_cursor(cursor)
        statement = statement.where(
            or_(
                invoices.c.issued_on < issued_on,
                and_(invoices.c.issued_on == issued_on, invoices.c.id < last_id),
            )
        )
    statement = statement.order_by(invoices.c.issued_on.desc(), invoices.c.id.desc()).limit(limit + 1)
    rows = [_row(row, today) for row in await conn.execute(statement)]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.issued_on.isoformat(), last.id)
    totals = await load_invoice_totals(conn, customer_id, today=today)
    return InvoicesPage(rows[:limit], status, next_cursor, totals, today)


async def load_invoice_totals(conn: AsyncConnection, customer_id: int, *, today: date) -> InvoiceTotals:
    """Balance due and overdue amount over all the customer's invoices, in one aggregate query."""
    balance = invoices.c.total_cents - invoices.c.paid_cents
    is_open = and_(invoices.c.status.in_(PAYABLE_STATUSES), invoices.c.paid_cents < invoices.c.total_cents)
    is_overdue = and_(is_open, overdue_condition(today))
    statement = select(
        func.coalesce(func.sum(case((is_open, balance), else_=0)), 0),
        func.coalesce(func.sum(case((is_overdue, balance), else_=0)), 0),
        func.coalesce(func.sum(case((is_open, 1), else_=0)), 0),
        func.coalesce(func.sum(case((is_overdue, 1), else_=0)), 0),
    ).where(invoices.c.customer_id == customer_id)
    balance_due, overdue, open_count, overdue_count = (await conn.execute(statement)).one()
    # MariaDB sums to DECIMAL: back to integer cents.
    return InvoiceTotals(int(balance_due), int(overdue), int(open_count), int(overdue_count))


async def get_invoice(
    conn: AsyncConnection, customer_id: int, invoice_id: int, *, today: date | None = None
) -> InvoiceRow | None:
    """One invoice of this customer (None when it is not theirs), as its row in the section."""
    today = today or shop_today()
    statement = _SELECT_ROWS.where(invoices.c.id == invoice_id, invoices.c.customer_id == customer_id)
    row = (await conn.execute(statement)).one_or_none()
    return _row(row, today) if row else None


# -- payments ----------------------------------------------------------------------------------------------


class InvoiceNotFound(LookupError):
    """No such invoice for this customer."""


class PaymentInvalid(ValueError):
    """The payment cannot be recorded; `errors` maps a form field ("form" for the whole) to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class PaymentForm:
    amount_cents: int
    method: str
    reference: str | None


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    payment_id: int
    activity_id: int
    amount_cents: int
    status: str
    balance_cents: int


_AMOUNT = re.compile(r"(?P<whole>\d{1,3}(?:(?P<group>[,.])\d{3})*|\d+)(?:(?P<point>[.,])(?P<cents>\d{1,2}))?")


def parse_amount(text: str) -> int:
    """Dollars typed by a person -> integer cents: "123.45", "123,45", "$1,234.50", "1 234,5 $", "80".

    Raises ValueError with a message for the person.
    """
    compact = re.sub(r"[\s\u00a0\u202f]", "", text or "")
    compact = compact.removeprefix("$").removesuffix("$")
    if not compact:
        raise ValueError(gettext("Enter the amount received, like 123.45."))
    if compact.startswith("-"):
        raise ValueError(gettext("The amount must be more than zero."))
    match = _AMOUNT.fullmatch(compact) if len(compact) <= 20 else None
    if match is None or (match["group"] and match["group"] == match["point"]):
        raise ValueError(
            gettext(
                "“%(text)s” is not an amount in dollars; write it like 123.45 or 123,45.", text=text.strip()
            )
        )
    if match["group"] and not match["point"] and match["whole"].count(match["group"]) == 1:
        # "1,234" is a thousand dollars to some and a dollar and change mistyped to others: ask.
        raise ValueError(
            gettext(
                "“%(text)s” is ambiguous; write the dollars without a separator, like 1234.00.",
                text=text.strip(),
            )
        )
    whole = int(match["whole"].replace(",", "").replace(".", ""))
    cents = whole * 100 + int((match["cents"] or "0").ljust(2, "0"))
    if cents <= 0:
        raise ValueError(gettext("The amount must be more than zero."))
    if cents > MAX_AMOUNT_CENTS:
        raise ValueError(
            gettext("%(amount)s is far more than any invoice; check the amount.", amount=format_money(cents))
        )
    return cents


def parse_payment_form(form: Any) -> PaymentForm:
    """The payment form's fields, checked all at once: PaymentInvalid lists every problem."""
    errors: dict[str, str] = {}
    amount_cents = 0
    try:
        amount_cents = parse_amount(form.get("amount", ""))
    except ValueError as exc:
        errors["amount"] = str(exc)
    method = (form.get("method") or "").strip()
    if method not in PAYMENT_METHODS:
        errors["method"] = (
            gettext("Choose how the customer paid.")
            if not method
            else gettext("Unknown payment method %(method)r.", method=method)
        )
    reference = (form.get("reference") or "").strip() or None
    if reference is not None and len(reference) > REFERENCE_MAX_LENGTH:
        errors["reference"] = gettext(
            "A reference is limited to %(limit)d characters; this one has %(length)d.",
            limit=REFERENCE_MAX_LENGTH,
            length=len(reference),
        )
    if errors:
        raise PaymentInvalid(errors)
    return PaymentForm(amount_cents, method, reference)


def _refusal(row, amount_cents: int) -> PaymentInvalid:
    """Why a payment of this amount cannot go on the invoice as it stands in `row`."""
    if row.status not in PAYABLE_STATUSES:
        reason = {
            "paid": gettext("Invoice %(number)s is already paid in full.", number=row.number),
            "void": gettext("Invoice %(number)s is void; it takes no payment.", number=row.number),
            "draft": gettext(
                "Invoice %(number)s is a draft; issue it before taking a payment.", number=row.number
            ),
        }.get(
            row.status,
            gettext(
                "Invoice %(number)s takes no payment in its status (%(status)s).",
                number=row.number,
                status=row.status,
            ),
        )
        return PaymentInvalid({"form": reason})
    balance = row.total_cents - row.paid_cents
    return PaymentInvalid(
        {
            "amount": gettext(
                "%(amount)s is more than the balance due of %(balance)s; enter at most %(balance)s.",
                amount=format_money(amount_cents),
                balance=format_money(balance),
            )
        }
    )


async def record_payment(
    conn: AsyncConnection,
    customer_id: int,
    invoice_id: int,
    payment: PaymentForm,
    *,
    actor_id: int | None,
    received_at: datetime | None = None,
) -> PaymentRecorded:
    """Record a payment against an invoice of this customer, in the caller's transaction.

    The amount is added by one guarded UPDATE (still payable, never beyond the total), so two payments
    taken at once can never overpay the invoice: the second finds the balance the first left.
    Raises InvoiceNotFound or PaymentInvalid, having written nothing.
    """
    received_at = received_at or datetime.now(UTC)
    amount = payment.amount_cents
    if amount <= 0:
        raise PaymentInvalid({"amount": gettext("The amount must be more than zero.")})
    current = select(
        invoices.c.number, invoices.c.status, invoices.c.total_cents, invoices.c.paid_cents
    ).where(invoices.c.id == invoice_id, invoices.c.customer_id == customer_id)
    seen = (await conn.execute(current)).one_or_none()
    if seen is None:
        raise InvoiceNotFound(invoice_id)
    if seen.status not in PAYABLE_STATUSES or seen.paid_cents + amount > seen.total_cents:
        raise _refusal(seen, amount)

    added = await conn.execute(
        invoices.update()
        .where(
            invoices.c.id == invoice_id,
            invoices.c.customer_id == customer_id,
            invoices.c.status.in_(PAYABLE_STATUSES),
            invoices.c.paid_cents + amount <= invoices.c.total_cents,
        )
        .values(
            paid_cents=invoices.c.paid_cents + amount, updated_at=received_at, version=invoices.c.version + 1
        )
    )
    if added.rowcount != 1:
        # Someone else's payment (or a void) got there first: explain with the invoice as it is now.
        latest = (await conn.execute(current.with_for_update())).one()
        raise _refusal(latest, amount)

    # This transaction holds the row now: what it reads is the latest, own payment included.
    after = (await conn.execute(current.with_for_update())).one()
    balance = after.total_cents - after.paid_cents
    if balance == 0:
        status = "paid"
    elif after.status == "overdue":
        status = "overdue"  # a part payment does not make a late invoice any less late
    else:
        status = "partially_paid"
    if status != after.status:
        await conn.execute(
            invoices.update()
            .where(invoices.c.id == invoice_id)
            .values(status=status, version=invoices.c.version + 1)
        )

    inserted = await conn.execute(
        payments.insert().values(
            invoice_id=invoice_id,
            customer_id=customer_id,
            amount_cents=amount,
            method=payment.method,
            reference=payment.reference,
            received_at=received_at,
            recorded_by=actor_id,
        )
    )
    payment_id = inserted.inserted_primary_key[0]
    outcome = "paid in full" if status == "paid" else f"{dollars(balance)} still due"
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind="payment",
        summary=(
            f"Payment of {dollars(amount)} by {METHOD_LABELS[payment.method].lower()} "
            f"on {after.number} — {outcome}"
        ),
        actor_id=actor_id,
        details={
            "invoice_id": invoice_id,
            "invoice": after.number,
            "amount_cents": amount,
            "method": payment.method,
            "reference": payment.reference,
            "status": status,
            "from": after.status,
            "balance_cents": balance,
        },
        ref_type="payment",
        ref_id=payment_id,
        occurred_at=received_at,
    )
    return PaymentRecorded(payment_id, activity_id, amount, status, balance)


# -- issuing the invoice of a completed work order --------------------------------------------------------


class InvoiceRefused(ValueError):
    """The work order cannot be invoiced; the message says why."""


@dataclass(frozen=True, slots=True)
class InvoiceIssued:
    invoice_id: int
    number: str
    activity_id: int
    total_cents: int


async def next_invoice_number(conn: AsyncConnection, year: int) -> str:
    """INV-<year>-<6 digits>, one more than the highest of that year."""
    prefix = f"INV-{year}-"
    highest = (
        await conn.execute(select(func.max(invoices.c.number)).where(invoices.c.number.like(f"{prefix}%")))
    ).scalar()
    sequence = int(highest.rsplit("-", 1)[1]) + 1 if highest else 1
    return f"{prefix}{sequence:06d}"


async def issue_invoice(
    conn: AsyncConnection,
    customer_id: int,
    work_order_id: int,
    *,
    actor_id: int | None,
    today: date | None = None,
    now: datetime | None = None,
) -> InvoiceIssued:
    """Issue the invoice of a completed work order: sent today, due in DUE_DAYS days, taxes included.

    Once per work order (a void invoice may be replaced). The work order's row is locked first, so two
    advisors clicking at once issue one invoice; start it in a fresh transaction, so that the check for an
    existing invoice reads after that lock (on MariaDB, a transaction's reads see the data of its first read).
    Raises WorkOrderNotFound or InvoiceRefused, having written nothing that a rollback does not undo.
    """
    today = today or shop_today()
    now = now or datetime.now(UTC)
    locked = await conn.execute(
        work_orders.update()
        .where(
            work_orders.c.id == work_order_id,
            work_orders.c.customer_id == customer_id,
            work_orders.c.status == "completed",
        )
        .values(updated_at=now, version=work_orders.c.version + 1)  # its row now shows the invoice
    )
    order = (
        await conn.execute(
            select(work_orders.c.number, work_orders.c.status, work_orders.c.subtotal_cents).where(
                work_orders.c.id == work_order_id, work_orders.c.customer_id == customer_id
            )
        )
    ).one_or_none()
    if order is None:
        raise WorkOrderNotFound(work_order_id)
    if locked.rowcount != 1:
        status = WORK_ORDER_STATUS_LABELS.get(order.status)
        raise InvoiceRefused(
            gettext(
                "Work order %(number)s is %(status)s: only a completed work order can be invoiced.",
                number=order.number,
                status=gettext(status).lower() if status else order.status,
            )
        )
    existing = (
        await conn.execute(
            select(invoices.c.number).where(
                invoices.c.work_order_id == work_order_id, invoices.c.status != "void"
            )
        )
    ).scalar()
    if existing is not None:
        raise InvoiceRefused(
            gettext(
                "Work order %(number)s is already invoiced (%(invoice)s).",
                number=order.number,
                invoice=existing,
            )
        )
    subtotal = order.subtotal_cents
    if subtotal <= 0:
        raise InvoiceRefused(
            gettext(
                "Work order %(number)s has nothing to invoice (its subtotal is $0.00).", number=order.number
            )
        )

    gst, qst = sales_taxes(subtotal)
    total = subtotal + gst + qst
    due_on = today + timedelta(days=DUE_DAYS)
    number = await next_invoice_number(conn, today.year)
    for attempt in range(NUMBER_ATTEMPTS):
        try:
            # A savepoint: losing the number to a concurrent issue must not undo the rest of the transaction.
            async with conn.begin_nested():
                inserted = await conn.execute(
                    invoices.insert().values(
                        number=number,
                        customer_id=customer_id,
                        work_order_id=work_order_id,
                        status="sent",
                        issued_on=today,
                        due_on=due_on,
                        subtotal_cents=subtotal,
                        gst_cents=gst,
                        qst_cents=qst,
                        total_cents=total,
                        paid_cents=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
            break
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
            # The highest number may not be visible to this transaction yet: try the next ones.
            sequence = int(number.rsplit("-", 1)[1]) + 1
            number = f"INV-{today.year}-{sequence:06d}"
    invoice_id = inserted.inserted_primary_key[0]
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind="invoice_issued",
        summary=f"Invoice {number} issued for {order.number}: {dollars(total)}, due {due_on.isoformat()}",
        actor_id=actor_id,
        details={
            "number": number,
            "work_order": order.number,
            "work_order_id": work_order_id,
            "subtotal_cents": subtotal,
            "gst_cents": gst,
            "qst_cents": qst,
            "total_cents": total,
            "due_on": due_on.isoformat(),
        },
        ref_type="invoice",
        ref_id=invoice_id,
        occurred_at=now,
    )
    return InvoiceIssued(invoice_id, number, activity_id, total)


# -- the nightly overdue mark --------------------------------------------------------------------------------


async def mark_overdue(
    conn: AsyncConnection, today: date, *, now: datetime | None = None
) -> list[tuple[int, int]]:
    """Mark "overdue" every sent or partially paid invoice whose due date is before `today` with a balance,
    recording an "invoice_status" entry for each, in the caller's transaction.

    Returns the (customer_id, activity_id) pairs to announce once committed. Each invoice is flipped by a
    guarded UPDATE, so a payment that completes it meanwhile is never overwritten.
    """
    now = now or datetime.now(UTC)
    late = (
        select(
            invoices.c.id,
            invoices.c.customer_id,
            invoices.c.number,
            invoices.c.status,
            invoices.c.due_on,
            invoices.c.total_cents,
            invoices.c.paid_cents,
        )
        .where(
            invoices.c.status.in_(AWAITING_PAYMENT),
            invoices.c.due_on < today,
            invoices.c.paid_cents < invoices.c.total_cents,
        )
        .order_by(invoices.c.due_on, invoices.c.id)
    )
    events: list[tuple[int, int]] = []
    for row in (await conn.execute(late)).all():
        flipped = await conn.execute(
            invoices.update()
            .where(
                invoices.c.id == row.id,
                invoices.c.status == row.status,
                invoices.c.paid_cents < invoices.c.total_cents,
            )
            .values(status="overdue", updated_at=now, version=invoices.c.version + 1)
        )
        if flipped.rowcount != 1:
            continue
        balance = row.total_cents - row.paid_cents
        activity_id = await record_activity(
            conn,
            customer_id=row.customer_id,
            kind="invoice_status",
            summary=f"Invoice {row.number} is overdue: {dollars(balance)} was due on {row.due_on:%Y-%m-%d}",
            actor_label="system",
            details={
                "number": row.number,
                "from": row.status,
                "to": "overdue",
                "balance_cents": balance,
                "due_on": row.due_on.isoformat(),
            },
            ref_type="invoice",
            ref_id=row.id,
            occurred_at=now,
        )
        events.append((row.customer_id, activity_id))
    return events
