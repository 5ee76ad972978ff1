"""Administration: staff accounts and the audit trail (customers' privacy requests: app.web.privacy)."""

from __future__ import annotations

from datetime import date

from quart import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from app.audit import AuditFilter, audit_actions, load_audit
from app.db import connection
from app.i18n import gettext
from app.params import ParamError
from app.shop_time import shop_timezone
from app.tables import ROLES
from app.users import UserError, active_staff, change_user, create_user, list_staff
from app.web import auditing, limits
from app.web.access import ADMINS, allow

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


def _positive_int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) < 2**63:
        raise ParamError(
            name, gettext("must be an id (a whole number from 1), not %(value)s", value=repr(value))
        )
    return int(value)


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ParamError(
            name, gettext("must be a date like 2026-11-27, not %(value)s", value=repr(value))
        ) from None


def audit_filter() -> AuditFilter:
    action = request.args.get("action", "").strip()[:40] or None
    return AuditFilter(
        action=action,
        user_id=_positive_int("user"),
        customer_id=_positive_int("customer"),
        since=_day("since"),
        until=_day("until"),
    )


@blueprint.get("/audit")
@allow(*ADMINS)
async def audit():
    """The audit trail, newest first, filtered by action, colleague, customer and days."""
    conn = await connection()
    try:
        wanted = audit_filter()
        page = await load_audit(conn, wanted, cursor=request.args.get("cursor") or None, zone=shop_timezone())
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    template = "admin/audit_rows.html" if request.headers.get("HX-Request") == "true" else "admin/audit.html"
    return await render_template(
        template,
        page=page,
        wanted=wanted,
        actions=await audit_actions(conn),
        staff=await active_staff(conn),
        query={key: value for key, value in request.args.items() if key != "cursor" and value},
    )


async def users_page(*, status: int = 200, **state):
    staff = await list_staff(await connection())
    return await render_template("admin/users.html", staff=staff, roles=ROLES, **state), status


@blueprint.get("/users")
@allow(*ADMINS)
async def users():
    return await users_page(saved=request.args.get("saved"))


@blueprint.post("/users")
@allow(*ADMINS)
@limits.writes
async def create_user_account():
    form = await request.form
    conn = await connection()
    try:
        created = await create_user(
            conn,
            email=form.get("email", "")[:254],
            name=form.get("name", "")[:120],
            role=form.get("role", ""),
            language=form.get("language", ""),
            password=form.get("password", "")[:1024],
        )
    except UserError as exc:
        await conn.rollback()
        values = {key: form.get(key, "") for key in ("email", "name", "role", "language")}
        return await users_page(
            status=422, errors={"create": str(exc)[:1].upper() + str(exc)[1:] + "."}, values=values
        )
    await conn.commit()
    auditing.note("admin.create_user", user=created.id, role=created.role)
    return redirect(url_for("admin.users", saved=gettext("Account %(email)s created.", email=created.email)))


@blueprint.post("/users/<int:user_id>")
@allow(*ADMINS)
@limits.writes
async def change_user_account(user_id: int):
    form = await request.form
    conn = await connection()
    try:
        changes = await change_user(
            conn,
            user_id,
            role=form.get("role", ""),
            is_active=form.get("active") == "1",
            acting_user_id=g.user.id,
        )
    except LookupError:
        abort(404, gettext("There is no account #%(id)s.", id=user_id))
    except UserError as exc:
        await conn.rollback()
        return await users_page(status=422, errors={"form": str(exc)})
    await conn.commit()
    if changes:  # their sessions end and their open pages close, at once
        await current_app.extensions["hub"].user_changed(user_id)
    auditing.note("admin.change_user", user=user_id, changes={k: list(v) for k, v in changes.items()})
    return redirect(
        url_for("admin.users", saved=gettext("Saved.") if changes else gettext("Nothing to change."))
    )
