"""The role matrix, proven from the route table: every registered route and WebSocket, asked by an anonymous
client and by each role, answers exactly as the table below says. A route missing from the table, or one the
table lists that no longer exists, fails the test: adding a route means deciding who may use it, here.

The table is written out role by role on purpose (not imported from the application), so that widening a
view's access in the code without changing it here fails too.
"""

from __future__ import annotations

import asyncio
import inspect
import re

import pytest
from quart.testing import WebsocketResponseError
from sqlalchemy import func, select

from app.tables import customer_activities
from tests.conftest import csrf_token_of, sign_in
from tests.factories import add_customer

ROLES = ("advisor", "operations", "admin")
PUBLIC = "public"
# No session, and no role opens it: the monitoring system's own token or address (tests/web/test_metrics.py).
MONITORING = "monitoring"
READ = {"advisor", "operations", "admin"}  # customers and every section
WRITE = {"advisor", "admin"}  # notes, payments, profile, work orders, consents, documents, emails
WATCH = {"operations", "admin"}  # the shop-wide operations stream
ADMIN = {"admin"}  # the audit trail, privacy requests

MATRIX: dict[tuple[str, str], str | set[str]] = {
    ("GET", "static"): PUBLIC,
    ("GET", "health.healthz"): PUBLIC,
    ("GET", "health.readyz"): PUBLIC,
    ("GET", "health.metrics"): MONITORING,
    ("GET", "auth.login"): PUBLIC,
    ("POST", "auth.login_submit"): PUBLIC,
    ("POST", "auth.logout"): READ,
    ("POST", "auth.choose_language"): PUBLIC,
    ("GET", "customers.home"): READ,
    ("GET", "customers.index"): READ,
    ("GET", "customers.show"): READ,
    ("GET", "customers.section"): READ,
    ("GET", "activity.more"): READ,
    ("POST", "activity.add_note"): WRITE,
    ("GET", "profile.edit"): WRITE,
    ("POST", "profile.save"): WRITE,
    ("GET", "work_orders.more"): READ,
    ("POST", "work_orders.change_status"): WRITE,
    ("POST", "work_orders.issue_invoice"): WRITE,
    ("GET", "invoices.more"): READ,
    ("POST", "invoices.record_payment"): WRITE,
    ("GET", "documents.more"): READ,
    ("GET", "documents.download"): READ,
    ("POST", "documents.upload"): WRITE,
    ("POST", "consents.change"): WRITE,
    ("GET", "emails.more"): READ,
    ("GET", "emails.show"): READ,
    ("POST", "emails.send"): WRITE,
    ("POST", "emails.retry"): WRITE,
    ("GET", "live.operations"): WATCH,
    ("WS", "live.customer_socket"): READ,
    ("WS", "live.activity_socket"): WATCH,
    ("GET", "openapi"): READ,
    ("GET", "api.profile"): READ,
    ("GET", "api.section"): READ,
    ("GET", "api.activity"): READ,
    ("POST", "api.report_activity"): WRITE,
    ("GET", "api.invoices"): READ,
    ("POST", "api.take_payment"): WRITE,
    ("GET", "api.documents"): READ,
    ("GET", "api.analytics"): READ,
    ("GET", "api.revenue_chart"): READ,
    ("GET", "api.consents"): READ,
    ("POST", "api.send_email"): WRITE,
    ("GET", "admin.audit"): ADMIN,
    ("GET", "admin.users"): ADMIN,
    ("POST", "admin.create_user_account"): ADMIN,
    ("POST", "admin.change_user_account"): ADMIN,
    ("GET", "privacy.show"): ADMIN,
    ("POST", "privacy.export"): ADMIN,
    ("POST", "privacy.erase"): ADMIN,
}

ORIGIN = {"Origin": "http://127.0.0.1:8000"}


def routes(app) -> list[tuple[str, str, str]]:
    """(method, endpoint, rule) for every route the application has registered."""
    found = []
    for rule in app.url_map.iter_rules():
        methods = ["WS"] if rule.websocket else sorted(rule.methods - {"HEAD", "OPTIONS"})
        found += [(method, rule.endpoint, rule.rule) for method in methods]
    return found


def url_for_rule(rule: str, customer_id: int) -> str:
    """A concrete address: the customer that exists, 1 for the other ids (a 404 still proves access)."""
    path = rule.replace("<int:customer_id>", str(customer_id))
    path = re.sub(r"<int:\w+>", "1", path)
    return (
        path.replace("<section>", "profile").replace("<name>", "profile").replace("<path:filename>", "app.js")
    )


def test_every_route_is_in_the_matrix_and_every_entry_is_a_route(app):
    registered = {(method, endpoint) for method, endpoint, _ in routes(app)}
    assert registered - set(MATRIX) == set(), "routes without a decision in the role matrix"
    assert set(MATRIX) - registered == set(), "matrix entries for routes that do not exist"


async def answer(client, method: str, path: str, token: str | None) -> int:
    if method == "WS":
        try:
            async with client.websocket(path, headers=ORIGIN) as socket:
                await asyncio.wait_for(socket.receive(), 0.2)
        except TimeoutError:
            return 101  # accepted, and waiting for events
        except WebsocketResponseError as refused:  # refused before accept, with this response
            return refused.response.status_code
        raise AssertionError(f"{path}: the socket answered a page that sent nothing")
    headers = {"X-CSRF-Token": token} if token else {}
    response = await client.open(path, method=method, headers=headers)
    return response.status_code


@pytest.fixture
async def customer(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


async def test_anonymous_clients_reach_the_public_routes_only(app, customer):
    client = app.test_client()
    token = await csrf_token_of(client)  # the anonymous session's: what is refused is refused for access
    for method, endpoint, rule in routes(app):
        status = await answer(client, method, url_for_rule(rule, customer), token)
        if MATRIX[(method, endpoint)] == PUBLIC:
            assert status not in (401, 403), (method, rule, status)
        elif MATRIX[(method, endpoint)] == MONITORING:
            assert status == 403, (method, rule, status)
        else:
            # A page asked for by a browser goes to the sign-in form; anything else is told to sign in.
            assert status in (302, 401), (method, rule, status)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_what_the_matrix_gives_it(app, staff, customer, role):
    client = app.test_client()
    assert (await sign_in(client, staff[role])).status_code == 302
    token = await csrf_token_of(client)
    # Signing out last: it ends the session the other requests use.
    ordered = sorted(routes(app), key=lambda route: route[1] == "auth.logout")
    for method, endpoint, rule in ordered:
        allowed = MATRIX[(method, endpoint)]
        status = await answer(client, method, url_for_rule(rule, customer), token)
        if allowed == PUBLIC or (allowed != MONITORING and role in allowed):
            assert status not in (401, 403), (role, method, rule, status)
        else:
            assert status == 403, (role, method, rule, status)


@pytest.mark.parametrize(
    ("path", "kind"), [("/customers/{id}/notes", "form"), ("/api/customer360/{id}/activity", "json")]
)
async def test_an_oversized_body_is_a_413_that_says_so_and_writes_nothing(
    signed_in, customer, engine, path, kind
):
    client = await signed_in("advisor")
    token = await csrf_token_of(client)
    big = "x" * (100 * 1024)
    if kind == "form":
        response = await client.post(path.format(id=customer), form={"text": big, "csrf_token": token})
    else:
        response = await client.post(
            path.format(id=customer), json={"kind": "call", "summary": big}, headers={"X-CSRF-Token": token}
        )
    assert response.status_code == 413
    body = await response.get_data(as_text=True)
    assert "at most 64 KiB" in body
    if kind == "json":
        assert (await response.get_json())["error"]["code"] == "payload_too_large"
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(customer_activities))).scalar_one() == 0


async def test_no_template_context_processor_runs_on_a_thread(app):
    """Quart runs a synchronous context processor on its thread pool for every template rendered (each
    section, each pushed fragment): every one the app keeps is a coroutine function."""
    processors = [processor for chain in app.template_context_processors.values() for processor in chain]
    assert processors and all(inspect.iscoroutinefunction(processor) for processor in processors), processors
