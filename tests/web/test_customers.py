"""The customer list, its search and the profile header."""

from __future__ import annotations

import re

import pytest

from tests.factories import add_customer, add_vehicle, add_work_order_and_invoice


@pytest.fixture
async def shop(engine):
    """Three customers an advisor could look for in every way the search allows."""
    async with engine.begin() as conn:
        marie = await add_customer(
            conn,
            "Marie",
            "Tremblay",
            email="Marie.Tremblay@example.ca",
            phone="(514) 555-0199",
            tags=["VIP", "fleet"],
        )
        helene = await add_customer(
            conn,
            "Hélène",
            "Gagné",
            company="Garage Bouchard inc.",
            email="hgagne@example.ca",
            phone="438 555 0101",
        )
        john = await add_customer(conn, "John", "Smith", email="john@smith.example", language="en")
        marie_car = await add_vehicle(conn, marie, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_vehicle(conn, helene, vin="1HGCM82633A004352", plate="X12-YZW")
        await add_work_order_and_invoice(conn, marie, marie_car, number=42)
    return {"marie": marie, "helene": helene, "john": john}


def names_in(html: str) -> list[str]:
    return re.findall(r'<a href="/customers/\d+">([^<]+)</a>', html)


async def search(client, query: str) -> list[str]:
    response = await client.get(
        "/customers", query_string={"q": query}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "<html" not in html  # htmx gets the results only
    return names_in(html)


async def test_list_shows_every_customer_by_last_name(signed_in, shop):
    client = await signed_in("advisor")
    html = await (await client.get("/customers")).get_data(as_text=True)
    assert names_in(html) == ["Hélène Gagné", "John Smith", "Marie Tremblay"]
    assert "marie.tremblay@example.ca".lower() in html.lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tremblay", ["Marie Tremblay"]),
        ("TREMB", ["Marie Tremblay"]),
        ("marie tremblay", ["Marie Tremblay"]),
        ("tremblay marie", ["Marie Tremblay"]),
        ("gagne", ["Hélène Gagné"]),  # accents do not matter
        ("garage bouch", ["Hélène Gagné"]),  # company
        ("john@smith", ["John Smith"]),  # email
        ("514-555-0199", ["Marie Tremblay"]),  # phone, any punctuation
        ("+1 514 555", ["Marie Tremblay"]),
        ("abc123", ["Marie Tremblay"]),  # plate without its space
        ("ABC 123", ["Marie Tremblay"]),
        ("x12yzw", ["Hélène Gagné"]),
        ("2T3W1RFV", ["Marie Tremblay"]),  # VIN prefix
        ("INV-2026-000042", ["Marie Tremblay"]),  # invoice number
        ("wo-2026-000042", ["Marie Tremblay"]),  # work-order number
        ("nobody-here", []),
        ("100%", []),  # LIKE wildcards are taken literally
        ("__", []),
    ],
)
async def test_search_finds_customers_every_way_an_advisor_asks(signed_in, shop, query, expected):
    client = await signed_in("advisor")
    assert await search(client, query) == expected


async def test_search_without_htmx_renders_the_whole_page(signed_in, shop):
    client = await signed_in("operations")
    response = await client.get("/customers?q=smith")
    html = await response.get_data(as_text=True)
    assert "<html" in html and names_in(html) == ["John Smith"]
    assert 'value="smith"' in html


async def test_no_match_says_so(signed_in, shop):
    client = await signed_in("advisor")
    response = await client.get("/customers?q=zzzz")
    assert "No customer matches" in await response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "problem"),
    [("x", "q: type at least 2 characters"), ("y" * 101, "q: the search text is limited")],
)
async def test_bad_search_text_is_a_400_that_says_why(signed_in, shop, query, problem):
    client = await signed_in("advisor")
    response = await client.get(
        "/customers", query_string={"q": query}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["error"]["message"].startswith(problem)


async def test_list_pages_with_a_keyset_cursor(signed_in, engine):
    async with engine.begin() as conn:
        for index in range(30):
            await add_customer(conn, "Client", f"Nom{index:02d}")
    client = await signed_in("advisor")
    first = await (await client.get("/customers")).get_data(as_text=True)
    assert len(names_in(first)) == 25
    cursor = re.search(r'hx-get="/customers\?after=([^"]+)"', first).group(1)
    more = await client.get(
        f"/customers?after={cursor}", headers={"HX-Request": "true", "HX-Target": "more-results"}
    )
    rest = names_in(await more.get_data(as_text=True))
    assert rest == [f"Client Nom{index:02d}" for index in range(25, 30)]
    assert set(rest).isdisjoint(names_in(first))


async def test_a_forged_cursor_is_a_400(signed_in, shop):
    client = await signed_in("advisor")
    response = await client.get("/customers?after=not-a-cursor", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert (await response.get_json())["error"]["message"].startswith("after:")


async def test_customer_page_shows_the_profile_header(signed_in, shop):
    client = await signed_in("advisor")
    response = await client.get(f"/customers/{shop['marie']}")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    for text in ("Marie Tremblay", "Marie.Tremblay@example.ca", "(514) 555-0199", "VIP", "fleet", "Montréal"):
        assert text in html


async def test_unknown_customer_is_a_404_page(signed_in, shop):
    client = await signed_in("advisor")
    response = await client.get("/customers/999999")
    assert response.status_code == 404
    assert "There is no customer #999999" in await response.get_data(as_text=True)


async def test_search_finds_a_seeded_customer_by_plate_vin_and_invoice_number(signed_in, engine):
    from sqlalchemy import select

    from app.seed import seed
    from app.tables import customers, invoices, vehicles

    await seed(engine, customers=12, seed=7, activities_per_customer=10)
    async with engine.connect() as conn:
        vehicle = (await conn.execute(select(vehicles).order_by(vehicles.c.id.desc()).limit(1))).one()
        invoice = (await conn.execute(select(invoices).order_by(invoices.c.id).limit(1))).one()
        names = {
            row.id: f"{row.first_name} {row.last_name}"
            for row in await conn.execute(
                select(customers.c.id, customers.c.first_name, customers.c.last_name)
            )
        }
    client = await signed_in("advisor")
    assert names[vehicle.customer_id] in await search(client, vehicle.plate)
    assert names[vehicle.customer_id] in await search(client, vehicle.vin)
    assert names[vehicle.customer_id] in await search(client, vehicle.vin.lower())
    assert names[invoice.customer_id] in await search(client, invoice.number)


async def test_a_search_being_typed_that_is_too_short_says_what_it_needs_in_place_of_the_results(
    signed_in, shop
):
    client = await signed_in("advisor")
    response = await client.get(
        "/customers", query_string={"q": "x"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "Type at least 2 characters to search." in html and "<table" not in html
