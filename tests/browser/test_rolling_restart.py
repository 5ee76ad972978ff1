"""A rolling restart behind nginx loses no event in an open page.

Two app hosts (`customer360 serve`) share one database and one Redis behind nginx started from
deploy/nginx.conf (tests/test_deploy.py), over TLS. Pages in Chromium are open through the proxy while a
counted stream of notes is written through it too, by another module as it were; meanwhile host A is
restarted (SIGTERM, started again), then host B, the way the recipe says: one host at a time, the next only
once the restarted one is ready and nginx has given up holding it for unavailable. Every note is shown exactly
once, in order, the pages are live again at the end, and no request through the proxy failed.
"""

from __future__ import annotations

import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.test_outages import (
    CUSTOMER,
    CountedStream,
    expect_each_once_in_order,
    open_live,
)
from tests.redis_server import private_redis
from tests.test_deploy import deployed, make_certificate, recipe_value


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rolling")
    certificate = make_certificate(directory / "tls")
    # The stream writes with urllib (tests.browser.test_outages.api), which must trust the certificate.
    urllib.request.install_opener(
        urllib.request.build_opener(urllib.request.HTTPSHandler(context=certificate.client_context()))
    )
    try:
        with (
            private_redis() as redis,
            deployed(directory, certificate, redis_url=redis.url, customers=5, activities=15) as deployment,
        ):
            yield deployment
    finally:
        urllib.request.install_opener(None)


@pytest.fixture(scope="module")
def server(deployment):
    """Where open_page signs in: the proxy."""
    return deployment.proxy


class TrustingBrowser:
    """The browser whose contexts accept the proxy's self-signed certificate."""

    def __init__(self, browser) -> None:
        self.browser = browser

    def new_context(self, **options):
        return self.browser.new_context(ignore_https_errors=True, **options)


@pytest.fixture(scope="module")
def browser(browser):
    return TrustingBrowser(browser)


def ready(host: Server, timeout: float = 30) -> None:
    """Until the host answers /readyz (its database and Redis reachable)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{host.base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{host.base} not ready within {timeout} s")
        time.sleep(0.1)


def restart(host: Server) -> float:
    """SIGTERM, start again, wait until ready; the seconds it was away."""
    stopped = time.monotonic()
    host.stop()
    host.start()
    ready(host)
    return time.monotonic() - stopped


def test_a_rolling_restart_behind_nginx_loses_and_repeats_no_event(open_page, deployment):
    page = open_page("advisor@example.com")
    open_live(page, f"{deployment.base}/customers/{CUSTOMER}")
    expect(page.locator("#activity-timeline")).to_be_visible(timeout=10_000)
    operations = open_page("operations@example.com")
    open_live(operations, f"{deployment.base}/operations")
    logged_before = len(deployment.proxy.access_log())

    # Long enough to cover both restarts (a few seconds each, and fail_timeout between them); short enough
    # for /operations (200 rows shown).
    stream = CountedStream(deployment, "Through a rolling restart", 100, interval=0.25)
    stream.start()
    stream.wait_for(10)
    host_a, host_b = deployment.hosts
    away = [restart(host_a)]
    # While it was away, host A refused connections: nginx may hold it for unavailable for fail_timeout more,
    # counted in whole seconds. Until then host B must not go too, or nginx has nowhere to send a thing (502).
    time.sleep(int(recipe_value(r"fail_timeout=(\d+)s")) + 1)
    away.append(restart(host_b))
    print(f"hosts away during their restarts: {away[0]:.1f} s, {away[1]:.1f} s")
    still_writing = stream.is_alive()
    stream.join()
    assert stream.written == len(stream.texts), "a write through the proxy failed during the restarts"
    assert still_writing, "the stream ended before the restarts did: make it longer"

    expect_each_once_in_order(page, "#activity-timeline", stream)
    expect_each_once_in_order(operations, "#activity-stream", stream)
    for reconnected in (page, operations):
        expect(reconnected.locator("#live-status")).to_have_attribute("data-state", "live", timeout=20_000)
    assert page.errors == operations.errors == []

    during = deployment.proxy.access_log()[logged_before:]
    # Each page's socket was cut by a restart (nginx logs a socket when it ends) and opened again.
    for path in (f"/ws/customers/{CUSTOMER}", "/ws/activity"):
        assert any(line["path"] == path and line["status"] == 101 for line in during), path
    failed = [line for line in during if line["status"] >= 500]
    assert failed == [], f"requests failed through the proxy during the rolling restart: {failed}"
