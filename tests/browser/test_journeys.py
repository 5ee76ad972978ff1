"""An advisor's day in real Chromium, on the demo data: find a customer, read every section, page and filter
the timeline, take a payment, record a withdrawn consent, and do it all from the keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import expect

CUSTOMER = 1


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def open_customer(page, base: str, customer_id: int = CUSTOMER) -> None:
    page.goto(f"{base}/customers/{customer_id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)


def whole_page(page) -> None:
    """Every lazy section loaded (they load on view, or shortly after the page)."""
    expect(page.locator(".skeleton")).to_have_count(0, timeout=15_000)


def payable_invoice(page, base: str, more_than: int = 0) -> tuple[int, dict]:
    """(customer id, invoice) of the first demo customer's invoice that takes a payment of more than
    `more_than` cents, through the JSON API."""
    for customer_id in range(1, 6):
        invoices = page.request.get(f"{base}/api/customer360/{customer_id}/invoices").json()["invoices"]
        for invoice in invoices:
            payable = invoice["stored_status"] in ("sent", "partially_paid", "overdue")
            if payable and invoice["total_cents"] - invoice["paid_cents"] > more_than:
                return customer_id, invoice
    raise AssertionError("the demo data has no invoice to pay")


def test_search_open_a_customer_and_every_section_shows_its_figures(open_page, server):
    page = open_page("advisor@example.com")
    profile = page.request.get(f"{server.base}/api/customer360/{CUSTOMER}/profile").json()["profile"]
    page.fill("#q", profile["last_name"][:5])
    page.wait_for_url(re.compile(r"q="))  # the search is in the address: Back and reload keep it
    expect(page.locator(".result-count")).to_contain_text(profile["last_name"][:5], timeout=5_000)
    link = page.locator(f"#results a[href='/customers/{CUSTOMER}']")
    link.click()
    page.wait_for_url(f"{server.base}/customers/{CUSTOMER}")
    expect(page.locator("h1")).to_contain_text(profile["last_name"])
    whole_page(page)
    for name in (
        "profile",
        "vehicles",
        "work-orders",
        "activity",
        "invoices",
        "documents",
        "analytics",
        "consents",
    ):
        section = page.locator(f"#section-{name}")
        expect(section).not_to_have_attribute("aria-busy", "true")
        assert section.inner_text().strip(), name
    # The figures are the API's (the same loaders), as formatted for the advisor.
    analytics = page.request.get(f"{server.base}/api/customer360/{CUSTOMER}/analytics").json()
    shown = page.locator("#kpi-lifetime-revenue .kpi-value").inner_text()
    assert int(digits(shown)) == analytics["lifetime_revenue_cents"]
    assert page.errors == []


def test_the_timeline_pages_back_and_filters_by_kind(open_page, server):
    page = open_page("advisor@example.com")
    page.goto(f"{server.base}/customers")
    # Enough history for more than one page: thirty calls, as another module would report them.
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.get_attribute("body", "hx-headers")).group(1)
    for number in range(30):
        reported = page.request.post(
            f"{server.base}/api/customer360/{CUSTOMER}/activity",
            data={"kind": "call", "summary": f"Older call #{number}"},
            headers={"X-CSRF-Token": token},
        )
        assert reported.status == 201, reported.text()
    open_customer(page, server.base)
    entries = page.locator("#activity-timeline > li.entry")
    expect(entries).to_have_count(25, timeout=10_000)
    page.click("#activity-more a")
    expect(entries).not_to_have_count(25, timeout=5_000)
    assert entries.count() > 25
    page.select_option("#activity-kind", "call")
    expect(page.locator("#activity-timeline")).to_have_attribute("data-kind", "call", timeout=5_000)
    kinds = set(
        page.locator("#activity-timeline > li.entry").evaluate_all("els => els.map(e => e.className)")
    )
    assert kinds and all("kind-call" in kind for kind in kinds)
    assert "activity.kind=call" in page.url  # a shareable view
    assert page.errors == []


def test_a_french_speaking_advisor_takes_a_part_payment_typed_the_french_way(open_page, server):
    # Before the payment in full below: the demo data may hold a single invoice to pay.
    page = open_page("advisor@example.com")
    page.click(".language-switch button[type=submit]")  # the demo sign-ins read English in these tests
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    customer_id, invoice = payable_invoice(page, server.base, more_than=1_000)
    open_customer(page, server.base, customer_id)
    whole_page(page)
    row = page.locator(f"#invoice-{invoice['id']}")
    row.locator("summary").click()
    row.locator("input[name=amount]").fill("5,25")
    row.locator("select[name=method]").select_option("debit")
    row.locator("button[type=submit]").click()
    expect(page.locator(f"#invoice-{invoice['id']} .badge")).to_have_text(
        re.compile("Partiellement payée|En retard")
    )
    first = page.locator("#activity-timeline > li.entry").first
    expect(first).to_contain_text(
        re.compile(r"Paiement de 5,25\s\$ par débit Interac sur " + invoice["number"])
    )
    expect(first).to_contain_text("restent dus")
    assert page.errors == []


def test_a_payment_whose_push_comes_before_the_forms_answer_keeps_its_confirmation(open_page, server):
    """The push of a payment can reach the page before the answer to the form that made it: it waits for the
    answer, which replaces the row with its confirmation, rather than replacing the row first and leaving
    the answer nowhere to land."""
    page = open_page("advisor@example.com")
    customer_id, invoice = payable_invoice(page, server.base, more_than=100)
    open_customer(page, server.base, customer_id)
    whole_page(page)
    held = []
    # The server commits and pushes as usual; only its answer to the form is held back until the push is in.
    page.route(re.compile(r"/payments$"), lambda route: held.append((route, route.fetch())))
    row = page.locator(f"#invoice-{invoice['id']}")
    version = row.get_attribute("data-version")
    row.locator("summary").click()
    row.locator("input[name=amount]").fill("1.00")
    row.locator("select[name=method]").select_option("cash")
    row.locator("button[type=submit]").click()
    expect(page.locator("#activity-timeline > li.entry").first).to_contain_text("Payment of", timeout=5_000)
    expect(row).to_have_attribute("data-version", version)  # the row's push waits for the answer
    while not held:  # the answer, fetched while the push came in
        page.wait_for_timeout(50)
    ((route, answer),) = held
    assert answer.status == 200
    route.fulfill(response=answer)
    expect(row.locator(".saved")).to_contain_text("still due", timeout=5_000)
    expect(row).not_to_have_attribute("data-version", version)
    assert page.errors == []


def test_a_payment_recorded_through_the_form_updates_the_row_the_balance_and_the_kpis(open_page, server):
    page = open_page("advisor@example.com")
    customer_id, invoice = payable_invoice(page, server.base)
    balance = invoice["total_cents"] - invoice["paid_cents"]
    open_customer(page, server.base, customer_id)
    whole_page(page)
    row = page.locator(f"#invoice-{invoice['id']}")
    outstanding = page.locator("#kpi-outstanding .kpi-value").inner_text()
    row.locator("summary").click()
    row.locator("input[name=amount]").fill(f"{balance // 100}.{balance % 100:02d}")
    row.locator("select[name=method]").select_option("debit")
    with page.expect_response(re.compile(r"/payments$")) as answer:
        row.locator("button[type=submit]").click()
    assert answer.value.status == 200
    expect(page.locator(f"#invoice-{invoice['id']} .badge")).to_have_text("Paid", timeout=5_000)
    # The confirmation stays: pushes of this invoice rendered before the payment, or for it, leave the row.
    expect(page.locator(f"#invoice-{invoice['id']} .saved")).to_contain_text("paid in full")
    expect(page.locator("#kpi-outstanding .kpi-value")).not_to_have_text(outstanding, timeout=5_000)
    expect(page.locator("#activity-timeline > li.entry").first).to_contain_text("Payment of")
    assert page.errors == []


def test_a_withdrawn_consent_shows_in_its_history(open_page, server):
    page = open_page("advisor@example.com")
    open_customer(page, server.base)
    whole_page(page)
    granted = page.locator("#section-consents td.consent-cell:has(.badge.status-granted)").first
    cell_id = granted.get_attribute("id")
    history = page.locator("#section-consents table.consent-history tbody tr")
    before = history.count()
    granted.locator("summary").click()
    granted.locator("button[type=submit]").click()
    expect(page.locator(f"#{cell_id} .badge")).to_have_class(re.compile("status-withdrawn"), timeout=5_000)
    expect(history).to_have_count(before + 1, timeout=5_000)
    expect(history.first).to_contain_text("Withdrawn")
    assert page.errors == []


def focus_by_tab(page, selector: str, limit: int = 200) -> None:
    """Press Tab until `selector` has the focus, as someone without a mouse would."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def test_a_note_can_be_written_with_the_keyboard_alone(open_page, server):
    page = open_page("advisor@example.com")
    open_customer(page, server.base)
    expect(page.locator("#note-text")).to_be_visible(timeout=10_000)
    page.keyboard.press("Tab")
    focus_by_tab(page, "#note-text")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.type("Typed without a mouse")
    focus_by_tab(page, ".note-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#activity-timeline > li:has-text('Typed without a mouse')")).to_have_count(
        1, timeout=5_000
    )
    assert page.errors == []
