"""The timeline's own routes: older entries ("load more"), notes and pins."""

from __future__ import annotations

from quart import Blueprint, current_app, g, render_template, request
from werkzeug.exceptions import BadRequest

from app import activity
from app.live.events import commit_and_announce
from app.params import ParamError
from app.sections import SECTIONS
from app.web import limits
from app.web.access import READERS, WRITERS, allow
from app.web.customers import existing_customer

blueprint = Blueprint("activity", __name__, url_prefix="/customers/<int:customer_id>")


@blueprint.get("/activity")
@allow(*READERS)
async def more(customer_id: int):
    """The next page of the timeline, as rows to put in place of the "load more" link."""
    conn = await existing_customer(customer_id)
    try:
        page = await SECTIONS["activity"].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    return await render_template("partials/activity_rows.html", page=page, customer_id=customer_id)


@blueprint.post("/notes")
@allow(*WRITERS)
@limits.writes
async def add_note(customer_id: int):
    conn = await existing_customer(customer_id)
    form = await request.form
    text, pinned = form.get("text", ""), form.get("pinned") == "1"
    try:
        note_id = await activity.add_note(conn, customer_id, text=text, pinned=pinned, actor_id=g.user.id)
    except activity.NoteError as exc:
        html = await render_template(
            "partials/note_form.html",
            customer_id=customer_id,
            note_text=text,
            note_pinned=pinned,
            note_error=str(exc),
        )
        return html, 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, note_id)])
    entry = await activity.get_activity(conn, note_id)
    return await render_template(
        "partials/note_saved.html",
        customer_id=customer_id,
        entry=entry,
        timeline_kind=form.get("kind") or None,
    )
