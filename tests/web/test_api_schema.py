"""The JSON API under schemathesis: a real Hypercorn server on a seeded database, a signed-in admin, and
every operation of /openapi.json fed generated input, valid and invalid — never a server error, and every
answer (2xx or 4xx) as the document describes it.

The operations are parametrized at collection time, from the document the application builds (no server
needed to build it); `test_the_served_document_is_the_one_under_test` loads /openapi.json from the running
server with schemathesis and proves it is that same document. (schemathesis' lazy `from_fixture` loader, which
would load it from the server at run time, does not work with pytest 9.2: it sets `Function._nodeid`.)
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import create_app
from app.config import Settings
from app.customers import MAX_ID

ADMIN = ("admin@example.com", "customer360-demo")  # the demo sign-in `customer360 seed` creates
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SEEDED_CUSTOMERS = 5
# A fresh database numbers the seeded customers from 1 (the server fixture checks it).
KNOWN_CUSTOMER_IDS = tuple(range(1, SEEDED_CUSTOMERS + 1))


def api_document() -> dict:
    """/openapi.json as the application builds it: the route table and models, no database involved."""
    with tempfile.TemporaryDirectory() as var_dir:
        settings = Settings.from_env({"VAR_DIR": var_dir, "DATABASE_URL": f"sqlite:///{var_dir}/unused.db"})
        # Held in a name: quart-schema's provider keeps only a weak reference to the app, which a garbage
        # collection during schema() would otherwise free.
        app = create_app(settings)
        document = app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return json.loads(json.dumps(document))  # as served: JSON all the way down


DOCUMENT = api_document()
CONFIG = schemathesis.Config.from_dict(
    {
        "operations": [
            {
                # Well-formed but refused for what it says or whom it is for (a blank subject, a marketing
                # email without the customer's consent, a payment on a paid invoice or beyond its balance):
                # a documented 422 saying why, not valid data rejected.
                "include-path-regex": "/(send-email|payments)$",
                "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}},
            }
        ]
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Random integers are almost never a customer: half the cases use a seeded one, so that the loaders
    # really run (with every generated filter and cursor) instead of stopping at the 404. An id outside the
    # documented range is the invalid input of a negative case: it stays.
    customer_id = path_parameters.get("customer_id")
    if not isinstance(customer_id, int) or not 1 <= customer_id <= MAX_ID:
        return st.just(path_parameters)
    known = st.sampled_from(KNOWN_CUSTOMER_IDS).map(lambda id_: {**path_parameters, "customer_id": id_})
    return st.one_of(st.just(path_parameters), known)


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    log: Path
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def customer360(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """`customer360 serve` (Hypercorn) on a free port, on a migrated SQLite database seeded with demo data."""
    var_dir = tmp_path_factory.mktemp("api-schema")
    database = var_dir / "api.sqlite3"
    port = free_port()
    # Nothing of the caller's environment decides where mail, events or data go: no SMTP, in-process broker.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "SMTP_URL", "SECRET_KEY", "ALLOWED_ORIGINS", "APP_ENV", "HOST")
    }
    env = {
        **inherited,
        "VAR_DIR": str(var_dir),
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{database}",
        "SHOP_LANGUAGE": "en",  # the assertions below read English messages
    }
    customer360("migrate", env=env)
    customer360("seed", "--customers", str(SEEDED_CUSTOMERS), "--activities-per-customer", "30", env=env)
    with closing(sqlite3.connect(database)) as db:
        seeded = tuple(row[0] for row in db.execute("SELECT id FROM customers ORDER BY id"))
    assert seeded == KNOWN_CUSTOMER_IDS
    log = var_dir / "server.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(base, log, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def session_headers(server) -> dict[str, str]:
    """What a signed-in admin's browser sends: the session cookies and the session's CSRF token."""
    browser = requests.Session()
    login = browser.get(f"{server.base}/login", timeout=10)
    token = CSRF_INPUT.search(login.text)
    assert token, "no CSRF token on the sign-in page"
    email, password = ADMIN
    signed_in = browser.post(
        f"{server.base}/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": token.group(1),
            "next": "",
            "language": "en",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text
    # The token rotates at sign-in: the one that counts is on the pages of the signed-in session.
    page = browser.get(f"{server.base}/customers", timeout=10)
    token = CSRF_INPUT.search(page.text)
    assert page.status_code == 200 and token, "no CSRF token on /customers after signing in"
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    return {"Cookie": cookie, "X-CSRF-Token": token.group(1)}


@pytest.fixture(scope="module")
def token_headers(server) -> dict[str, str]:
    """What another module sends: an API token acting as the seeded admin."""
    made = subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "create", ADMIN[0], "--name", "schemathesis"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    return {"Authorization": f"Bearer {made.stdout.strip()}"}


def test_the_served_document_is_the_one_under_test(server, session_headers):
    served = schemathesis.openapi.from_url(f"{server.base}/openapi.json", headers=session_headers, timeout=10)
    assert served.raw_schema == DOCUMENT
    served.validate()  # against the OpenAPI 3.1 meta-schema
    operations = [result.ok() for result in served.get_all_operations()]  # an invalid definition raises
    assert {f"{operation.method.upper()} {operation.path}" for operation in operations} >= {
        "GET /api/customer360/{customer_id}/profile",
        "GET /api/customer360/{customer_id}/sections/{section}",
        "POST /api/customer360/{customer_id}/send-email",
    }


def test_the_document_describes_the_json_api_only():
    assert DOCUMENT["paths"] and all(path.startswith("/api/customer360/") for path in DOCUMENT["paths"])


def test_the_document_is_not_public(server):
    response = requests.get(f"{server.base}/openapi.json", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@schema.parametrize()
@settings(
    max_examples=40,
    # The same cases every run: CI is a gate, not a lottery (raise max_examples by hand to dig deeper).
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_a_server_error_or_off_its_documentation(case, server, token_headers):
    # A cursor is opaque: any string fits its schema, but only the server's own `next_cursor` is one, and
    # anything else is a 400 naming it. Such a request is checked like any other, except for being accepted.
    made_up_cursor = bool((case.query or {}).get("cursor"))
    # Likewise a reported activity's occurred_at or a payment's received_at: any instant fits the schema, one
    # in the future is refused.
    dated_report = isinstance(case.body, dict) and any(
        case.body.get(field) is not None for field in ("occurred_at", "received_at")
    )
    case.call_and_validate(
        base_url=server.base,
        headers=token_headers,  # over any credentials generated from the document's security schemes
        excluded_checks=[positive_data_acceptance] if made_up_cursor or dated_report else [],
        timeout=10,
    )


def made_up(path: str, cursor_json: str) -> str:
    """`path` with a cursor in the server's encoding (URL-safe base64 JSON) holding what an attacker chose."""
    cursor = base64.urlsafe_b64encode(cursor_json.encode()).decode().rstrip("=")
    return f"{path}?cursor={cursor}"


API = "/api/customer360"
NOT_A_CURSOR = "cursor: is not a cursor this server made"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        pytest.param(
            "GET",
            made_up(f"{API}/1/activity", '["2026-01-01T00:00:00+00:00", 1180591620717411303424]'),
            None,
            400,
            NOT_A_CURSOR,
            id="cursor-id-beyond-64-bits",
        ),
        pytest.param(
            "GET",
            made_up(f"{API}/1/documents", '["2026-01-01T00:00:00+00:00", Infinity]'),
            None,
            400,
            NOT_A_CURSOR,
            id="cursor-id-infinity",
        ),
        pytest.param(
            "GET",
            made_up(f"{API}/1/sections/work-orders", '[0, "0001-01-01T00:00:00+05:00", 1]'),
            None,
            400,
            NOT_A_CURSOR,
            id="cursor-instant-before-year-1-in-utc",
        ),
        pytest.param(
            "GET",
            made_up(f"{API}/1/sections/communications", '["9999-12-31T23:59:59-05:00", 1]'),
            None,
            400,
            NOT_A_CURSOR,
            id="cursor-instant-after-year-9999-in-utc",
        ),
        pytest.param(
            "GET",
            made_up(f"{API}/1/invoices", '["9999-12-31", 18446744073709551616]'),
            None,
            400,
            NOT_A_CURSOR,
            id="invoice-cursor-id-beyond-64-bits",
        ),
        pytest.param(
            "GET", f"{API}/1/sections/revenue-chart?months=%C2%B2", None, 400, "months:", id="superscript-two"
        ),
        pytest.param(
            "GET", f"{API}/1/sections/revenue-chart?months=--12", None, 400, "months:", id="two-minuses"
        ),
        pytest.param(
            "GET", f"{API}/1/revenue-chart?months=%C2%B2", None, 400, "months:", id="superscript-months"
        ),
        pytest.param(
            "GET",
            f"{API}/{10**25}/profile",
            None,
            404,
            f"There is nothing at /api/customer360/{10**25}/profile.",
            id="id-beyond-64-bits",
        ),
        pytest.param(
            "POST", f"{API}/1/send-email", b"[" * 30_000 + b"]" * 30_000, 400, "body:", id="json-too-deep"
        ),
        pytest.param(
            "POST",
            f"{API}/1/send-email",
            rb'{"category": "transactional", "subject": "\ud800", "body": "x"}',
            400,
            r"body: \ud800 is half of a UTF-16 surrogate pair",
            id="lone-surrogate",
        ),
        pytest.param(
            "POST",
            f"{API}/1/send-email",
            '{"category": "transactional", "subject": "Été", "body": "x"}'.encode("latin-1"),
            400,
            "body: is not UTF-8 text",
            id="latin-1-body",
        ),
    ],
)
def test_hostile_input_the_generator_rarely_makes_is_a_4xx_that_says_why(
    server, session_headers, method, path, body, status, message
):
    headers = {**session_headers, "Content-Type": "application/json"} if body is not None else session_headers
    response = requests.request(method, f"{server.base}{path}", data=body, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == {400: "bad_request", 404: "not_found"}[status]
    assert message in error["message"]


def test_the_server_logged_no_unhandled_exception(server):
    # Runs after the fuzzing above (same module, file order): an exception the error handler turned into a
    # clean 500 would still be logged with its traceback.
    log = server.log.read_text()
    assert "Traceback" not in log, log[-5000:]
