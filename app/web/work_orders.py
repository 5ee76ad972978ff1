"""The work-orders section's own routes: older work orders, status changes, issuing the invoice."""

from __future__ import annotations

from quart import Blueprint, abort, current_app, g, make_response, render_template, request
from werkzeug.exceptions import BadRequest

from app import invoices, work_orders
from app.i18n import gettext
from app.live.events import commit_and_announce
from app.params import ParamError
from app.sections import SECTIONS
from app.tables import WORK_ORDER_STATUSES
from app.web import limits
from app.web.access import READERS, WRITERS, allow
from app.web.customers import existing_customer
from app.web.htmx import refresh_sections

blueprint = Blueprint("work_orders", __name__, url_prefix="/customers/<int:customer_id>")


@blueprint.record_once
def template_globals(state) -> None:
    state.app.jinja_env.globals.update(
        work_order_statuses=WORK_ORDER_STATUSES,
        work_order_status_labels=work_orders.STATUS_LABELS,
    )


def no_such_work_order(customer_id: int, work_order_id: int):
    abort(
        404,
        gettext(
            "Customer #%(customer)s has no work order #%(work_order)s.",
            customer=customer_id,
            work_order=work_order_id,
        ),
    )


async def render_row(conn, customer_id: int, work_order_id: int, **context) -> str:
    work_order = await work_orders.get_work_order(conn, customer_id, work_order_id)
    if work_order is None:
        no_such_work_order(customer_id, work_order_id)
    return await render_template(
        "partials/work_order_row.html", customer_id=customer_id, work_order=work_order, **context
    )


@blueprint.get("/work-orders")
@allow(*READERS)
async def more(customer_id: int):
    """The next page of work orders, as rows to put in place of the "load more" row."""
    conn = await existing_customer(customer_id)
    try:
        page = await SECTIONS["work-orders"].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    return await render_template("partials/work_order_rows.html", page=page, customer_id=customer_id)


@blueprint.post("/work-orders/<int:work_order_id>/status")
@allow(*WRITERS)
@limits.writes
async def change_status(customer_id: int, work_order_id: int):
    conn = await existing_customer(customer_id)
    if await work_orders.get_work_order(conn, customer_id, work_order_id) is None:
        no_such_work_order(customer_id, work_order_id)
    form = await request.form
    new_status = (form.get("status") or "").strip()
    try:
        if not new_status:
            raise work_orders.StatusChangeRefused(gettext("Choose the new status."))
        changed = await work_orders.change_status(
            conn,
            customer_id,
            work_order_id,
            new_status=new_status,
            expected_status=(form.get("from") or "").strip() or None,
            actor_id=g.user.id,
        )
    except work_orders.WorkOrderNotFound:
        await conn.rollback()
        no_such_work_order(customer_id, work_order_id)
    except work_orders.StatusChangeRefused as exc:
        await conn.rollback()
        return await render_row(conn, customer_id, work_order_id, status_error=str(exc)), 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, changed.activity_id)])
    label = work_orders.STATUS_LABELS[changed.new]
    response = await make_response(
        await render_row(
            conn,
            customer_id,
            work_order_id,
            saved=gettext("Status changed to %(status)s.", status=gettext(label).lower()),
        )
    )
    if changed.new == "completed":
        # The vehicle's last service is its latest completed work order.
        refresh_sections(response, "vehicles")
    return response


@blueprint.post("/work-orders/<int:work_order_id>/invoice")
@allow(*WRITERS)
@limits.writes
async def issue_invoice(customer_id: int, work_order_id: int):
    conn = await existing_customer(customer_id)
    if await work_orders.get_work_order(conn, customer_id, work_order_id) is None:
        no_such_work_order(customer_id, work_order_id)
    # End the reads' transaction: the issue must check for an existing invoice after it holds the work order.
    await conn.rollback()
    try:
        issued = await invoices.issue_invoice(conn, customer_id, work_order_id, actor_id=g.user.id)
    except work_orders.WorkOrderNotFound:
        await conn.rollback()
        no_such_work_order(customer_id, work_order_id)
    except invoices.InvoiceRefused as exc:
        await conn.rollback()
        return await render_row(conn, customer_id, work_order_id, invoice_error=str(exc)), 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, issued.activity_id)])
    html = await render_row(
        conn, customer_id, work_order_id, saved=gettext("Invoice %(number)s issued.", number=issued.number)
    )
    return refresh_sections(await make_response(html), "invoices", "analytics", "revenue-chart")
