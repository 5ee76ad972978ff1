"""Graceful shutdown: open pages are told "service restart" (1012) so they reconnect elsewhere at once."""

from __future__ import annotations

import asyncio
import json
import re
import signal

import aiohttp

from tests.live.http import sign_in


async def test_sigterm_closes_open_sockets_with_1012_then_exits_cleanly(serving):
    server, base = serving
    # unsafe=True: keep cookies set by an IP-address host such as 127.0.0.1.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await sign_in(session, base, "ops@shop.example", "a long passphrase")
        socket = await session.ws_connect(f"{base}/ws/activity", headers={"Origin": base})
        server.send_signal(signal.SIGTERM)
        message = await asyncio.wait_for(socket.receive(), 10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert socket.close_code == 1012
    assert await asyncio.to_thread(server.wait, 15) == 0


async def test_sigterm_stops_accepting_and_finishes_the_request_in_flight(serving):
    server, base = serving
    port = int(base.rsplit(":", 1)[1])
    for _ in range(300):  # until it serves
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    body = b"email=ops%40shop.example&password=wrong&csrf_token=none"
    writer.write(
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body[:10]
    )
    await writer.drain()
    await asyncio.sleep(0.3)  # the request is being read: in flight
    server.send_signal(signal.SIGTERM)
    for _ in range(100):  # the listening socket closes: new connections are refused
        try:
            _, probe = await asyncio.open_connection("127.0.0.1", port)
            probe.close()
            await asyncio.sleep(0.05)
        except ConnectionRefusedError:
            break
    else:
        raise AssertionError("still accepting connections after SIGTERM")
    writer.write(body[10:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 15)
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 ") and status.split()[1] in (b"302", b"400", b"403"), answer[:200]
    writer.close()
    assert await asyncio.to_thread(server.wait, 15) == 0


async def test_a_page_that_closes_its_socket_ends_its_view_at_once(serving):
    """The receiver ends the view when the client goes: the view does not wait, subscribed, for an event or
    a failed ping to find the socket closed."""
    _, base = serving
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await sign_in(session, base, "ops@shop.example", "a long passphrase")

        async def open_streams() -> str:
            async with session.get(f"{base}/metrics") as response:
                text = await response.text()
            return re.search(r'^c360_websockets_open\{kind="stream"\} (\S+)$', text, re.MULTILINE)[1]

        origin = {"Origin": base}
        sockets = [await session.ws_connect(f"{base}/ws/activity", headers=origin) for _ in range(3)]
        assert await open_streams() == "3.0"
        for socket in sockets:
            await socket.close()
        for _ in range(40):  # 2 s
            if await open_streams() == "0.0":
                break
            await asyncio.sleep(0.05)
        assert await open_streams() == "0.0"


async def test_a_worker_whose_sockets_have_closed_stops_without_cutting_anything_off(serving, tmp_path):
    """A closed WebSocket's connection ends at once, not a ping interval later: the shutdown has nothing left
    to cut off when its grace period ends (which it would log, one error per connection)."""
    server, base = serving
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await sign_in(session, base, "ops@shop.example", "a long passphrase")
        for _ in range(3):
            socket = await session.ws_connect(f"{base}/ws/activity", headers={"Origin": base})
            await socket.close()
        still_open = await session.ws_connect(f"{base}/ws/activity", headers={"Origin": base})
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(still_open.receive(), 10)
        assert still_open.close_code == 1012
    assert await asyncio.to_thread(server.wait, 30) == 0
    entries = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines() if line.strip()]
    assert [entry for entry in entries if entry["level"] in ("error", "critical")] == []
