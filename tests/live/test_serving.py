"""The garbage collector of a serving process: what it made before serving is never walked again, full
collections are rare and their pauses are in the metrics, and a connection that ends is freed at once."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import subprocess
import sys

import aiohttp
import pytest

from tests.live.http import sign_in
from tests.test_cli import free_port


def test_a_serving_process_never_walks_what_it_made_before_serving_again():
    """In a process of its own: the test run's collector is left as it is."""
    probe = (
        "import gc, json; from app import create_app; from app.serving import watch_garbage_collector; "
        "create_app(); frozen = gc.get_freeze_count(); watch_garbage_collector(); "
        "print(json.dumps([frozen, gc.get_freeze_count(), gc.get_threshold()]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    frozen_before, frozen_after, thresholds = json.loads(done.stdout)
    assert frozen_before == 0 and frozen_after > 50_000  # the modules, the app and all it made
    assert thresholds == [50_000, 10, 10]  # young collections every 50,000 allocations, not 700


async def _echo_sockets(scope, receive, send) -> None:
    """An ASGI app that accepts every WebSocket and waits for it to close."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass


def servers_left_in_cycles(port: int, let_go: bool) -> int:
    """Hypercorn's connection objects (its TCP servers) that only the collector could free, once 20
    WebSockets have come and gone (run in a process of its own, with uvloop, as a worker serves)."""
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from app.serving import let_connections_go

    if let_go:
        let_connections_go()

    async def main() -> int:
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        stop = asyncio.Event()
        server = asyncio.create_task(serve(_echo_sockets, config, shutdown_trigger=stop.wait))
        async with aiohttp.ClientSession() as session:
            for _attempt in range(100):
                try:
                    await (await session.ws_connect(f"http://127.0.0.1:{port}/")).close()
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
            for _ in range(20):
                await (await session.ws_connect(f"http://127.0.0.1:{port}/")).close()
        await asyncio.sleep(0.2)  # each connection's last task ends
        gc.collect()
        left = sum(type(thing).__name__ == "TCPServer" for thing in gc.garbage)
        gc.set_debug(0)
        gc.garbage.clear()
        stop.set()
        await server
        return left

    return uvloop.run(main())


@pytest.mark.parametrize("let_go", [False, True], ids=["as Hypercorn leaves it", "let go"])
def test_a_websocket_that_ends_is_freed_at_once(let_go):
    """Without `let_connections_go` each one waits for a full collection, which are now rare: this fails
    once a Hypercorn release frees them by itself, and the patch can go."""
    probe = (
        "from tests.live.test_serving import servers_left_in_cycles; "
        f"print(servers_left_in_cycles({free_port()}, {let_go}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    left = int(done.stdout.split()[-1])
    assert left == 0 if let_go else left >= 20


async def test_a_served_process_reports_its_collections_and_their_pauses(serving):
    _, base = serving
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await sign_in(session, base, "ops@shop.example", "a long passphrase")  # once it answers
        async with session.get(f"{base}/metrics") as response:
            text = await response.text()
    full = re.search(r"^c360_gc_full_collection_seconds_count (\S+)$", text, re.MULTILINE)
    assert full is not None and float(full[1]) >= 1  # the one before serving, at least
