"""Scale-out for real: `customer360 serve --workers 2` behind one Redis. Events written through one worker
process reach the sockets held by the other, every one once and in order; SIGTERM closes every socket of both
workers with 1012 and the service exits cleanly, whether it reaches the main process only or all of them.
Under load, the metrics any worker answers add up over both (every event published is delivered to every
open page), and every line the service logs is JSON carrying the id of the request it belongs to.

Which worker holds a connection is read from the kernel (/proc), not asked of the application.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live.http import sign_in
from tests.test_cli import customer360, free_port

PASSWORD = "customer360-demo"  # the demo sign-ins `customer360 seed` creates
CUSTOMER = 1
NOTES = 24


def worker_pids(parent: int) -> list[int]:
    """The worker processes `serve` spawned (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def holder(server_port: int, client_port: int, pids: list[int]) -> int:
    """The worker whose end of the TCP connection 127.0.0.1:server_port <- client_port it is."""
    wanted = (f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            inode = fields[9]
            break
    else:
        raise AssertionError(f"no server side for client port {client_port}")
    owners = [pid for pid in pids if inode in socket_inodes(pid)]
    assert len(owners) == 1, owners
    return owners[0]


@pytest.fixture
def service(tmp_path, redis_url):
    """Two workers on a seeded database, one Redis; yields (process, port, API token). What the service
    logs (stderr) is in tmp_path/service.log."""
    port = free_port()
    env = {
        "VAR_DIR": str(tmp_path),
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path}/workers.db",
        "REDIS_URL": redis_url,
        "APP_ENV": "development",
    }
    assert customer360("migrate", env=env).returncode == 0
    seeded = customer360("seed", "--customers", "2", "--activities-per-customer", "3", env=env)
    assert seeded.returncode == 0, seeded.stderr
    made = customer360("token", "create", "advisor@example.com", "--name", "workshop", env=env)
    assert made.returncode == 0, made.stderr
    with open(tmp_path / "service.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--workers", "2"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # a process group of its own, which a test may signal as a whole
        )
    try:
        yield server, port, made.stdout.strip()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


async def collect(socket: aiohttp.ClientWebSocketResponse, count: int) -> list[int]:
    """The event ids of the next `count` events the socket is sent."""
    seen: list[int] = []
    while len(seen) < count:
        message = await asyncio.wait_for(socket.receive(), 10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        seen += [int(found) for found in re.findall(r'<meta name="live-event" content="(\d+)"', message.data)]
    return seen


# SIGTERM to the service's main process (what `kill` does), or to every process of it at once (what systemd
# does with its default KillMode=control-group, and other process managers alike).
STOPS = {
    "main process": lambda server: server.send_signal(signal.SIGTERM),
    "every process": lambda server: os.killpg(server.pid, signal.SIGTERM),
}


@pytest.mark.parametrize("stop", STOPS)
async def test_events_written_through_one_worker_reach_sockets_held_by_the_other_once_in_order(service, stop):
    server, port, api_token = service
    base = f"http://127.0.0.1:{port}"
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies set by an IP-address host
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        await sign_in(session, base, "operations@example.com", PASSWORD)
        workers = worker_pids(server.pid)
        assert len(workers) == 2
        pages: dict[int, list] = {pid: [] for pid in workers}
        streams: dict[int, list] = {pid: [] for pid in workers}
        for _ in range(40):  # the kernel hands each connection to either worker: open until both hold some
            for path, held in ((f"/ws/customers/{CUSTOMER}", pages), ("/ws/activity", streams)):
                socket = await session.ws_connect(f"{base}{path}", headers={"Origin": base})
                held[holder(port, socket.get_extra_info("sockname")[1], workers)].append(socket)
            if all(pages.values()) and all(streams.values()):
                break
        assert all(pages.values()) and all(streams.values()), "every socket went to one worker"
        await asyncio.sleep(0.3)  # let every socket's subscription settle

        written: list[int] = []
        # A fresh connection per write: the kernel spreads them over both workers too.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as api:
            for number in range(NOTES):
                async with api.post(
                    f"{base}/api/customer360/{CUSTOMER}/activity",
                    json={"kind": "note", "summary": f"Counted note #{number}"},
                    headers={"Authorization": f"Bearer {api_token}"},
                ) as response:
                    assert response.status == 201, await response.text()
                    written.append((await response.json())["id"])

        every_socket = [
            socket for held in (pages, streams) for sockets in held.values() for socket in sockets
        ]
        for socket in every_socket:
            assert await collect(socket, NOTES) == written  # each once, in commit order

        STOPS[stop](server)
        for socket in every_socket:
            # The close frame the server sent (read later, the worker may be gone, so the reply fails).
            message = await asyncio.wait_for(socket.receive(), 15)
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1012)
    assert await asyncio.to_thread(server.wait, 30) == 0


def scrape(base: str) -> dict[tuple[str, frozenset], float]:
    """/metrics as the monitoring system reads it (from loopback, allowed by default), from either worker."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_two_workers_under_load_report_metrics_that_add_up_and_log_json_lines_with_request_ids(
    service, tmp_path
):
    server, port, api_token = service
    base = f"http://127.0.0.1:{port}"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        await sign_in(session, base, "operations@example.com", PASSWORD)
        workers = worker_pids(server.pid)
        sockets: dict[str, list] = {"customer": [], "stream": []}
        held: set[int] = set()
        while len(held) < 2 or len(sockets["customer"]) < 6 or len(sockets["stream"]) < 4:
            assert len(sockets["customer"]) < 40, "every socket went to one worker"
            for kind, path in (("customer", f"/ws/customers/{CUSTOMER}"), ("stream", "/ws/activity")):
                socket = await session.ws_connect(f"{base}{path}", headers={"Origin": base})
                held.add(holder(port, socket.get_extra_info("sockname")[1], workers))
                sockets[kind].append(socket)
        every_socket = sockets["customer"] + sockets["stream"]
        await asyncio.sleep(0.3)
        before = await asyncio.to_thread(scrape, base)

        # Load: notes written by four writers at once, each on fresh connections (spread over both
        # workers), while two readers fetch sections.
        async def write(writer: int) -> list[tuple[int, str]]:
            written = []
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as api:
                for number in range(NOTES // 4):
                    request_id = f"load-{writer}-{number}"
                    async with api.post(
                        f"{base}/api/customer360/{CUSTOMER}/activity",
                        json={"kind": "note", "summary": f"Load note {writer}/{number}"},
                        headers={"Authorization": f"Bearer {api_token}", "X-Request-ID": request_id},
                    ) as response:
                        assert response.status == 201, await response.text()
                        assert response.headers["X-Request-ID"] == request_id
                        written.append(((await response.json())["id"], request_id))
            return written

        async def read(sections: list[str]) -> int:
            for name in sections:
                async with session.get(f"{base}/customers/{CUSTOMER}/sections/{name}") as response:
                    assert response.status == 200
            return len(sections)

        reads = ["activity", "invoices", "analytics", "profile"] * 10
        results = await asyncio.gather(*(write(writer) for writer in range(4)), read(reads), read(reads))
        written = sorted(event for batch in results[:4] for event in batch)
        for socket in every_socket:
            assert sorted(await collect(socket, NOTES)) == [event_id for event_id, _ in written]

        after = await asyncio.to_thread(scrape, base)
        again = await asyncio.to_thread(scrape, base)  # maybe the other worker: the same sums

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    published = grew("c360_events_published_total")
    assert published == NOTES
    assert grew("c360_events_delivered_total") == published * len(every_socket)
    assert grew("c360_events_dropped_total", reason="fell behind") == 0
    assert after[("c360_websockets_open", frozenset({"kind": "customer"}.items()))] == len(
        sockets["customer"]
    )
    assert after[("c360_websockets_open", frozenset({"kind": "stream"}.items()))] == len(sockets["stream"])
    assert grew("c360_hub_lag_seconds_count") == 2 * NOTES  # each worker fanned out every event
    section = {"method": "GET", "route": "/customers/<int:customer_id>/sections/<name>"}
    assert grew("c360_http_request_duration_seconds_count", **section, section="analytics") == 20
    api = {"method": "POST", "route": "/api/customer360/<int:customer_id>/activity", "section": ""}
    assert grew("c360_http_request_duration_seconds_count", **api) == NOTES
    counters = [key for key in after if key[0].endswith("_total") or key[0].endswith("_count")]
    assert all(again.get(key, 0.0) >= after[key] for key in counters)

    server.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(server.wait, 30) == 0

    lines = (tmp_path / "service.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # every line is one JSON object
    access = [entry for entry in entries if entry["logger"] == "hypercorn.access"]
    assert access and all(entry.get("request_id") for entry in access)
    posted = {entry["request_id"] for entry in access if entry["method"] == "POST"}
    assert {request_id for _, request_id in written} <= posted
    assert {entry["pid"] for entry in access} == set(workers)
    # No personal data: the sign-in form's email, the notes' text, a search's terms stay out.
    assert not any("@example.com" in line or "Load note" in line for line in lines)

    database = tmp_path / "workers.db"
    with sqlite3.connect(database) as db:
        recorded = dict(
            db.execute("SELECT id, request_id FROM customer_activities WHERE summary LIKE 'Load note %'")
        )
    assert recorded == dict(written)  # each event carries the id of the request that recorded it
