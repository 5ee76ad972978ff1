"""Liveness and readiness for load balancers and orchestrators (public, cheap, no personal data), and the
metrics for Prometheus (its own credentials: a token or an allowed address)."""

from __future__ import annotations

import asyncio
import hmac

from quart import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text

from app.metrics import scrape
from app.migrations import current_revision, head_revision
from app.web.access import bearer_token, public
from app.web.auditing import client_address, in_networks

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
@public
async def healthz():
    return jsonify(status="ok")


@blueprint.get("/readyz")
@public
async def readyz():
    """200 when the database (and its replica, if any) and the broker answer and the schema is at head; else
    503 naming each failing part. Each check gives up after READY_TIMEOUT: a server that stopped answering
    must not hang the probe."""
    engines = {"database": current_app.extensions["db_engine"]}
    if (replica := current_app.extensions["db_read_engine"]) is not None:
        engines["read replica"] = replica
    broker = current_app.extensions["broker"]
    checks = {name: check_database(engine) for name, engine in engines.items()}
    checks["broker"] = check_broker(broker)
    results = await asyncio.gather(*(within(READY_TIMEOUT, check) for check in checks.values()))
    problems = {name: problem for name, problem in zip(checks, results, strict=True) if problem}
    if problems:
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ready", broker=broker.name)


READY_TIMEOUT = 2.0  # seconds


async def within(seconds: float, check) -> str | None:
    try:
        return await asyncio.wait_for(check, seconds)
    except TimeoutError:
        return f"no answer within {seconds:g} s"


async def check_database(engine) -> str | None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            if await conn.run_sync(current_revision) != head_revision():
                return "migrations are not at head; run `customer360 migrate`"
    except Exception as exc:  # any failure of the database is "not ready", with its reason
        return f"unreachable: {type(exc).__name__}"
    return None


async def check_broker(broker) -> str | None:
    return None if await broker.ping() else f"{broker.name} unreachable"


@blueprint.get("/metrics")
@public  # no session (Prometheus has none): guarded by its own token or address instead
async def metrics():
    if not may_scrape():
        return Response("Metrics are for the monitoring system: send METRICS_TOKEN as a bearer token.\n", 403)
    body, content_type = await asyncio.to_thread(scrape, request.headers.get("Accept"))
    return Response(body, content_type=content_type)


def may_scrape() -> bool:
    """METRICS_TOKEN sent as a bearer token, or a client address in METRICS_ALLOWED_IPS (loopback unless
    configured; behind a proxy, the address it forwards for, see TRUSTED_PROXIES)."""
    settings = current_app.config["SETTINGS"]
    token = bearer_token()
    if token is not None:
        return settings.metrics_token is not None and hmac.compare_digest(
            token.encode(), settings.metrics_token.encode()
        )
    address = client_address()
    return address is not None and in_networks(address, settings.metrics_networks)
