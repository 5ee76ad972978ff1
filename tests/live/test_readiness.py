"""/readyz of a served app follows its dependencies: it turns 503, naming the part, within seconds of MariaDB
becoming unreachable or Redis stopping, and 200 again when they return; /healthz (the process) stays 200.

MariaDB is reached through a relay that the test cuts (every connection reset, new ones refused: what the app
sees of a stopped server, without stopping the one every other test uses); Redis is a private redis-server
that the test stops and starts.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy.engine import make_url

from tests.browser.conftest import Server
from tests.browser.proxy import Relay
from tests.conftest import scratch_mysql_database
from tests.redis_server import private_redis

pytestmark = [pytest.mark.mysql, pytest.mark.redis]

# A failing dependency must show within this; it is a bound for the test to give up, not a measured figure.
DEADLINE = 20.0


def readiness(base: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_until(base: str, status: int) -> dict:
    deadline = time.monotonic() + DEADLINE
    while True:
        found, body = readiness(base)
        if found == status:
            return body
        assert time.monotonic() < deadline, f"/readyz still {found} {body}, expected {status}"
        time.sleep(0.2)


@pytest.fixture
async def database_url():
    async with scratch_mysql_database("ready") as url:
        yield url


@pytest.fixture
def redis_server():
    with private_redis() as redis:
        yield redis


async def test_readyz_names_the_database_or_redis_while_unreachable_and_recovers(
    database_url, redis_server, tmp_path
):
    url = make_url(database_url)
    relay = Relay(url.port or 3306)
    relayed = url.set(drivername="mysql", host="127.0.0.1", port=relay.port)
    server = Server(
        tmp_path, DATABASE_URL=relayed.render_as_string(hide_password=False), REDIS_URL=redis_server.url
    )
    base = server.base
    try:
        await asyncio.to_thread(server.start)
        assert (await asyncio.to_thread(wait_until, base, 200))["status"] == "ready"

        relay.cut()
        body = await asyncio.to_thread(wait_until, base, 503)
        assert set(body["problems"]) == {"database"}
        assert "unreachable" in body["problems"]["database"]
        assert healthz(base) == 200  # the process is fine: no restart wanted
        relay.restore()
        await asyncio.to_thread(wait_until, base, 200)

        redis_server.stop()
        body = await asyncio.to_thread(wait_until, base, 503)
        assert body["problems"] == {"broker": "redis unreachable"}
        redis_server.start()
        await asyncio.to_thread(wait_until, base, 200)
    finally:
        await asyncio.to_thread(server.stop)
        server.log.close()
        relay.close()


def healthz(base: str) -> int:
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        return response.status
