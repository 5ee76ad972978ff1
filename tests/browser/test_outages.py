"""A counted stream of events into open pages in Chromium, through what goes wrong in production: Redis
stopped and started mid-stream, and the browser's network dropped and restored. Every event is shown
exactly once, in order; and a payment taken through the API shows in every page of that customer.

The server runs on Redis (a private redis-server this module starts and stops) and the browser reaches it
through a relay whose network the test cuts; the events are written through the JSON API, by another module
as it were, straight to the server.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.proxy import Relay
from tests.redis_server import private_redis

CUSTOMER = 1


@pytest.fixture(scope="module")
def redis_server():
    with private_redis() as redis:
        yield redis


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_server):
    """On Redis, reachable directly (server.base) and through a relay (server.relayed) that can be cut."""
    var_dir = tmp_path_factory.mktemp("outages")
    server = Server(var_dir, REDIS_URL=redis_server.url)
    server.relay = Relay(server.port)
    server.relayed = f"http://127.0.0.1:{server.relay.port}"
    server.env["ALLOWED_ORIGINS"] = f"{server.base},{server.relayed}"
    server.cli("migrate")
    server.cli("seed", "--customers", "5", "--activities-per-customer", "15")
    server.token = server.cli("token", "create", "advisor@example.com", "--name", "counter").strip()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.relay.close()
        server.log.close()


def api(server: Server, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{server.base}/api/customer360{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class CountedStream(threading.Thread):
    """Notes "<label> #0", "<label> #1", … written through the API, one every `interval` seconds."""

    def __init__(self, server: Server, label: str, count: int, interval: float = 0.1) -> None:
        super().__init__(name="counted stream", daemon=True)
        self.server, self.label, self.count, self.interval = server, label, count, interval
        self.texts = [f"{label} #{number}" for number in range(count)]
        self.written = 0

    def run(self) -> None:
        for text in self.texts:
            api(self.server, "POST", f"/{CUSTOMER}/activity", {"kind": "note", "summary": text})
            self.written += 1
            time.sleep(self.interval)

    def wait_for(self, written: int) -> None:
        while self.written < written and self.is_alive():
            time.sleep(0.02)


def open_live(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)


def expect_each_once_in_order(page, list_selector: str, stream: CountedStream) -> None:
    for text in (stream.texts[-1], stream.texts[0]):
        expect(page.locator(f"{list_selector} > li:has-text('{text}')")).to_have_count(1, timeout=30_000)
    # The stream's summaries start with the customer's name: "Marie Tremblay — <summary>".
    summaries = [
        text.split(" — ", 1)[-1].strip()
        for text in page.locator(f"{list_selector} > li .entry-summary").all_inner_texts()
    ]
    shown = [summary for summary in summaries if summary.startswith(f"{stream.label} #")]
    assert shown == stream.texts[::-1]  # newest first, each once


def test_redis_stopped_and_started_mid_stream_loses_and_repeats_nothing(open_page, server, redis_server):
    page = open_page("advisor@example.com")
    open_live(page, f"{server.base}/customers/{CUSTOMER}")
    expect(page.locator("#activity-timeline")).to_be_visible(timeout=10_000)
    operations = open_page("operations@example.com")
    open_live(operations, f"{server.base}/operations")

    stream = CountedStream(server, "Through a Redis outage", 30)
    stream.start()
    stream.wait_for(8)
    redis_server.stop()
    stream.wait_for(18)
    redis_server.start()
    stream.join()

    expect_each_once_in_order(page, "#activity-timeline", stream)
    expect_each_once_in_order(operations, "#activity-stream", stream)
    # The pages' own sockets never depended on Redis.
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    assert page.errors == operations.errors == []


def test_the_network_dropped_and_restored_mid_stream_loses_and_repeats_nothing(open_page, server):
    page = open_page("advisor@example.com", base=server.relayed)
    open_live(page, f"{server.relayed}/customers/{CUSTOMER}")
    expect(page.locator("#activity-timeline")).to_be_visible(timeout=10_000)
    operations = open_page("operations@example.com", base=server.relayed)
    open_live(operations, f"{server.relayed}/operations")

    stream = CountedStream(server, "Through a network drop", 30)
    stream.start()
    stream.wait_for(8)
    server.relay.cut()
    for cut_off in (page, operations):
        expect(cut_off.locator("#live-status")).to_have_attribute(
            "data-state", "reconnecting", timeout=10_000
        )
    stream.wait_for(20)
    server.relay.restore()
    stream.join()

    for reconnected in (page, operations):
        expect(reconnected.locator("#live-status")).to_have_attribute("data-state", "live", timeout=20_000)
    expect_each_once_in_order(page, "#activity-timeline", stream)
    expect_each_once_in_order(operations, "#activity-stream", stream)
    assert page.errors == operations.errors == []


def test_a_payment_taken_through_the_api_shows_paid_with_new_kpis_in_every_page(open_page, server):
    # A customer with an invoice that takes a payment, as the API lists them.
    for customer_id in range(1, 6):
        payable = [
            invoice
            for invoice in api(server, "GET", f"/{customer_id}/invoices")["invoices"]
            if invoice["stored_status"] in ("sent", "partially_paid", "overdue")
            and invoice["total_cents"] > invoice["paid_cents"]
        ]
        if payable:
            break
    else:
        pytest.fail("the seed left no customer with an open invoice")
    invoice = payable[0]
    row = f"#invoice-{invoice['id']}"
    pages = [open_page("advisor@example.com"), open_page("operations@example.com")]
    for page in pages:
        open_live(page, f"{server.base}/customers/{customer_id}")
        # The analytics come with the page; the invoices a moment later (or as they come near the screen).
        expect(page.locator("#kpi-outstanding")).to_be_visible()
        expect(page.locator(row)).to_be_visible(timeout=10_000)
    outstanding_before = pages[0].locator("#kpi-outstanding .kpi-value").inner_text()
    operations = open_page("admin@example.com")
    open_live(operations, f"{server.base}/operations")

    balance = invoice["total_cents"] - invoice["paid_cents"]
    taken = api(
        server,
        "POST",
        f"/{customer_id}/invoices/{invoice['id']}/payments",
        {"amount_cents": balance, "method": "card", "reference": "T-0042"},
    )
    assert taken["status"] == "paid"

    for page in pages:
        expect(page.locator(f"{row} .badge")).to_have_text("Paid", timeout=5_000)
        expect(page.locator("#kpi-outstanding .kpi-value")).not_to_have_text(
            outstanding_before, timeout=5_000
        )
        expect(page.locator("#activity-timeline > li").first).to_contain_text("Payment of")
        assert page.errors == []
    # The shop's stream shows it too, once.
    paid = operations.locator(f"#activity-stream > li.kind-payment:has-text('{invoice['number']}')")
    expect(paid).to_have_count(1, timeout=5_000)
    assert operations.errors == []
