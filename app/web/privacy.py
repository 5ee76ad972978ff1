"""A customer's privacy requests, handled by an admin: export everything held about them; erase them."""

from __future__ import annotations

import asyncio

from quart import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from app import privacy
from app.customers import get_profile
from app.db import connection
from app.i18n import gettext
from app.live.events import commit_and_announce
from app.tables import CONSENT_SOURCES
from app.web import auditing, limits
from app.web.access import ADMINS, allow
from app.web.documents import storage_directory

blueprint = Blueprint("privacy", __name__, url_prefix="/customers/<int:customer_id>/privacy")

# How a customer can make a request (an import is not a customer asking).
REQUEST_SOURCES = tuple(source for source in CONSENT_SOURCES if source != "import")
CONFIRMATION = "ERASE"


async def _profile(customer_id: int):
    profile = await get_profile(await connection(), customer_id)
    if profile is None:
        abort(404, gettext("There is no customer #%(id)s.", id=customer_id))
    return profile


async def _page(customer_id: int, *, status: int = 200, **state):
    profile = await _profile(customer_id)
    history = await privacy.privacy_history(await connection(), customer_id)
    html = await render_template(
        "privacy.html",
        profile=profile,
        history=history,
        sources=REQUEST_SOURCES,
        confirmation=CONFIRMATION,
        **state,
    )
    return html, status


@blueprint.get("")
@allow(*ADMINS)
async def show(customer_id: int):
    return await _page(customer_id, done=request.args.get("done"))


@blueprint.post("/export")
@allow(*ADMINS)
@limits.writes
async def export(customer_id: int):
    """Every row held about the customer: JSON and CSV in one ZIP archive, as a download."""
    await _profile(customer_id)
    conn = await connection()
    made = await privacy.export_customer(conn, customer_id, actor_id=g.user.id)
    await conn.commit()
    auditing.note("privacy.export", rows=made.counts)
    response = current_app.response_class(made.data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    return response


@blueprint.post("/erase")
@allow(*ADMINS)
@limits.writes
async def erase(customer_id: int):
    profile = await _profile(customer_id)
    form = await request.form
    errors = {}
    source = form.get("source", "")
    if source not in REQUEST_SOURCES:
        errors["source"] = gettext("Say how the customer made the request.")
    if form.get("confirm", "").strip() != CONFIRMATION:
        errors["confirm"] = gettext("Type %(word)s to confirm: erasure cannot be undone.", word=CONFIRMATION)
    if profile.erased_at is not None:
        errors["form"] = gettext("This customer's personal data was erased already.")
    if errors:
        return await _page(customer_id, status=422, errors=errors, values=form)
    conn = await connection()
    erased = await privacy.erase_customer(
        conn, customer_id, actor_id=g.user.id, source=source, documents_dir=storage_directory()
    )
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, erased.activity_id)])
    # Only once the erasure is committed: a rollback must not have lost the files.
    await asyncio.to_thread(privacy.delete_files, erased.files)
    auditing.note("privacy.erasure", rows=erased.counts)
    return redirect(url_for("privacy.show", customer_id=customer_id, done="erasure"))
