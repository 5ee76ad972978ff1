"""Accessibility, checked by axe-core (vendored from the npm registry in tests/vendor/) in real Chromium:
the main pages, as each role sees them, every lazy section loaded, report no serious or critical violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core-4.14.1.min.js"
CUSTOMER = 1


@pytest.fixture
def audited_page(browser, server, request):
    """A signed-in page whose context lets the test inject axe (the app's CSP forbids inline scripts)."""
    contexts = []

    def open_as(email: str | None, width: int = 1280, scheme: str = "light"):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=True, color_scheme=scheme
        )
        contexts.append(context)
        page = context.new_page()
        if email:
            sign_in(page, server.base, email)
        return page

    yield open_as
    for context in contexts:
        context.close()


def violations(page) -> list[str]:
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
              .filter((violation) => ["serious", "critical"].includes(violation.impact))
              .map((violation) => `${violation.impact} ${violation.id}: ${violation.help} — ` +
                   violation.nodes.slice(0, 3).map((node) => node.target.join(" ")).join(", "));
        }"""
    )
    return found


def load_every_section(page) -> None:
    """Scroll through the page so that every lazy section loads, then wait for the last skeleton to go."""
    for _ in range(12):
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(150)
    expect(page.locator(".skeleton")).to_have_count(0, timeout=15_000)


@pytest.mark.parametrize(("width", "scheme"), [(1280, "light"), (390, "light"), (1280, "dark")])
def test_the_customer_page_with_every_section_has_no_serious_violation(audited_page, server, width, scheme):
    page = audited_page("advisor@example.com", width, scheme)
    page.goto(f"{server.base}/customers/{CUSTOMER}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)
    load_every_section(page)
    assert violations(page) == []


@pytest.mark.parametrize(
    ("email", "path"),
    [
        (None, "/login"),
        ("advisor@example.com", "/customers"),
        ("advisor@example.com", "/customers?q=a"),
        ("operations@example.com", "/operations"),
        ("admin@example.com", "/admin/users"),
        ("admin@example.com", "/admin/audit"),
        ("admin@example.com", f"/customers/{CUSTOMER}/privacy"),
    ],
)
def test_the_other_pages_have_no_serious_violation(audited_page, server, email, path):
    page = audited_page(email)
    page.goto(f"{server.base}{path}")
    page.wait_for_load_state("networkidle")
    assert violations(page) == []
