"""Browser tests: Debian's Chromium driven by Playwright, against a real Hypercorn on seeded demo data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "customer360-demo"  # the demo sign-ins `customer360 seed` creates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`customer360 serve` in a subprocess, which a test may stop and start again on the same port."""

    def __init__(self, var_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "SMTP_URL")},
            "VAR_DIR": str(var_dir),
            "DATABASE_URL": f"sqlite:///{var_dir / 'browser.sqlite3'}",
            "PORT": str(self.port),
            "APP_ENV": "development",
            **env,
        }
        self.database_url = self.env["DATABASE_URL"]
        self.process: subprocess.Popen | None = None
        self.log = (var_dir / "server.log").open("a")

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@contextmanager
def seeded_server(var_dir: Path, *, customers: int, activities: int) -> Iterator[Server]:
    """A served demo database of `customers` customers with histories of about `activities` entries."""
    server = Server(var_dir)
    server.cli("migrate")
    server.cli("seed", "--customers", str(customers), "--activities-per-customer", str(activities))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with seeded_server(tmp_path_factory.mktemp("browser"), customers=5, activities=15) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base: str, email: str, language: str | None = None) -> None:
    """Through the sign-in form, as a demo user (in `language`, else the one the form offers)."""
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    if language is not None:
        page.select_option("#language", language)
    page.click(".login form button[type=submit]")
    page.wait_for_url(f"{base}/customers")


@pytest.fixture
def open_page(browser, server, request, tmp_path):
    """open_page(email) -> a signed-in page in its own browser context. A failing test leaves a screenshot
    and the page's HTML in tests/artifacts/."""
    contexts = []

    def open_as(email: str, base: str | None = None):
        """Signed in as `email`, through `base` (the server's own address unless told)."""
        base = base or server.base
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        sign_in(page, base, email)
        return page

    yield open_as
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    artifacts = Path(__file__).resolve().parent.parent / "artifacts"
    for index, context in enumerate(contexts):
        if failed:
            artifacts.mkdir(exist_ok=True)
            for number, page in enumerate(context.pages):
                stem = artifacts / f"{request.node.name}-{index}-{number}"
                page.screenshot(path=f"{stem}.png", full_page=True)
                Path(f"{stem}.html").write_text(page.content())
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
