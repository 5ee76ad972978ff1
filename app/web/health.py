"""Liveness and readiness for load balancers and orchestrators (public, cheap, no personal data)."""

from __future__ import annotations

from quart import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.db import connection
from app.migrations import current_revision, head_revision
from app.web.access import public

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
@public
async def healthz():
    return jsonify(status="ok")


@blueprint.get("/readyz")
@public
async def readyz():
    problems = {}
    try:
        conn = await connection()
        await conn.execute(text("SELECT 1"))
        if await conn.run_sync(current_revision) != head_revision():
            problems["database"] = "migrations are not at head; run `customer360 migrate`"
    except Exception as exc:  # any failure of the database is "not ready", with its reason
        problems["database"] = f"unreachable: {type(exc).__name__}"
    broker = current_app.extensions["broker"]
    if not await broker.ping():
        problems["broker"] = f"{broker.name} unreachable"
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ready", broker=broker.name)
