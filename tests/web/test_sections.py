"""The Customer 360 shell and the section route: lazy placeholders, isolation, 404s and 400s."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from app.sections import SECTIONS, Section
from tests.factories import add_customer, add_vehicle, add_work_order_and_invoice


@pytest.fixture
async def customer(engine):
    async with engine.begin() as conn:
        customer_id = await add_customer(
            conn, "Marie", "Tremblay", email="marie@example.ca", phone="514 555-0199"
        )
        vehicle = await add_vehicle(conn, customer_id, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_work_order_and_invoice(conn, customer_id, vehicle, number=7)
    return customer_id


async def test_shell_holds_the_first_screenful_and_one_lazy_placeholder_per_other_section(
    signed_in, customer
):
    client = await signed_in("advisor")
    html = await (await client.get(f"/customers/{customer}")).get_data(as_text=True)
    for name, section in SECTIONS.items():
        match = re.search(rf'<section[^>]*id="section-{name}"[^>]*>', html, re.S)
        assert match, name
        tag = match.group(0)
        if section.inline:  # rendered with the page: the section itself, refreshable, no placeholder
            assert 'aria-busy="true"' not in tag and f'hx-trigger="refresh-{name} from:body"' in tag
            continue
        assert f'hx-get="/customers/{customer}/sections/{name}"' in tag
        assert ('hx-trigger="load"' in tag) == section.eager
        assert ('hx-trigger="near once, load delay:1500ms" data-load-near' in tag) == (not section.eager)
        assert 'aria-busy="true"' in tag
    assert "Tremblay" in html.split('id="section-profile"', 1)[1]  # the profile's content, not a skeleton
    lazy = [section for section in SECTIONS.values() if not section.inline]
    assert html.count('class="skeleton-row"') == sum(section.skeleton_rows for section in lazy)


async def test_a_failing_first_screen_section_shows_its_error_box_in_the_page(
    signed_in, customer, monkeypatch
):
    async def broken(conn, customer_id, args):
        raise RuntimeError("the database went away")

    monkeypatch.setitem(SECTIONS, "analytics", replace(SECTIONS["analytics"], load=broken))
    client = await signed_in("advisor")
    response = await client.get(f"/customers/{customer}")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'id="section-analytics"' in html and "Retry" in html.split('id="section-analytics"', 1)[1]


async def test_shell_hands_shared_filters_to_the_first_load(signed_in, customer):
    client = await signed_in("advisor")
    html = await (
        await client.get(f"/customers/{customer}?activity.kind=note&invoices.status=paid")
    ).get_data(as_text=True)
    assert f'hx-get="/customers/{customer}/sections/activity?kind=note"' in html
    assert f'hx-get="/customers/{customer}/sections/invoices?status=paid"' in html


@pytest.mark.parametrize("name", ["profile", "vehicles", "activity"])
async def test_core_sections_render_as_partials_with_the_placeholder_id(signed_in, customer, name):
    client = await signed_in("advisor")
    response = await client.get(f"/customers/{customer}/sections/{name}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<section class="card section section-{name}" id="section-{name}"')
    assert "<html" not in html


async def test_vehicles_section_shows_vin_plate_and_service(signed_in, customer):
    client = await signed_in("advisor")
    html = await (await client.get(f"/customers/{customer}/sections/vehicles")).get_data(as_text=True)
    assert "2019 Toyota RAV4" in html
    assert "ABC 123" in html
    assert "2T3W1RFV" in html
    assert "84,000&nbsp;km" in html
    assert "Jun 1, 2026" in html  # last service: the completed work order, in the shop's zone


async def test_profile_section_lists_every_contact(signed_in, customer):
    client = await signed_in("advisor")
    html = await (await client.get(f"/customers/{customer}/sections/profile")).get_data(as_text=True)
    assert "marie@example.ca" in html and "514 555-0199" in html
    assert "Customer since" in html


async def test_unknown_section_or_customer_is_a_404(signed_in, customer):
    client = await signed_in("advisor")
    unknown_section = await client.get(
        f"/customers/{customer}/sections/secrets", headers={"Accept": "application/json"}
    )
    assert unknown_section.status_code == 404
    assert "There is no section 'secrets'" in (await unknown_section.get_json())["error"]["message"]
    unknown_customer = await client.get(
        "/customers/987654/sections/profile", headers={"Accept": "application/json"}
    )
    assert unknown_customer.status_code == 404


async def test_a_failing_section_shows_an_error_box_with_retry_and_the_others_still_load(
    signed_in, customer, monkeypatch
):
    async def broken(conn, customer_id, args):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(SECTIONS, "vehicles", Section("vehicles", "Vehicles", broken, skeleton_rows=3))
    client = await signed_in("advisor")
    failed = await client.get(f"/customers/{customer}/sections/vehicles", headers={"HX-Request": "true"})
    assert failed.status_code == 500
    html = await failed.get_data(as_text=True)
    assert 'id="section-vehicles"' in html and ">Retry</button>" in html
    assert "disk on fire" not in html and "Traceback" not in html
    fine = await client.get(f"/customers/{customer}/sections/profile", headers={"HX-Request": "true"})
    assert fine.status_code == 200


async def test_anonymous_section_request_from_htmx_is_401(client, customer):
    response = await client.get(f"/customers/{customer}/sections/profile", headers={"HX-Request": "true"})
    assert response.status_code == 401


async def test_a_filtered_section_puts_its_filter_in_the_page_address(signed_in, customer):
    client = await signed_in("advisor")
    response = await client.get(
        f"/customers/{customer}/sections/activity?kind=note",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"http://localhost/customers/{customer}?invoices.status=paid",
        },
    )
    assert (
        response.headers["HX-Replace-Url"] == f"/customers/{customer}?invoices.status=paid&activity.kind=note"
    )
    cleared = await client.get(
        f"/customers/{customer}/sections/activity?kind=",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"http://localhost/customers/{customer}?activity.kind=note",
        },
    )
    assert cleared.headers["HX-Replace-Url"] == f"/customers/{customer}"


async def test_a_section_whose_view_the_address_already_holds_leaves_the_address_alone(signed_in, customer):
    """No HX-Replace-Url when nothing would change: htmx answers one by snapshotting the whole page for its
    history (a layout of the page for each section the page loads)."""
    client = await signed_in("advisor")
    for query, current in (("", ""), ("?kind=note", "?invoices.status=paid&activity.kind=note")):
        response = await client.get(
            f"/customers/{customer}/sections/activity{query}",
            headers={
                "HX-Request": "true",
                "HX-Current-URL": f"http://localhost/customers/{customer}{current}",
            },
        )
        assert response.status_code == 200
        assert "HX-Replace-Url" not in response.headers
