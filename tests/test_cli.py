"""The command line as an operator uses it: real processes, real databases, a real Hypercorn."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import parse_database_url
from app.db import create_engine
from tests.conftest import TEST_MYSQL_URL, unavailable


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
async def empty_database_url(request, tmp_path):
    """The URL of a database with nothing in it, as an operator would pass it in DATABASE_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    server = create_engine(parse_database_url(TEST_MYSQL_URL, tmp_path), pool_size=1)
    name = f"c360_cli_{secrets.token_hex(4)}"
    try:
        async with server.begin() as conn:
            await conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    except Exception as exc:
        await server.dispose()
        unavailable(f"MariaDB at {TEST_MYSQL_URL}", str(exc))
    try:
        yield make_url(TEST_MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with server.begin() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await server.dispose()


def customer360(*args: str, env: dict[str, str], stdin: str = "", timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_migrate_twice_is_a_no_op_the_second_time(empty_database_url, tmp_path):
    env = {"DATABASE_URL": empty_database_url, "VAR_DIR": str(tmp_path)}
    first = customer360("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "upgraded from an empty database to revision" in first.stdout
    second = customer360("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout


def test_seed_prints_what_it_wrote_and_if_empty_does_nothing_the_second_time(empty_database_url, tmp_path):
    env = {"DATABASE_URL": empty_database_url, "VAR_DIR": str(tmp_path)}
    assert customer360("migrate", env=env).returncode == 0
    first = customer360("seed", "--customers", "3", "--activities-per-customer", "5", "--if-empty", env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"customers\s+3\n", first.stdout)
    assert re.search(r"users\s+11\n", first.stdout)
    assert "seeding customers: 3/3 (100%)" in first.stderr
    second = customer360("seed", "--customers", "3", "--if-empty", env=env)
    assert second.returncode == 0
    assert "already has 3 customers: not seeding" in second.stdout


def test_createuser_reads_the_password_from_stdin(empty_database_url, tmp_path):
    env = {"DATABASE_URL": empty_database_url, "VAR_DIR": str(tmp_path)}
    assert customer360("migrate", env=env).returncode == 0
    created = customer360(
        "createuser",
        "Chef@Shop.example",
        "--role",
        "admin",
        "--name",
        "Chef",
        env=env,
        stdin="a long passphrase\n",
    )
    assert created.returncode == 0, created.stderr
    assert "Created admin chef@shop.example" in created.stdout
    again = customer360(
        "createuser", "chef@shop.example", "--role", "advisor", env=env, stdin="another passphrase\n"
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    short = customer360("createuser", "new@shop.example", "--role", "advisor", env=env, stdin="short\n")
    assert short.returncode == 1
    assert "at least 12 characters" in short.stderr
    bad_role = customer360(
        "createuser", "x@shop.example", "--role", "owner", env=env, stdin="a long passphrase\n"
    )
    assert bad_role.returncode == 2
    assert "'owner' is not one of" in bad_role.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_api_tokens_are_made_listed_and_revoked(empty_database_url, tmp_path):
    env = {"DATABASE_URL": empty_database_url, "VAR_DIR": str(tmp_path)}
    assert customer360("migrate", env=env).returncode == 0
    user = customer360("createuser", "pos@shop.example", "--role", "advisor", env=env, stdin="x" * 20 + "\n")
    assert user.returncode == 0, user.stderr
    made = customer360("token", "create", "pos@shop.example", "--name", "pos", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("c360_") and "shown this once" in made.stderr
    assert "pos\tpos@shop.example (advisor)" in customer360("token", "list", env=env).stdout
    assert customer360("token", "create", "pos@shop.example", "--name", "pos", env=env).returncode == 1
    assert customer360("token", "revoke", "pos", env=env).returncode == 0
    assert "revoked" in customer360("token", "list", env=env).stdout
    again = customer360("token", "revoke", "pos", env=env)
    assert again.returncode == 1 and "no live token named 'pos'" in again.stderr


def test_serve_runs_hypercorn_on_the_configured_port(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
    }
    assert customer360("migrate", env=env).returncode == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status, _, body = fetch(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer within 10 s")
        assert status == 200 and '"ok"' in body
        assert fetch(f"{base}/readyz")[0] == 200
        status, headers, _ = fetch(f"{base}/customers")
        assert status == 302 and headers["Location"] == "/login?next=%2Fcustomers"
        status, _, body = fetch(f"{base}/login")
        assert status == 200 and 'name="csrf_token"' in body
        assert fetch(f"{base}/static/vendor/htmx-2.0.11.min.js")[0] == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"Customer 360 on http://127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_vendored_front_end_files_carry_their_versions():
    vendor = Path(__file__).resolve().parent.parent / "static" / "vendor"
    names = sorted(path.name for path in vendor.iterdir())
    assert "htmx-2.0.11.min.js" in names
    assert "htmx-ext-ws-2.0.4.min.js" in names
    assert (vendor / "htmx-2.0.11.min.js").read_text().count("htmx") > 10
