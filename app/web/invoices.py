"""The invoices section's own routes: older invoices ("load more") and recording a payment."""

from __future__ import annotations

from quart import Blueprint, abort, current_app, g, make_response, render_template, request
from werkzeug.exceptions import BadRequest

from app import invoices
from app.i18n import gettext
from app.live.events import commit_and_announce
from app.params import ParamError
from app.sections import SECTIONS
from app.shop_time import shop_today
from app.tables import INVOICE_STATUSES, PAYMENT_METHODS
from app.web import limits
from app.web.access import READERS, WRITERS, allow
from app.web.customers import existing_customer
from app.web.htmx import refresh_sections

blueprint = Blueprint("invoices", __name__, url_prefix="/customers/<int:customer_id>")


@blueprint.record_once
def template_globals(state) -> None:
    state.app.jinja_env.globals.update(
        invoice_statuses=INVOICE_STATUSES,
        invoice_status_labels=invoices.STATUS_LABELS,
        payment_methods=PAYMENT_METHODS,
        payment_method_labels=invoices.METHOD_LABELS,
    )


def no_such_invoice(customer_id: int, invoice_id: int):
    abort(
        404,
        gettext(
            "Customer #%(customer)s has no invoice #%(invoice)s.", customer=customer_id, invoice=invoice_id
        ),
    )


@blueprint.get("/invoices")
@allow(*READERS)
async def more(customer_id: int):
    """The next page of invoices, as rows to put in place of the "load more" row."""
    conn = await existing_customer(customer_id)
    try:
        page = await SECTIONS["invoices"].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    return await render_template("partials/invoice_rows.html", page=page, customer_id=customer_id)


@blueprint.post("/invoices/<int:invoice_id>/payments")
@allow(*WRITERS)
@limits.writes
async def record_payment(customer_id: int, invoice_id: int):
    conn = await existing_customer(customer_id)
    today = shop_today()
    if await invoices.get_invoice(conn, customer_id, invoice_id, today=today) is None:
        no_such_invoice(customer_id, invoice_id)
    form = await request.form
    try:
        payment = invoices.parse_payment_form(form)
        recorded = await invoices.record_payment(conn, customer_id, invoice_id, payment, actor_id=g.user.id)
    except invoices.InvoiceNotFound:
        await conn.rollback()
        no_such_invoice(customer_id, invoice_id)
    except invoices.PaymentInvalid as exc:
        await conn.rollback()
        # The invoice as it is now (a colleague's payment may be why this one was refused).
        invoice = await invoices.get_invoice(conn, customer_id, invoice_id, today=today)
        html = await render_template(
            "partials/invoice_row.html",
            customer_id=customer_id,
            invoice=invoice,
            payment_values=form,
            payment_errors=exc.errors,
        )
        return html, 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, recorded.activity_id)])
    html = await render_template(
        "partials/payment_recorded.html",
        customer_id=customer_id,
        invoice=await invoices.get_invoice(conn, customer_id, invoice_id, today=today),
        totals=await invoices.load_invoice_totals(conn, customer_id, today=today),
        payment_recorded=recorded,
    )
    # Money moved: the figures and the chart follow.
    return refresh_sections(await make_response(html), "analytics", "revenue-chart")
