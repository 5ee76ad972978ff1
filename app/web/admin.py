"""Administration: the audit trail (and, in app.web.privacy, customers' privacy requests)."""

from __future__ import annotations

from datetime import date

from quart import Blueprint, render_template, request
from werkzeug.exceptions import BadRequest

from app.audit import AuditFilter, audit_actions, load_audit
from app.db import connection
from app.params import ParamError
from app.shop_time import shop_timezone
from app.users import active_staff
from app.web.access import ADMINS, allow

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


def _positive_int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) < 2**63:
        raise ParamError(name, f"must be an id (a whole number from 1), not {value!r}")
    return int(value)


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ParamError(name, f"must be a date like 2026-11-27, not {value!r}") from None


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
