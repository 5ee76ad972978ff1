"""Privacy consents: grant or withdraw one consent (purpose × channel) from the consents section."""

from __future__ import annotations

from types import SimpleNamespace

from quart import Blueprint, current_app, g, make_response, redirect, render_template, request, url_for

from app import consents
from app.i18n import gettext
from app.live.events import commit_and_announce
from app.sections import SECTIONS
from app.tables import CHANNELS, CONSENT_PURPOSES
from app.web import limits
from app.web.access import WRITERS, allow
from app.web.customers import existing_customer
from app.web.htmx import is_htmx, refresh_sections

blueprint = Blueprint("consents", __name__, url_prefix="/customers/<int:customer_id>")

# How a change can reach an advisor at the counter; web forms and imports arrive by other ways.
PAGE_SOURCES = ("in_person", "phone", "paper_form", "email")

LABELS = SimpleNamespace(
    purposes=consents.PURPOSE_LABELS,
    channels=consents.CHANNEL_LABELS,
    channel_names=consents.CHANNEL_NAMES,
    statuses=consents.STATUS_LABELS,
    actions=consents.ACTION_LABELS,
    bases=consents.LEGAL_BASIS_LABELS,
    sources=consents.SOURCE_LABELS,
    allowed_bases=consents.ALLOWED_BASES,
    current_wording=consents.CURRENT_WORDING,
    page_sources=PAGE_SOURCES,
    purpose_order=CONSENT_PURPOSES,
    channel_order=CHANNELS,
)


@blueprint.record_once
def add_template_globals(state) -> None:
    state.app.jinja_env.globals.update(consent_labels=LABELS, consent_wording=consents.wording)


async def render_section(conn, customer_id: int, **context) -> str:
    section = SECTIONS["consents"]
    data = await consents.load_consents(conn, customer_id)
    return await render_template(
        section.template, section=section, customer_id=customer_id, data=data, args={}, **context
    )


@blueprint.post("/consents")
@allow(*WRITERS)
@limits.writes
async def change(customer_id: int):
    """Grant or withdraw a consent; the section comes back with the matrix and its history up to date."""
    conn = await existing_customer(customer_id)
    form = await request.form
    requested = {
        "purpose": form.get("purpose", ""),
        "channel": form.get("channel", ""),
        "action": form.get("action", ""),
        "legal_basis": form.get("legal_basis") or None,
        "source": form.get("source") or "in_person",
        "note": form.get("note", ""),
    }
    try:
        changed = await consents.change_consent(conn, customer_id, actor_id=g.user.id, **requested)
    except (consents.ConsentInvalid, consents.ConsentConflict) as exc:
        # A conflict may come from the database after part of the change: nothing of it must stay.
        await conn.rollback()
        errors = exc.errors if isinstance(exc, consents.ConsentInvalid) else {"consent": str(exc)}
        html = await render_section(
            conn,
            customer_id,
            consent_form=SimpleNamespace(errors=errors, **requested),
            # Problems that name no cell of the matrix (a forged purpose or channel) are shown above it.
            consent_problems=[errors[field] for field in ("purpose", "channel", "action") if field in errors],
        )
        return html, 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, changed.activity_id)])
    if not is_htmx():
        return redirect(url_for("customers.show", customer_id=customer_id) + "#section-consents")
    saved = gettext(
        "%(consent)s: %(action)s.",
        consent=consents.consent_name(requested["purpose"], requested["channel"]),
        action=gettext(consents.ACTION_LABELS[requested["action"]]).lower(),
    )
    response = await make_response(await render_section(conn, customer_id, consent_saved=saved))
    # Which emails may be sent depends on the consents.
    return refresh_sections(response, "communications")
