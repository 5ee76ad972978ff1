"""Live Customer 360 in real Chromium: what one advisor writes shows up in every open page, and a page open
through a server restart catches up with what it missed, once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import expect

from app.activity import record_activity
from app.config import parse_database_url
from app.db import create_engine

CUSTOMER = 1


def open_customer(page, base: str) -> None:
    page.goto(f"{base}/customers/{CUSTOMER}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)
    expect(page.locator("#activity-timeline")).to_be_visible(timeout=10_000)


def test_a_note_appears_in_every_open_page_and_the_stream_once(open_page, server):
    writer = open_page("advisor@example.com")
    reader = open_page("operations@example.com")
    stream = open_page("admin@example.com")
    open_customer(writer, server.base)
    open_customer(reader, server.base)
    stream.goto(f"{server.base}/operations")
    expect(stream.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)

    writer.fill("#note-text", "Customer asked for a courtesy car")
    writer.click(".note-form button[type=submit]")

    note = "#activity-timeline > li:has-text('Customer asked for a courtesy car')"
    expect(reader.locator(note)).to_have_count(1, timeout=5_000)
    expect(
        stream.locator("#activity-stream > li:has-text('Customer asked for a courtesy car')")
    ).to_have_count(1, timeout=5_000)
    expect(writer.locator(note)).to_have_count(1)
    assert writer.errors == reader.errors == stream.errors == []


def write_notes_directly(database_url: str, texts: list[str]) -> None:
    """Another process writes while the server is down: straight into the event log."""

    async def write() -> None:
        engine = create_engine(parse_database_url(database_url, None))
        async with engine.begin() as conn:
            for text in texts:
                await record_activity(conn, customer_id=CUSTOMER, kind="note", summary=text)
        await engine.dispose()

    # Playwright's own event loop runs in this thread: write from another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, write()).result()


def test_a_page_open_through_a_restart_shows_what_it_missed_exactly_once(open_page, server):
    page = open_page("advisor@example.com")
    open_customer(page, server.base)
    server.stop()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting", timeout=10_000)
    missed = [f"Written while the server was down #{number}" for number in range(3)]
    write_notes_directly(server.database_url, missed)
    server.start()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=30_000)
    for text in missed:
        expect(page.locator(f"#activity-timeline > li:has-text('{text}')")).to_have_count(1, timeout=10_000)
    summaries = page.locator("#activity-timeline > li .entry-summary").all_inner_texts()
    assert [summary for summary in summaries if "while the server was down" in summary][:3] == missed[::-1]


def test_signing_out_elsewhere_sends_an_open_page_to_the_sign_in_form(open_page, server):
    page = open_page("operations@example.com")
    open_customer(page, server.base)
    elsewhere = open_page("operations@example.com")
    elsewhere.click("form[action='/logout'] button[type=submit]")
    elsewhere.wait_for_url(f"{server.base}/login")
    page.wait_for_url(f"{server.base}/login?next=%2Fcustomers%2F{CUSTOMER}", timeout=10_000)
    assert page.errors == []


# A copy of a row of the page, with another version and state, pushed the way the socket pushes rows.
PUSH_COPY = """
([id, version, state, mark]) => {
  const current = document.getElementById(id);
  const copy = current.cloneNode(true);
  copy.dataset.version = String(Number(current.dataset.version) + version);
  if (state) copy.dataset.state = state;
  copy.querySelector("th").textContent = mark;
  const template = document.createElement("template");
  template.content.appendChild(copy);
  replaceRows(template.content);
  return document.getElementById(id).querySelector("th").textContent;
}
"""


def test_a_row_rendered_before_a_change_never_replaces_the_row_after_it(open_page, server):
    page = open_page("advisor@example.com")
    customer = next(
        customer
        for customer in range(1, 6)
        if page.request.get(f"{server.base}/api/customer360/{customer}/invoices").json()["invoices"]
    )
    page.goto(f"{server.base}/customers/{customer}")
    row = page.locator("#section-invoices tbody.invoice").first
    expect(row).to_be_visible(timeout=10_000)
    row_id, number = row.get_attribute("id"), row.locator("th").text_content()
    # Older: a push rendered before the change the page already shows.
    assert page.evaluate(PUSH_COPY, [row_id, -1, None, "older"]) == number
    # The same version and state: the page's own row (with its confirmation, if any) stays.
    assert page.evaluate(PUSH_COPY, [row_id, 0, None, "same"]) == number
    # The same version, another state (the day moved it overdue): replaced.
    assert page.evaluate(PUSH_COPY, [row_id, 0, "overdue-1", "moved"]) == "moved"
    # Newer: replaced.
    assert page.evaluate(PUSH_COPY, [row_id, 1, None, "newer"]) == "newer"
    assert page.errors == []
