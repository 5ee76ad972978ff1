"""HTTP load from separate processes: closed loop (N clients, each sending its next request when the last one
answers) for throughput at saturation, and open loop (requests sent on a fixed schedule, whatever the server
does) for latency at a given rate.

In the open loop a request's latency counts from when it was due, not from when it left: a server that falls
behind shows it in the figures instead of slowing the client down (coordinated omission).
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import aiohttp

PASSWORD = "customer360-demo"  # the seed's demo accounts
ADVISOR = "advisor@example.com"  # reads customers' pages
OPERATIONS = "operations@example.com"  # watches the shop's activity stream
START_DELAY = 1.5  # seconds for the load processes to start before their common start time


async def sign_in(base: str, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the Cookie header of the session.

    The cookies are kept by hand: the bench serves in production mode, where they are `Secure`, and
    aiohttp's jar will not send those over plain HTTP.
    """
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
        async with client.get(f"{base}/login") as response:
            page = await response.text()
            cookies = {name: morsel.value for name, morsel in response.cookies.items()}
        token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"', page).group(1))
        async with client.post(
            f"{base}/login",
            data={"csrf_token": token, "email": email, "password": password, "next": "", "language": "en"},
            headers={"Cookie": cookie_header(cookies)},
            allow_redirects=False,
        ) as response:
            if response.status != 302:
                raise RuntimeError(f"sign-in as {email} failed: {response.status} {await response.text()}")
            cookies.update({name: morsel.value for name, morsel in response.cookies.items()})
    return cookie_header(cookies)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


@dataclass
class LoadResult:
    """What one or more load processes saw after the warm-up."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def merge(self, other: LoadResult) -> None:
        self.seconds = max(self.seconds, other.seconds)
        self.latencies_ms += other.latencies_ms
        for key, count in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + count


def closed_loop(
    base: str,
    cookie: str,
    urls: Sequence[str],
    *,
    clients: int,
    processes: int,
    warmup: float,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """`clients` concurrent clients (spread over `processes`), back to back, for `seconds` after `warmup`."""
    shares = _shares(urls, processes)
    counts = [clients // processes + (index < clients % processes) for index in range(processes)]
    start_at = time.time() + START_DELAY
    jobs = [
        (_closed_loop_process, base, cookie, headers, share, count, start_at, warmup, seconds)
        for share, count in zip(shares, counts, strict=True)
    ]
    return _run_processes(jobs)


def open_loop(
    base: str,
    cookie: str,
    urls: Sequence[str],
    *,
    rate: float,
    processes: int,
    warmup: float,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Requests at a constant total `rate` a second (over `processes`), for `seconds` after `warmup`."""
    shares = _shares(urls, processes)
    start_at = time.time() + START_DELAY
    jobs = [
        (
            _open_loop_process,
            base,
            cookie,
            headers,
            share,
            rate / processes,
            index / rate,
            start_at,
            warmup,
            seconds,
        )
        for index, share in enumerate(shares)
    ]
    return _run_processes(jobs)


def _shares(urls: Sequence[str], processes: int) -> list[Sequence[str]]:
    """Each process's part of the URLs (all of them for each, when there are fewer than processes)."""
    if len(urls) < processes:
        return [urls] * processes
    return [urls[index::processes] for index in range(processes)]


def _run_processes(jobs: list[tuple]) -> LoadResult:
    with ProcessPoolExecutor(len(jobs), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run, *job) for job in jobs]
        results = [future.result() for future in futures]
    total = results[0]
    for result in results[1:]:
        total.merge(result)
    return total


def _run(function, *args) -> LoadResult:
    try:
        import uvloop

        return uvloop.run(function(*args))
    except ImportError:
        return asyncio.run(function(*args))


def _client(cookie: str, connections: int, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"Cookie": cookie, "HX-Request": "true", **(headers or {})},
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def _fetch(client: aiohttp.ClientSession, url: str, result: LoadResult, due: float, counted: bool):
    try:
        async with client.get(url, allow_redirects=False) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        status = type(exc).__name__
    if not counted:
        return
    if status == 200:
        result.latencies_ms.append((time.perf_counter() - due) * 1000)
    else:
        result.errors[str(status)] = result.errors.get(str(status), 0) + 1


async def _sleep_until(wall_time: float) -> None:
    await asyncio.sleep(max(0.0, wall_time - time.time()))


async def _closed_loop_process(base, cookie, headers, urls, clients, start_at, warmup, seconds) -> LoadResult:
    result = LoadResult(seconds)
    async with _client(cookie, clients, headers) as client:
        await _sleep_until(start_at)
        begin = time.perf_counter()
        measure_from, stop_at = begin + warmup, begin + warmup + seconds
        next_index = 0

        async def one_client() -> None:
            nonlocal next_index
            while (now := time.perf_counter()) < stop_at:
                url = urls[next_index % len(urls)]
                next_index += 1
                await _fetch(client, base + url, result, now, counted=now >= measure_from)

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return result


async def _open_loop_process(
    base, cookie, headers, urls, rate, offset, start_at, warmup, seconds
) -> LoadResult:
    result = LoadResult(seconds)
    interval = 1 / rate
    async with _client(cookie, 512, headers) as client:
        await _sleep_until(start_at)
        begin = time.perf_counter() + offset
        total = int((warmup + seconds) * rate)
        warmup_count = int(warmup * rate)
        pending = set()
        for index in range(total):
            due = begin + index * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(
                _fetch(client, base + urls[index % len(urls)], result, due, counted=index >= warmup_count)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
    return result


def one_by_one(
    base: str, cookie: str, url: str, *, count: int, warmup: int = 20, headers: dict[str, str] | None = None
) -> list[float]:
    """Latencies (ms) of `count` requests sent one at a time: a section's own time, with nothing queued."""

    async def measure() -> list[float]:
        latencies: list[float] = []
        async with _client(cookie, 1, headers) as client:
            for index in range(warmup + count):
                began = time.perf_counter()
                async with client.get(base + url, allow_redirects=False) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url}: {response.status}")
                if index >= warmup:
                    latencies.append((time.perf_counter() - began) * 1000)
        return latencies

    return _run(measure)
