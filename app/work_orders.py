"""Work orders: the section (open ones first), and the status changes advisors make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.i18n import N_, gettext
from app.pagination import encode_cursor
from app.params import NOT_OUR_CURSOR, ParamError, cursor_instant, cursor_values
from app.tables import WORK_ORDER_STATUSES, invoices, users, vehicles, work_orders

PAGE_SIZE = 20
OPEN_STATUSES = ("open", "in_progress", "waiting_parts")
FINAL_STATUSES = ("completed", "cancelled")
# Where a work order may go from each status; completed and cancelled are final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "waiting_parts", "cancelled"),
    "in_progress": ("waiting_parts", "completed", "cancelled"),
    "waiting_parts": ("in_progress", "cancelled"),
    "completed": (),
    "cancelled": (),
}
STATUS_LABELS = {
    "open": N_("Open"),
    "in_progress": N_("In progress"),
    "waiting_parts": N_("Waiting for parts"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}


def group_of(status: str) -> int:
    """0 for the work orders still in the shop, 1 for the finished ones: the section shows 0 first."""
    return 0 if status in OPEN_STATUSES else 1


@dataclass(frozen=True, slots=True)
class WorkOrderRow:
    id: int
    number: str
    status: str
    vehicle: str | None
    plate: str | None
    advisor: str | None
    technician: str | None
    description: str
    odometer_km: int | None
    opened_at: datetime
    closed_at: datetime | None
    labour_cents: int
    parts_cents: int
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    # The number of its invoice (not counting a void one), once invoiced.
    invoice_number: str | None
    # Raised by every change of the row: of two renderings, an open page keeps the higher.
    version: int

    @property
    def group(self) -> int:
        return group_of(self.status)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return TRANSITIONS.get(self.status, ())

    @property
    def can_issue_invoice(self) -> bool:
        return self.status == "completed" and self.invoice_number is None and self.subtotal_cents > 0


@dataclass(frozen=True, slots=True)
class WorkOrdersPage:
    work_orders: list[WorkOrderRow]
    status: str | None
    # (group, opened_at ISO instant, id) of the last row shown, when there are more.
    # Opaque: where the next page starts; the HTML link and the JSON API hand it back as `cursor`.
    next_cursor: str | None
    # Work orders still in the shop (open, in progress, waiting for parts), whatever the filter.
    open_count: int


_invoice_number = (
    select(invoices.c.number)
    .where(invoices.c.work_order_id == work_orders.c.id, invoices.c.status != "void")
    .order_by(invoices.c.id.desc())
    .limit(1)
    .scalar_subquery()
)

_SELECT_ROWS = (
    select(
        work_orders.c.id,
        work_orders.c.number,
        work_orders.c.status,
        vehicles.c.year,
        vehicles.c.make,
        vehicles.c.model,
        vehicles.c.plate,
        users.c.name.label("advisor"),
        work_orders.c.technician,
        work_orders.c.description,
        work_orders.c.odometer_km,
        work_orders.c.opened_at,
        work_orders.c.closed_at,
        work_orders.c.labour_cents,
        work_orders.c.parts_cents,
        work_orders.c.subtotal_cents,
        work_orders.c.tax_cents,
        work_orders.c.total_cents,
        _invoice_number.label("invoice_number"),
        work_orders.c.version,
    )
    .select_from(work_orders)
    .outerjoin(vehicles, vehicles.c.id == work_orders.c.vehicle_id)
    .outerjoin(users, users.c.id == work_orders.c.advisor_id)
)


def _row(row) -> WorkOrderRow:
    return WorkOrderRow(
        id=row.id,
        number=row.number,
        status=row.status,
        vehicle=f"{row.year} {row.make} {row.model}" if row.make else None,
        plate=row.plate,
        advisor=row.advisor,
        technician=row.technician,
        description=row.description,
        odometer_km=row.odometer_km,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        labour_cents=row.labour_cents,
        parts_cents=row.parts_cents,
        subtotal_cents=row.subtotal_cents,
        tax_cents=row.tax_cents,
        total_cents=row.total_cents,
        invoice_number=row.invoice_number,
        version=row.version,
    )


def _parse_cursor(cursor: str) -> tuple[int, datetime, int]:
    group, opened_at, last_id = cursor_values(cursor, int, str, int)
    if group not in (0, 1):
        raise ParamError("cursor", gettext(NOT_OUR_CURSOR))
    return group, cursor_instant(opened_at), last_id


async def load_work_orders(
    conn: AsyncConnection,
    customer_id: int,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> WorkOrdersPage:
    """A page of the customer's work orders: open ones first, then finished ones, each newest opened first.

    One query per status of a group, each read in the order of the (customer_id, status, opened_at, id) index
    (no sort however long the history), the group's merged here; a group's queries run only while the page
    is not full.
    """
    after = _parse_cursor(cursor) if cursor is not None else None
    groups = (group_of(status),) if status is not None else (0, 1)
    rows: list[WorkOrderRow] = []
    for group in groups:
        if after is not None and group < after[0]:
            continue
        statuses = (status,) if status is not None else (OPEN_STATUSES, FINAL_STATUSES)[group]
        wanted = limit + 1 - len(rows)
        found: list[WorkOrderRow] = []
        for each in statuses:
            statement = _SELECT_ROWS.where(
                work_orders.c.customer_id == customer_id, work_orders.c.status == each
            )
            if after is not None and group == after[0]:
                _, opened_at, last_id = after
                statement = statement.where(
                    or_(
                        work_orders.c.opened_at < opened_at,
                        and_(work_orders.c.opened_at == opened_at, work_orders.c.id < last_id),
                    )
                )
            statement = statement.order_by(work_orders.c.opened_at.desc(), work_orders.c.id.desc()).limit(
                wanted
            )
            found += [_row(row) for row in await conn.execute(statement)]
        found.sort(key=lambda row: (row.opened_at, row.id), reverse=True)
        rows += found[:wanted]
        if len(rows) > limit:
            break
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.group, last.opened_at.isoformat(), last.id)
    open_count = (
        await conn.execute(
            select(func.count()).where(
                work_orders.c.customer_id == customer_id, work_orders.c.status.in_(OPEN_STATUSES)
            )
        )
    ).scalar_one()
    return WorkOrdersPage(rows[:limit], status, next_cursor, open_count)


async def get_work_order(conn: AsyncConnection, customer_id: int, work_order_id: int) -> WorkOrderRow | None:
    """One work order of this customer (None when it is not theirs), as its row in the section."""
    statement = _SELECT_ROWS.where(
        work_orders.c.id == work_order_id, work_orders.c.customer_id == customer_id
    )
    row = (await conn.execute(statement)).one_or_none()
    return _row(row) if row else None


class WorkOrderNotFound(LookupError):
    """No such work order for this customer."""


class StatusChangeRefused(ValueError):
    """The status change is not allowed or no longer applies; the message says why."""


@dataclass(frozen=True, slots=True)
class StatusChanged:
    activity_id: int
    old: str
    new: str


def check_transition(old: str, new: str) -> None:
    """Raise StatusChangeRefused unless a work order may go from `old` to `new`."""
    if new not in WORK_ORDER_STATUSES:
        raise StatusChangeRefused(gettext("Unknown status %(status)s.", status=repr(new)))
    if new == old:
        raise StatusChangeRefused(gettext("The work order is already %(status)s.", status=_status(old)))
    allowed = TRANSITIONS.get(old, ())
    if new not in allowed:
        if not allowed:
            raise StatusChangeRefused(
                gettext("A %(status)s work order is final: its status cannot change.", status=_status(old))
            )
        raise StatusChangeRefused(
            gettext(
                "A work order that is %(old)s cannot become %(new)s; it can become %(choices)s.",
                old=_status(old),
                new=_status(new),
                choices=", ".join(_status(status) for status in allowed),
            )
        )


def _status(status: str) -> str:
    """A status inside a sentence, in the user's language: "in progress", "en cours"."""
    return gettext(STATUS_LABELS[status]).lower()


def _changed_meanwhile(number: str, status: str) -> StatusChangeRefused:
    return StatusChangeRefused(
        gettext(
            "Someone changed work order %(number)s meanwhile: it is now %(status)s. "
            "Nothing was changed; choose again.",
            number=number,
            status=_status(status),
        )
    )


async def change_status(
    conn: AsyncConnection,
    customer_id: int,
    work_order_id: int,
    *,
    new_status: str,
    expected_status: str | None,
    actor_id: int | None,
    now: datetime | None = None,
) -> StatusChanged:
    """Move a work order of this customer to `new_status`, in the caller's transaction.

    `expected_status` is the status the advisor saw (None: whatever it is now). The UPDATE is guarded on it,
    so a change made meanwhile by someone else is never silently overwritten. Completing or cancelling a
    work order closes it (closed_at). Raises WorkOrderNotFound or StatusChangeRefused, having written nothing.
    """
    now = now or datetime.now(UTC)
    current = (
        await conn.execute(
            select(work_orders.c.number, work_orders.c.status).where(
                work_orders.c.id == work_order_id, work_orders.c.customer_id == customer_id
            )
        )
    ).one_or_none()
    if current is None:
        raise WorkOrderNotFound(work_order_id)
    old = expected_status or current.status
    if old != current.status:
        raise _changed_meanwhile(current.number, current.status)
    check_transition(old, new_status)
    values: dict = {"status": new_status, "updated_at": now, "version": work_orders.c.version + 1}
    if new_status in FINAL_STATUSES:
        values["closed_at"] = now
    changed = await conn.execute(
        work_orders.update()
        .where(
            work_orders.c.id == work_order_id,
            work_orders.c.customer_id == customer_id,
            work_orders.c.status == old,
        )
        .values(**values)
    )
    if changed.rowcount != 1:
        latest = (
            await conn.execute(
                select(work_orders.c.status).where(work_orders.c.id == work_order_id).with_for_update()
            )
        ).scalar_one()
        raise _changed_meanwhile(current.number, latest)
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind="work_order_status",
        summary=f"Work order {current.number}: {STATUS_LABELS[old]} → {STATUS_LABELS[new_status]}",
        actor_id=actor_id,
        details={"number": current.number, "from": old, "to": new_status},
        ref_type="work_order",
        ref_id=work_order_id,
        occurred_at=now,
    )
    return StatusChanged(activity_id, old, new_status)
