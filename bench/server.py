"""The application under test, in its own processes, served the way production serves it.

`Server("hypercorn")` runs the Procfile's command (`customer360 serve --workers 2`: Hypercorn with uvloop);
"uvicorn" and "granian" serve the same application factory with the same number of workers, for the
side-by-side figures. The load comes from other processes; CPU time and memory are read from /proc for the
server's whole process tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS = 2  # the Procfile's default (WEB_CONCURRENCY)
# A fixed key, so that one sign-in serves every server the bench starts.
SECRET_KEY = "bench-" + "k" * 40
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds (user + system) and resident memory of a process tree at one instant."""

    cpu_seconds: float
    rss_bytes: int


class Server:
    def __init__(
        self,
        kind: str,
        *,
        database_url: str,
        redis_url: str | None,
        workers: int = WORKERS,
        extra_env: dict[str, str] | None = None,
        profile: Path | None = None,
    ) -> None:
        self.kind = kind
        # Where py-spy writes the workers' sampled stacks (collapsed, as flamegraph.pl and speedscope read
        # them) while the server runs; None: not profiled.
        self.profile = profile
        self.profiler: subprocess.Popen | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SHOP_LANGUAGE": "en",
            "ALLOWED_ORIGINS": self.base,
            **(extra_env or {}),
        }
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / "var" / "bench" / f"server-{kind}.log"

    def command(self) -> list[str]:
        if self.kind == "hypercorn":
            return [str(BIN / "customer360"), "serve", "--workers", str(self.workers)]
        if self.kind == "uvicorn":
            return [
                str(BIN / "uvicorn"),
                "--factory",
                "app:create_app",
                "--host=127.0.0.1",
                f"--port={self.port}",
                f"--workers={self.workers}",
                "--loop=uvloop",
                "--http=httptools",
                "--no-access-log",
                "--log-level=warning",
            ]
        if self.kind == "granian":
            return [
                str(BIN / "granian"),
                "--interface=asgi",
                "--factory",
                "--host=127.0.0.1",
                f"--port={self.port}",
                f"--workers={self.workers}",
                "--loop=uvloop",
                "--log-level=warning",
                "app:create_app",
            ]
        raise ValueError(f"unknown server {self.kind!r}")

    def __enter__(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.wait_ready()
        if self.profile is not None:
            self.profile.parent.mkdir(parents=True, exist_ok=True)
            self.profiler = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(self.process.pid),
                    "--subprocesses",
                    "--nonblocking",  # the workers are not paused at each sample
                    "--format=raw",
                    f"--output={self.profile}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{self.kind} not ready after {timeout} s; see {self.log_path}")
        # Every worker must be serving, not only the first to answer.
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        if self.profiler is not None:  # py-spy writes its file when interrupted
            self.profiler.send_signal(signal.SIGINT)
            try:
                self.profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def pids(self) -> list[int]:
        """The server's process and all its descendants."""
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    frontier += [int(child) for child in (task / "children").read_text().split()]
        return found

    def worker_pids(self) -> list[int]:
        """The processes that serve (the tree's leaves: the workers, or the one process)."""
        tree = self.pids()
        parents = set()
        for pid in tree:
            with contextlib.suppress(OSError):
                parents.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]))
        leaves = [pid for pid in tree if pid not in parents]
        # The multiprocessing resource tracker is a leaf that serves nothing.
        return [pid for pid in leaves if b"resource_tracker" not in _cmdline(pid)]

    def usage(self) -> Usage:
        cpu = 0.0
        rss = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            rss += int(fields[21]) * PAGE_SIZE
        return Usage(cpu, rss)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def database_cpu_seconds() -> float:
    """CPU seconds of the local MariaDB server (0 when it runs elsewhere)."""
    pids = subprocess.run(["pidof", "mariadbd", "mysqld"], capture_output=True, text=True).stdout.split()
    return sum(cpu_seconds(int(pid)) for pid in pids)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
