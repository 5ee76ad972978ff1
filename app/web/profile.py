"""Editing the profile: the edit form in place of the profile section, and saving it."""

from __future__ import annotations

from datetime import datetime

from quart import Blueprint, abort, current_app, g, render_template, request

from app.customers import get_profile, load_profile_details
from app.db import connection
from app.i18n import gettext
from app.live.events import commit_and_announce
from app.profile import PROVINCES, ProfileInvalid, StaleProfile, parse_profile_form, update_profile
from app.sections import SECTIONS
from app.tables import CHANNELS
from app.web import limits
from app.web.access import WRITERS, allow

blueprint = Blueprint("profile", __name__, url_prefix="/customers/<int:customer_id>")


async def render_form(customer_id: int, *, values, version: str, errors=None, status: int = 200):
    html = await render_template(
        "partials/profile_form.html",
        section=SECTIONS["profile"],
        customer_id=customer_id,
        values=values,
        version=version,
        errors=errors or {},
        channels=CHANNELS,
        provinces=PROVINCES,
        args={},
    )
    return html, status


@blueprint.get("/profile/edit")
@allow(*WRITERS)
async def edit(customer_id: int):
    profile = await get_profile(await connection(), customer_id)
    if profile is None:
        abort(404, gettext("There is no customer #%(id)s.", id=customer_id))
    values = {
        "email": profile.email,
        "phone": profile.phone,
        "address_line1": profile.address_line1,
        "address_line2": profile.address_line2,
        "city": profile.city,
        "province": profile.province,
        "postal_code": profile.postal_code,
        "preferred_channel": profile.preferred_channel,
        "language": profile.language,
        "tags": ", ".join(profile.tags),
    }
    return await render_form(customer_id, values=values, version=profile.updated_at.isoformat())


@blueprint.post("/profile")
@allow(*WRITERS)
@limits.writes
async def save(customer_id: int):
    conn = await connection()
    form = await request.form
    version = form.get("version", "")
    try:
        seen_version = datetime.fromisoformat(version)
        if seen_version.tzinfo is None:
            raise ValueError(version)
    except ValueError:
        abort(400, gettext("version: missing or malformed; reload the page and edit again."))
    if await get_profile(conn, customer_id) is None:
        abort(404, gettext("There is no customer #%(id)s.", id=customer_id))
    try:
        changes = parse_profile_form(form)
        activity_id = await update_profile(
            conn, customer_id, changes, seen_version=seen_version, actor_id=g.user.id
        )
    except ProfileInvalid as exc:
        return await render_form(customer_id, values=form, version=version, errors=exc.errors, status=422)
    except StaleProfile:
        await conn.rollback()
        errors = {
            "form": gettext(
                "Someone else changed this profile while you were editing. Your changes were not "
                "saved: cancel to see theirs, then edit again."
            )
        }
        return await render_form(customer_id, values=form, version=version, errors=errors, status=409)
    if activity_id is not None:
        await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, activity_id)])
    details = await load_profile_details(conn, customer_id)
    return await render_template(
        "partials/profile_saved.html",
        section=SECTIONS["profile"],
        customer_id=customer_id,
        data=details,
        profile=details.profile,
        args={},
        saved=activity_id is not None,
    )
