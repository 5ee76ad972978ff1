"""`make screenshots`: the README's pictures, taken in Chromium from the demo data.

Starts `customer360 serve` on a fresh seeded SQLite database in a temporary directory, signs in as the demo
advisor and the demo operations user, and saves the Customer 360 page (1280 px, every section loaded), the
operations stream with a few live entries, and the Customer 360 page at phone width (390 px).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server, sign_in

CUSTOMER = 1


def signed_in(browser, base: str, email: str, width: int, language: str):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="fr-CA" if language == "fr" else "en-CA"
    )
    page = context.new_page()
    sign_in(page, base, email, language)
    return page


def whole_customer_page(page, base: str) -> None:
    page.goto(f"{base}/customers/{CUSTOMER}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)
    expect(page.locator(".skeleton")).to_have_count(0, timeout=15_000)
    page.evaluate("window.scrollTo(0, 0)")


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as var_dir:
        server = Server(Path(var_dir))
        server.cli("migrate")
        server.cli("seed", "--customers", "40")
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                advisor = signed_in(browser, server.base, "advisor@example.com", 1280, "en")
                whole_customer_page(advisor, server.base)
                advisor.screenshot(path=target / "customer-360.png", full_page=True)

                operations = signed_in(browser, server.base, "operations@example.com", 1280, "fr")
                operations.goto(f"{server.base}/operations")
                expect(operations.locator("#live-status")).to_have_attribute("data-state", "live")
                server.cli("simulate", "--rate", "4", "--duration", "3", "--seed", "7")
                time.sleep(1)
                operations.screenshot(path=target / "operations.png")

                phone = signed_in(browser, server.base, "advisor@example.com", 390, "fr")
                whole_customer_page(phone, server.base)
                phone.screenshot(path=target / "customer-360-phone.png")
                browser.close()
        finally:
            server.stop()
            server.log.close()
    for picture in sorted(target.glob("*.png")):
        print(picture)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
