"""The work-orders section as an advisor uses it: open ones first, the filter, status changes, invoicing."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.invoices import shop_today
from app.tables import customer_activities, invoices, work_orders
from tests.conftest import csrf_token_of
from tests.factories import NOW, add_customer, add_vehicle, add_work_order


@pytest.fixture
async def garage(engine, staff):
    async with engine.begin() as conn:
        marie = await add_customer(conn, "Marie", "Tremblay")
        john = await add_customer(conn, "John", "Smith")
        car = await add_vehicle(conn, marie, vin="2T3W1RFV8KC012345", plate="ABC 123")
        advisor = staff["advisor"].id

        async def work_order(number, status, days_ago, **amounts):
            return await add_work_order(
                conn,
                marie,
                car,
                number=number,
                status=status,
                opened_at=NOW - timedelta(days=days_ago),
                advisor_id=advisor,
                technician="Réjean Roy",
                **amounts,
            )

        ids = {
            "completed": await work_order(
                "WO-2026-000001", "completed", 1, labour_cents=12_000, parts_cents=3_450
            ),
            "open": await work_order("WO-2026-000002", "open", 30, labour_cents=5_000),
            "in_progress": await work_order("WO-2026-000003", "in_progress", 2, labour_cents=8_000),
            "cancelled": await work_order("WO-2026-000004", "cancelled", 0),
            "johns": await add_work_order(conn, john, None, number="WO-2026-000005", status="in_progress"),
        }
    return {"marie": marie, "john": john, **ids}


async def section(client, customer_id, **params):
    response = await client.get(
        f"/customers/{customer_id}/sections/work-orders", query_string=params, headers={"HX-Request": "true"}
    )
    return response, await response.get_data(as_text=True)


def numbers_in(html: str) -> list[str]:
    return re.findall(r'<th scope="row">\s*<span class="nowrap">(WO-\d{4}-\d{6})</span>', html)


def row_of(html: str, work_order_id: int) -> str:
    pattern = rf'<tr class="work-order[^"]*"[^>]* id="work-order-{work_order_id}">.*?</tr>'
    match = re.search(pattern, html, re.S)
    assert match, f"no row for work order {work_order_id}"
    return match.group(0)


async def test_open_work_orders_come_first_with_their_vehicle_people_and_amounts(signed_in, garage):
    client = await signed_in("advisor")
    response, html = await section(client, garage["marie"])
    assert response.status_code == 200
    assert html.lstrip().startswith(
        '<section class="card section section-work-orders" id="section-work-orders"'
    )
    # In the shop first (newest opened first), then finished ones.
    assert numbers_in(html) == ["WO-2026-000003", "WO-2026-000002", "WO-2026-000004", "WO-2026-000001"]
    row = row_of(html, garage["completed"])
    for text in ("2019 Toyota RAV4", "ABC 123", "Test Advisor", "Réjean Roy", "$154.50", "$177.64"):
        assert text in row
    assert "Labour $120.00 · Parts $34.50" in row and "Tax $23.14" in row
    assert "Issue invoice" in row
    assert '<option value="completed">Completed</option>' in row_of(html, garage["in_progress"])
    assert "<select" not in row and "<select" not in row_of(html, garage["cancelled"])  # final statuses
    assert "2 work orders in the shop" in html


async def test_the_status_filter_and_bad_parameters(signed_in, garage):
    client = await signed_in("operations")
    _, html = await section(client, garage["marie"], status="open")
    assert numbers_in(html) == ["WO-2026-000002"]
    assert '<option value="open" selected>Open</option>' in html
    _, none = await section(client, garage["marie"], status="waiting_parts")
    assert "No work order is waiting for parts." in none
    for params, name in (({"status": "lost"}, "status"), ({"cursor": "zzz"}, "cursor")):
        response = await client.get(
            f"/customers/{garage['marie']}/sections/work-orders",
            query_string=params,
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        assert (await response.get_json())["error"]["message"].startswith(f"{name}:")


async def test_more_work_orders_load_across_both_groups(signed_in, engine):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Fleet", "Owner")
        for index in range(50):
            await add_work_order(
                conn,
                customer,
                number=f"WO-2025-{index + 1:06d}",
                status="open" if index % 5 == 0 else "completed",
                opened_at=NOW - timedelta(days=index),
            )
    client = await signed_in("advisor")
    _, html = await section(client, customer)
    seen = numbers_in(html)
    while (match := re.search(r'hx-get="(/customers/\d+/work-orders\?[^"]+)"', html)) is not None:
        html = await (await client.get(match.group(1).replace("&amp;", "&"))).get_data(as_text=True)
        seen += numbers_in(html)
    opened = [f"WO-2025-{index + 1:06d}" for index in range(0, 50, 5)]
    finished = [f"WO-2025-{index + 1:06d}" for index in range(50) if index % 5]
    assert seen == opened + finished


async def change_status(client, customer_id, work_order_id, new, old, *, token=True):
    form = {"status": new, "from": old}
    if token:
        form["csrf_token"] = await csrf_token_of(client)
    return await client.post(
        f"/customers/{customer_id}/work-orders/{work_order_id}/status",
        form=form,
        headers={"HX-Request": "true"},
    )


async def status_of(engine, work_order_id):
    async with engine.connect() as conn:
        status = (
            await conn.execute(select(work_orders.c.status).where(work_orders.c.id == work_order_id))
        ).scalar_one()
        entries = (
            await conn.execute(
                select(func.count())
                .select_from(customer_activities)
                .where(customer_activities.c.kind.in_(("work_order_status", "invoice_issued")))
            )
        ).scalar_one()
    return status, entries


async def test_completing_a_work_order_rerenders_its_row_ready_to_invoice(signed_in, garage, engine):
    client = await signed_in("advisor")
    response = await change_status(client, garage["marie"], garage["in_progress"], "completed", "in_progress")
    assert response.status_code == 200
    row = row_of(await response.get_data(as_text=True), garage["in_progress"])
    assert '<span class="badge status-completed">Completed</span>' in row
    assert "Status changed to completed." in row and "Issue invoice" in row and "Closed" in row
    assert "refresh-vehicles" in json.loads(response.headers["HX-Trigger"])
    assert await status_of(engine, garage["in_progress"]) == ("completed", 1)


async def test_a_transition_the_shop_does_not_allow_is_refused(signed_in, garage, engine):
    client = await signed_in("advisor")
    response = await change_status(client, garage["marie"], garage["open"], "completed", "open")
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "cannot become completed" in html and 'aria-invalid="true"' in html
    final = await change_status(client, garage["marie"], garage["cancelled"], "open", "cancelled")
    assert final.status_code == 422
    assert "final" in await final.get_data(as_text=True)
    assert await status_of(engine, garage["open"]) == ("open", 0)


async def test_a_change_made_meanwhile_is_not_overwritten(signed_in, garage, engine):
    client = await signed_in("advisor")
    assert (
        await change_status(client, garage["marie"], garage["open"], "in_progress", "open")
    ).status_code == 200
    stale = await change_status(client, garage["marie"], garage["open"], "cancelled", "open")
    assert stale.status_code == 422
    html = await stale.get_data(as_text=True)
    assert "meanwhile: it is now in progress" in html
    assert '<span class="badge status-in_progress">In progress</span>' in html  # the row as it is now
    assert await status_of(engine, garage["open"]) == ("in_progress", 1)


async def issue(client, customer_id, work_order_id, *, token=True):
    form = {"csrf_token": await csrf_token_of(client)} if token else {}
    return await client.post(
        f"/customers/{customer_id}/work-orders/{work_order_id}/invoice",
        form=form,
        headers={"HX-Request": "true"},
    )


async def test_issuing_the_invoice_of_a_completed_work_order(signed_in, garage, engine):
    client = await signed_in("advisor")
    response = await issue(client, garage["marie"], garage["completed"])
    assert response.status_code == 200
    row = row_of(await response.get_data(as_text=True), garage["completed"])
    year = shop_today().year
    assert f"Invoice INV-{year}-000001 issued." in row and "Issue invoice" not in row
    triggers = json.loads(response.headers["HX-Trigger"])
    assert {"refresh-invoices", "refresh-analytics", "refresh-revenue-chart"} <= set(triggers)
    async with engine.connect() as conn:
        invoice = (await conn.execute(select(invoices))).one()
    assert (invoice.subtotal_cents, invoice.gst_cents, invoice.qst_cents, invoice.total_cents) == (
        15_450,
        773,
        1_541,
        17_764,
    )
    assert (invoice.status, invoice.issued_on, invoice.due_on) == (
        "sent",
        shop_today(),
        shop_today() + timedelta(days=30),
    )
    section_html = await (await client.get(f"/customers/{garage['marie']}/sections/invoices")).get_data(
        as_text=True
    )
    assert f"INV-{year}-000001" in section_html and "$177.64" in section_html

    again = await issue(client, garage["marie"], garage["completed"])
    assert again.status_code == 422
    assert f"already invoiced (INV-{year}-000001)" in await again.get_data(as_text=True)
    assert await status_of(engine, garage["completed"]) == ("completed", 1)


async def test_a_work_order_still_in_the_shop_is_not_invoiced(signed_in, garage, engine):
    client = await signed_in("admin")
    response = await issue(client, garage["marie"], garage["in_progress"])
    assert response.status_code == 422
    assert "only a completed work order can be invoiced" in await response.get_data(as_text=True)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(invoices))).scalar_one() == 0


async def test_another_customers_work_order_is_a_404_and_untouched(signed_in, garage, engine):
    client = await signed_in("advisor")
    moved = await change_status(client, garage["marie"], garage["johns"], "completed", "in_progress")
    assert moved.status_code == 404
    invoiced = await issue(client, garage["marie"], garage["johns"])
    assert invoiced.status_code == 404
    assert await status_of(engine, garage["johns"]) == ("in_progress", 0)


async def test_writes_need_the_csrf_token(signed_in, garage, engine):
    client = await signed_in("advisor")
    response = await change_status(
        client, garage["marie"], garage["open"], "in_progress", "open", token=False
    )
    assert response.status_code == 403
    assert (await issue(client, garage["marie"], garage["completed"], token=False)).status_code == 403
    assert await status_of(engine, garage["open"]) == ("open", 0)


async def test_operations_staff_see_work_orders_but_cannot_change_them(signed_in, garage, engine):
    client = await signed_in("operations")
    _, html = await section(client, garage["marie"])
    assert numbers_in(html) and '<form class="work-order' not in html
    response = await change_status(client, garage["marie"], garage["open"], "in_progress", "open")
    assert response.status_code == 403
    assert (await issue(client, garage["marie"], garage["completed"])).status_code == 403
    assert await status_of(engine, garage["open"]) == ("open", 0)
