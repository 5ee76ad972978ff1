"""The invoices section as an advisor uses it: balances and totals, the filter, older invoices, payments."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.invoices import shop_today
from app.tables import customer_activities, invoices, payments
from tests.conftest import csrf_token_of
from tests.factories import add_customer, add_invoice

TODAY = shop_today()


@pytest.fixture
async def book(engine):
    """Marie owes on three invoices, one of them late (not yet marked by the nightly job); John has one."""
    async with engine.begin() as conn:
        marie = await add_customer(conn, "Marie", "Tremblay")
        john = await add_customer(conn, "John", "Smith")
        ids = {
            "open": await add_invoice(conn, marie, number="INV-2026-000101", issued_on=TODAY),
            "late": await add_invoice(
                conn, marie, number="INV-2026-000102", issued_on=TODAY - timedelta(days=40)
            ),
            "partial": await add_invoice(
                conn,
                marie,
                number="INV-2026-000103",
                issued_on=TODAY - timedelta(days=10),
                status="partially_paid",
                paid_cents=2_000,
            ),
            "paid": await add_invoice(
                conn,
                marie,
                number="INV-2026-000104",
                issued_on=TODAY - timedelta(days=90),
                status="paid",
                paid_cents=11_498,
            ),
            "johns": await add_invoice(conn, john, number="INV-2026-000105", issued_on=TODAY),
        }
    return {"marie": marie, "john": john, **ids}


async def section(client, customer_id, **params):
    response = await client.get(
        f"/customers/{customer_id}/sections/invoices", query_string=params, headers={"HX-Request": "true"}
    )
    return response, await response.get_data(as_text=True)


def numbers_in(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><span class="nowrap">(INV-\d{4}-\d{6})</span>', html)


def row_of(html: str, invoice_id: int) -> str:
    match = re.search(rf'<tbody class="invoice[^"]*"[^>]* id="invoice-{invoice_id}">.*?</tbody>', html, re.S)
    assert match, f"no row for invoice {invoice_id}"
    return match.group(0)


def amount_of(html: str, label: str) -> str:
    return re.search(rf"<dt>{label}</dt>\s*<dd><strong class=\"amount\">([^<]+)</strong>", html).group(1)


async def test_the_section_shows_balances_totals_and_the_late_invoice(signed_in, book):
    client = await signed_in("advisor")
    response, html = await section(client, book["marie"])
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card section section-invoices" id="section-invoices"')
    assert numbers_in(html) == ["INV-2026-000101", "INV-2026-000103", "INV-2026-000102", "INV-2026-000104"]
    assert "INV-2026-000105" not in html
    late = row_of(html, book["late"])
    assert '<span class="badge status-overdue">Overdue</span>' in late and "10 days late" in late
    assert "<strong>$114.98</strong>" in late  # its balance
    assert "<strong>$94.98</strong>" in row_of(html, book["partial"])
    assert "Record payment" in row_of(html, book["open"])
    assert "Record payment" not in row_of(html, book["paid"])
    assert "Subtotal $100.00 · GST $5.00 · QST $9.98" in row_of(html, book["open"])
    # Totals: 114.98 + 114.98 + 94.98 due, of which 114.98 is late.
    assert amount_of(html, "Balance due") == "$324.94" and "on 3 open invoices" in html
    assert amount_of(html, "Overdue") == "$114.98"


async def test_totals_agree_with_the_rows_and_the_database(signed_in, book, engine):
    client = await signed_in("advisor")
    _, html = await section(client, book["marie"])
    balances = [
        int(re.sub(r"\D", "", amount))
        for amount in re.findall(r'<td class="num balance"><strong>([^<]+)</strong>', html)
    ]
    async with engine.connect() as conn:
        owed = (
            await conn.execute(
                select(func.sum(invoices.c.total_cents - invoices.c.paid_cents)).where(
                    invoices.c.customer_id == book["marie"],
                    invoices.c.status.in_(("sent", "partially_paid", "overdue")),
                )
            )
        ).scalar()
    assert int(re.sub(r"\D", "", amount_of(html, "Balance due"))) == sum(balances) == owed


async def test_the_status_filter_shows_the_late_invoices_as_overdue(signed_in, book):
    client = await signed_in("operations")
    _, html = await section(client, book["marie"], status="overdue")
    assert numbers_in(html) == ["INV-2026-000102"]
    assert '<option value="overdue" selected>Overdue</option>' in html
    assert amount_of(html, "Balance due") == "$324.94"  # totals stay those of every invoice
    _, sent = await section(client, book["marie"], status="sent")
    assert numbers_in(sent) == ["INV-2026-000101"]
    _, void = await section(client, book["marie"], status="void")
    assert numbers_in(void) == [] and "No invoice is void." in void


async def test_older_invoices_load_without_gaps_or_repeats(signed_in, engine):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Fleet", "Owner")
        for index in range(45):
            await add_invoice(
                conn,
                customer,
                number=f"INV-2025-{index + 1:06d}",
                issued_on=TODAY - timedelta(days=200 - index // 2),
                status="paid",
                paid_cents=11_498,
            )
    client = await signed_in("advisor")
    _, html = await section(client, customer, status="paid")
    seen = numbers_in(html)
    assert len(seen) == 20
    while (match := re.search(r'hx-get="(/customers/\d+/invoices\?[^"]+)"', html)) is not None:
        url = match.group(1).replace("&amp;", "&")
        assert "status=paid" in url
        html = await (await client.get(url, headers={"HX-Request": "true"})).get_data(as_text=True)
        assert 'id="invoices-more"' not in html or "Load older invoices" in html
        seen += numbers_in(html)
    # Newest issued first, and of two issued the same day the newer id first: here, the reverse of creation.
    assert seen == [f"INV-2025-{index + 1:06d}" for index in reversed(range(45))]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "lost"}, "status"),
        ({"cursor": "zzz"}, "cursor"),
        ({"cursor": "WyJub3QtYS1kYXRlIiwzXQ"}, "cursor"),  # ["not-a-date",3]
    ],
)
@pytest.mark.parametrize("path", ["sections/invoices", "invoices"])
async def test_bad_parameters_are_400_naming_them(signed_in, book, params, name, path):
    client = await signed_in("advisor")
    response = await client.get(
        f"/customers/{book['marie']}/{path}", query_string=params, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["error"]["message"].startswith(f"{name}:")


async def test_unknown_customer_is_a_404(signed_in, book):
    client = await signed_in("advisor")
    response = await client.get("/customers/987654/invoices", headers={"Accept": "application/json"})
    assert response.status_code == 404


# -- payments ------------------------------------------------------------------------------------------------


async def pay(client, customer_id, invoice_id, amount, method="card", reference="", *, token=True):
    form = {"amount": amount, "method": method, "reference": reference}
    if token:
        form["csrf_token"] = await csrf_token_of(client)
    return await client.post(
        f"/customers/{customer_id}/invoices/{invoice_id}/payments", form=form, headers={"HX-Request": "true"}
    )


async def stored(engine, invoice_id):
    async with engine.connect() as conn:
        invoice = (await conn.execute(select(invoices).where(invoices.c.id == invoice_id))).one()
        payment_count = (
            await conn.execute(
                select(func.count()).select_from(payments).where(payments.c.invoice_id == invoice_id)
            )
        ).scalar_one()
        entries = (
            await conn.execute(
                select(func.count())
                .select_from(customer_activities)
                .where(customer_activities.c.kind == "payment")
            )
        ).scalar_one()
    return invoice.status, invoice.paid_cents, payment_count, entries


async def test_a_part_payment_then_the_rest_update_the_row_in_place(signed_in, book, engine, staff):
    client = await signed_in("advisor")
    response = await pay(client, book["marie"], book["open"], "50,00", "debit", "AUTH 42")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    row = row_of(html, book["open"])
    assert '<span class="badge status-partially_paid">Partially paid</span>' in row
    assert "<strong>$64.98</strong>" in row
    assert "Payment of $50.00 recorded; $64.98 still due." in row
    # The totals above the table follow, out of band; the figures and the chart reload.
    assert 'id="invoice-totals" hx-swap-oob="true"' in html and "$274.94" in html
    triggers = json.loads(response.headers["HX-Trigger"])
    assert {"refresh-analytics", "refresh-revenue-chart"} <= set(triggers)
    assert await stored(engine, book["open"]) == ("partially_paid", 5_000, 1, 1)

    response = await pay(client, book["marie"], book["open"], "64.98", "cash")
    assert response.status_code == 200
    row = row_of(await response.get_data(as_text=True), book["open"])
    assert '<span class="badge status-paid">Paid</span>' in row and "paid in full" in row
    assert "Record payment</summary>" not in row  # nothing left to pay
    assert await stored(engine, book["open"]) == ("paid", 11_498, 2, 2)
    async with engine.connect() as conn:
        entry = (
            await conn.execute(select(customer_activities).order_by(customer_activities.c.id.desc()).limit(1))
        ).one()
    assert entry.actor_id == staff["advisor"].id and entry.customer_id == book["marie"]
    assert entry.summary == "Payment of $64.98 by cash on INV-2026-000101 — paid in full"


async def test_an_overpayment_is_refused_naming_the_balance(signed_in, book, engine):
    client = await signed_in("advisor")
    response = await pay(client, book["marie"], book["partial"], "95.00")
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "$95.00 is more than the balance due of $94.98" in html
    assert 'aria-invalid="true"' in html and '<details class="payment" open>' in html
    assert 'value="95.00"' in html  # what was typed stays
    assert await stored(engine, book["partial"]) == ("partially_paid", 2_000, 0, 0)


@pytest.mark.parametrize(
    ("amount", "method", "reference", "message"),
    [
        ("", "card", "", "Enter the amount received"),
        ("douze", "card", "", "is not an amount in dollars"),
        ("0", "card", "", "more than zero"),
        ("10", "", "", "Choose how the customer paid"),
        ("10", "bitcoin", "", "Unknown payment method"),
        ("10", "card", "x" * 61, "limited to 60 characters"),
    ],
)
async def test_a_bad_field_is_explained_beside_it_and_nothing_is_written(
    signed_in, book, engine, amount, method, reference, message
):
    client = await signed_in("advisor")
    response = await pay(client, book["marie"], book["open"], amount, method, reference)
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert re.search(rf'<p class="field-error" id="pay-{book["open"]}-\w+-error">[^<]*{message}', html)
    assert await stored(engine, book["open"]) == ("sent", 0, 0, 0)


async def test_a_paid_invoice_refuses_another_payment(signed_in, book, engine):
    client = await signed_in("admin")
    response = await pay(client, book["marie"], book["paid"], "1.00")
    assert response.status_code == 422
    assert "is already paid in full" in await response.get_data(as_text=True)
    assert await stored(engine, book["paid"]) == ("paid", 11_498, 0, 0)


async def test_a_payment_on_another_customers_invoice_is_a_404(signed_in, book, engine):
    client = await signed_in("advisor")
    response = await pay(client, book["marie"], book["johns"], "10.00")
    assert response.status_code == 404
    assert await stored(engine, book["johns"]) == ("sent", 0, 0, 0)
    missing = await pay(client, 987654, book["johns"], "10.00")
    assert missing.status_code == 404


async def test_a_payment_without_the_csrf_token_is_refused(signed_in, book, engine):
    client = await signed_in("advisor")
    response = await pay(client, book["marie"], book["open"], "10.00", token=False)
    assert response.status_code == 403
    assert await stored(engine, book["open"]) == ("sent", 0, 0, 0)


async def test_operations_staff_see_invoices_but_cannot_take_a_payment(signed_in, book, engine):
    client = await signed_in("operations")
    _, html = await section(client, book["marie"])
    assert numbers_in(html) and "Record payment" not in html
    response = await pay(client, book["marie"], book["open"], "10.00")
    assert response.status_code == 403
    assert await stored(engine, book["open"]) == ("sent", 0, 0, 0)
