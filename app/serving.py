"""Serving with Hypercorn (uvloop), in one process or several, with graceful shutdown.

Hypercorn's own multi-worker runner stops its workers through a shared event the application never sees, so
open pages would only learn of a restart when the drain timeout cuts their sockets (1006). Here every worker,
and the single process alike, runs Hypercorn's worker loop with a shutdown trigger of ours: on SIGTERM or
Ctrl-C the open pages are told first (WebSocket close 1012, "service restart": they reconnect to whichever
process serves next and resume where they were), then Hypercorn stops accepting and finishes the requests in
flight, and the application's after-serving hooks drain the email queue.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import signal
import time
from multiprocessing import get_context
from multiprocessing.connection import wait
from pathlib import Path

from hypercorn.config import Config, Sockets
from hypercorn.logging import Logger
from prometheus_client import multiprocess

from app import logs
from app.config import Settings
from app.metrics import FULL_COLLECTIONS, MULTIPROCESS_DIR

GRACEFUL_TIMEOUT = 10  # seconds for requests in flight once shutdown starts
# Seconds: within nginx's default 60 s for a quiet proxied connection. Each ping costs a send per open page
# (10 % of a worker's time with 5,000 pages at 20 s).
WEBSOCKET_PING_INTERVAL = 45


class AccessLogger(Logger):
    """Hypercorn's access line as a structured record (app.logs writes it as JSON, with the request id), and
    without the stock logger's cost: it copies every request and response header and every environment
    variable into a dict for each request, a fifth of a trivial request's time."""

    async def access(self, request, response, request_time: float) -> None:
        if self.access_logger is None:
            return
        length = None
        for name, value in (response or {}).get("headers", ()):
            if name.lower() == b"content-length":
                length = int(value)
        method = request.get("method", "GET")
        # The path without its query: a search's terms are personal data.
        path = request["path"]
        status = response["status"] if response is not None else None
        self.access_logger.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "protocol": request.get("http_version", "ws") if request["type"] == "http" else "ws",
                "status": status,
                "bytes": length,
                "duration_ms": round(request_time * 1000, 2),
            },
        )


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.worker_class = "uvloop"
    # Hypercorn's loggers, by name: app.logs gives the process one JSON handler.
    config.accesslog = logging.getLogger("hypercorn.access")
    config.errorlog = logging.getLogger("hypercorn.error")
    config.logger_class = AccessLogger
    config.graceful_timeout = GRACEFUL_TIMEOUT
    # Pings keep an idle page's socket alive through proxies that close quiet connections (nginx after 60 s
    # by default), and let the kernel find connections whose browser vanished without a word.
    config.websocket_ping_interval = WEBSOCKET_PING_INTERVAL
    return config


def serve(settings: Settings, workers: int) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status."""
    logs.configure(settings.log_level)
    config = hypercorn_config(settings)
    if workers == 1:
        run_worker(settings, config, None)
        return 0
    metrics_dir_is_ours = MULTIPROCESS_DIR not in os.environ
    metrics_dir = prepare_metrics_dir(settings)
    # The parent binds once and hands the listening sockets to every worker (the kernel spreads accepts).
    sockets = config.create_sockets()
    context = get_context("spawn")
    processes = [
        context.Process(target=run_worker, args=(settings, config, sockets), name=f"worker-{number}")
        for number in range(workers)
    ]

    signalled: set[int] = set()

    def stop_workers(*_) -> None:
        # Each worker stops gracefully on SIGTERM (run_worker); once, for a second one could reach it after
        # its event loop has closed. A signal, not an event shared with the workers: a worker that exits
        # while holding such an event's lock (a process manager signals every process of the service at
        # once) would leave the parent blocked on it for ever, with its listening socket open.
        for process in processes:
            if process.pid is not None and process.pid not in signalled:
                signalled.add(process.pid)
                process.terminate()

    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, stop_workers)
    for process in processes:
        process.start()
    # A worker that dies takes the others down with it: the process manager restarts the whole service.
    wait([process.sentinel for process in processes])
    stop_workers()
    for process in processes:
        process.join()
        multiprocess.mark_process_dead(process.pid, str(metrics_dir))
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
        sock.close()
    if metrics_dir_is_ours:
        shutil.rmtree(metrics_dir, ignore_errors=True)  # this run's figures, gone with it
    # A worker that our SIGTERM reached before it could handle it (still starting) has stopped as asked.
    failed = [
        process.exitcode
        for process in processes
        if process.exitcode and not (process.exitcode == -signal.SIGTERM and process.pid in signalled)
    ]
    return failed[0] if failed else 0


def prepare_metrics_dir(settings: Settings) -> Path:
    """Where the workers keep their metrics (app.metrics): PROMETHEUS_MULTIPROC_DIR if set (emptied first, so
    that a previous run's figures are not summed with this one's), else a directory of this run's own under
    VAR_DIR. Set in the environment before any worker starts, and so before any of them imports the client."""
    path = Path(os.environ.get(MULTIPROCESS_DIR) or settings.var_dir / "metrics" / str(os.getpid()))
    if path.exists():
        for stale in path.glob("*.db"):
            stale.unlink()
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROCESS_DIR] = str(path)
    return path


def stop_pinging() -> None:
    """Cancel the tasks that ping the WebSockets, once shutdown has begun. Hypercorn (0.18) pings each socket
    from a task that sleeps the whole ping interval between pings, even after the socket has closed, and a
    connection ends only with all its tasks: without this, a worker that had a WebSocket open in the last
    WEBSOCKET_PING_INTERVAL seconds waited out the whole GRACEFUL_TIMEOUT at every restart, then cancelled
    those connections with an error logged for each."""
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", "") == "WSStream._send_pings":
            task.cancel()


def let_connections_go() -> None:
    """Free each connection Hypercorn (0.18) served as soon as it ends, rather than at the next full
    collection: its TCP server keeps the protocol, which keeps a bound method of the server, a reference
    cycle that held a closed WebSocket's objects (about 40, its buffers with them) until a full collection.
    Dropping the server's references once its connection has ended breaks the cycle."""
    from hypercorn.asyncio.tcp_server import TCPServer

    if getattr(TCPServer.run, "lets_go", False):
        return
    serve_connection = TCPServer.run

    async def run(self: TCPServer) -> None:
        try:
            await serve_connection(self)
        finally:
            vars(self).pop("protocol", None)
            vars(self).pop("_task_group", None)

    run.lets_go = True  # type: ignore[attr-defined]
    TCPServer.run = run  # type: ignore[method-assign]


# Allocations between young collections: CPython's 700 collects, and so promotes to the old generation,
# whatever a request or an event is still holding; 50,000 (a few MB at most) lets them die young.
YOUNG_COLLECTION_THRESHOLD = 50_000


def watch_garbage_collector() -> None:
    """Time every full collection (c360_gc_full_collection_seconds), freeze what the process made before
    serving (the modules, the app, its configuration), so that no full collection walks it again, and make
    full collections rare.

    A full collection walks every object the process tracks, about 240 for each open page: 0.6-1.3 s with
    5,000 pages in a process, every event and request of that process waiting meanwhile. CPython runs one
    each time the objects that outlived two young collections since the last one number a quarter of the
    old ones, which 100 writes a second brought about every 20-40 s: with a young collection every 700
    allocations, what each request and event held for a few milliseconds outlived two of them. With one
    every YOUNG_COLLECTION_THRESHOLD allocations they die young. What ends in the old generation is freed
    without a full collection: a connection that ends, once `let_connections_go` has broken Hypercorn's
    cycle."""
    began = 0.0

    def time_pause(phase: str, info: dict) -> None:
        nonlocal began
        if info["generation"] < 2:  # young ones: rare under load, tens of ms (BENCHMARKS.md)
            return
        if phase == "start":
            began = time.perf_counter()
        else:
            FULL_COLLECTIONS.observe(time.perf_counter() - began)

    gc.callbacks.append(time_pause)
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def run_worker(settings: Settings, config: Config, sockets: Sockets | None) -> None:
    import uvloop
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.utils import wrap_app

    from app import create_app
    from app.live.hub import SERVICE_RESTART

    logs.configure(settings.log_level)  # a spawned worker starts with Python's defaults
    app = create_app(settings)
    let_connections_go()
    watch_garbage_collector()

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stopping.set)

        async def shutdown_trigger() -> None:
            await stopping.wait()
            app.extensions["hub"].close_sockets(SERVICE_RESTART)
            stop_pinging()

        await worker_serve(
            wrap_app(app, config.wsgi_max_body_size, "asgi"),
            config,
            sockets=sockets,
            shutdown_trigger=shutdown_trigger,
        )

    uvloop.run(main())
    # Stopped: a late SIGTERM (from the parent, or from a process manager signalling every process) must not
    # kill the process on its way out, which would turn a clean exit into a failure.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
