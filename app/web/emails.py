"""Communications: the customer's emails (older pages, one message in full), sending and sending again."""

from __future__ import annotations

from types import SimpleNamespace

from quart import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from app import emails, mailer
from app.i18n import gettext
from app.live.events import commit_and_announce
from app.params import ParamError
from app.sections import SECTIONS
from app.tables import EMAIL_CATEGORIES
from app.web import limits
from app.web.access import READERS, WRITERS, allow
from app.web.customers import existing_customer
from app.web.htmx import is_htmx

blueprint = Blueprint("emails", __name__, url_prefix="/customers/<int:customer_id>")


LABELS = SimpleNamespace(
    categories=emails.CATEGORY_LABELS,
    category_order=EMAIL_CATEGORIES,
    statuses=emails.STATUS_LABELS,
    languages=emails.LANGUAGE_LABELS,
    subject_max=emails.SUBJECT_MAX_LENGTH,
    body_max=emails.BODY_MAX_LENGTH,
)


@blueprint.record_once
def add_template_globals(state) -> None:
    state.app.jinja_env.globals.update(email_labels=LABELS)


def delivery_configured() -> bool:
    return bool(current_app.config["SETTINGS"].smtp_url)


async def render_section(conn, customer_id: int, **context) -> str:
    section = SECTIONS["communications"]
    data = await emails.load_emails(conn, customer_id, delivery_configured=delivery_configured())
    return await render_template(
        section.template, section=section, customer_id=customer_id, data=data, args={}, **context
    )


@blueprint.get("/emails")
@allow(*READERS)
async def more(customer_id: int):
    """Older emails, as rows to put in place of the "show older" row."""
    conn = await existing_customer(customer_id)
    try:
        page = await SECTIONS["communications"].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    return await render_template("partials/email_rows.html", page=page, customer_id=customer_id)


@blueprint.get("/emails/<int:email_id>")
@allow(*READERS)
async def show(customer_id: int, email_id: int):
    """One email in full, as it was (or will be) sent."""
    conn = await existing_customer(customer_id)
    message = await emails.get_email(conn, customer_id, email_id)
    if message is None:
        abort(
            404,
            gettext("Customer #%(customer)s has no email #%(email)s.", customer=customer_id, email=email_id),
        )
    template = "partials/email_message.html" if is_htmx() else "partials/email_page.html"
    return await render_template(template, message=message, customer_id=customer_id)


@blueprint.post("/emails")
@allow(*WRITERS)
@limits.writes
async def send(customer_id: int):
    """Queue an email to the customer, if their consent allows it; the section comes back with it listed."""
    conn = await existing_customer(customer_id)
    form = await request.form
    values = SimpleNamespace(
        category=form.get("category", ""), subject=form.get("subject", ""), body=form.get("body", "")
    )
    try:
        queued = await emails.send_email(
            conn,
            customer_id,
            category=values.category,
            subject=values.subject,
            body=values.body,
            actor_id=g.user.id,
        )
    except (emails.EmailInvalid, emails.EmailRefused) as exc:
        await conn.rollback()
        html = await render_section(
            conn,
            customer_id,
            email_form=values,
            email_errors=exc.errors if isinstance(exc, emails.EmailInvalid) else {},
            email_refusal=str(exc) if isinstance(exc, emails.EmailRefused) else None,
        )
        return html, 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, queued.activity_id)])
    mailer.wake(current_app)
    if not is_htmx():
        return redirect(url_for("customers.show", customer_id=customer_id) + "#section-communications")
    if delivery_configured():
        notice = gettext("Email to %(recipient)s queued — will be sent shortly.", recipient=queued.recipient)
    else:
        notice = gettext(
            "Email to %(recipient)s kept in the outbox: no mail server is configured (SMTP_URL). "
            "It will be sent once one is.",
            recipient=queued.recipient,
        )
    return await render_section(conn, customer_id, email_notice=notice)


@blueprint.post("/emails/<int:email_id>/retry")
@allow(*WRITERS)
@limits.writes
async def retry(customer_id: int, email_id: int):
    """Put a failed or refused email back in the outbox (its consent is checked again)."""
    conn = await existing_customer(customer_id)
    try:
        activity_id = await emails.retry_email(conn, customer_id, email_id, actor_id=g.user.id)
    except LookupError as exc:
        await conn.rollback()
        abort(404, str(exc))
    except emails.EmailRefused as exc:
        await conn.rollback()
        return await render_section(conn, customer_id, email_refusal=str(exc)), 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, activity_id)])
    mailer.wake(current_app)
    if not is_htmx():
        return redirect(url_for("customers.show", customer_id=customer_id) + "#section-communications")
    return await render_section(conn, customer_id, email_notice=gettext("The email is back in the outbox."))
