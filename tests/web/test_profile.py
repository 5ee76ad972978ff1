"""Editing the profile: validation per field, one transaction, the timeline shows old -> new."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.tables import customer_activities, customers
from tests.conftest import csrf_token_of
from tests.factories import add_customer


@pytest.fixture
async def customer(engine):
    async with engine.begin() as conn:
        return await add_customer(
            conn, "Marie", "Tremblay", email="marie@example.ca", phone="514 555-0199", tags=["VIP"]
        )


async def open_form(client, customer_id) -> dict[str, str]:
    html = await (await client.get(f"/customers/{customer_id}/profile/edit")).get_data(as_text=True)
    values = dict(re.findall(r'name="(\w+)" type="\w+" value="([^"]*)"', html))
    values.update(re.findall(r'name="(version)" value="([^"]*)"', html))
    values.update(dict.fromkeys(("province", "preferred_channel", "language"), ""))
    for name in ("province", "preferred_channel", "language"):
        select_html = re.search(rf'name="{name}".*?</select>', html, re.S).group(0)
        chosen = re.search(r'<option (?:value="(\w*)" )?selected>(\w*)</option>', select_html)
        values[name] = chosen.group(1) or chosen.group(2) if chosen else ""
    return values


async def save(client, customer_id, values):
    form = {**values, "csrf_token": await csrf_token_of(client)}
    return await client.post(f"/customers/{customer_id}/profile", form=form, headers={"HX-Request": "true"})


async def test_saving_changes_records_each_field_old_and_new(signed_in, customer, engine):
    client = await signed_in("advisor")
    values = await open_form(client, customer)
    assert values["email"] == "marie@example.ca" and values["language"] == "fr"
    values.update(email="Marie.T@Example.ca", phone="+1 438-555-0123", language="en", tags="VIP, fleet")
    response = await save(client, customer, values)
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "Profile saved." in html and "(438) 555-0123" in html
    assert 'id="profile-header" hx-swap-oob="true"' in html
    async with engine.connect() as conn:
        entry = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.kind == "profile_updated")
            )
        ).one()
        row = (await conn.execute(select(customers).where(customers.c.id == customer))).one()
    assert entry.details["changes"] == {
        "Email": ["marie@example.ca", "Marie.T@example.ca"],
        "Phone": ["514 555-0199", "(438) 555-0123"],
        "Language": ["fr", "en"],
        "Tags": ["VIP", "VIP, fleet"],
    }
    assert row.language == "en" and row.tags == ["VIP", "fleet"]
    timeline = await (await client.get(f"/customers/{customer}/sections/activity")).get_data(as_text=True)
    assert "fr → en" in timeline
    found = await (
        await client.get("/customers?q=438-555-0123", headers={"HX-Request": "true", "HX-Target": "results"})
    ).get_data(as_text=True)
    assert "Marie Tremblay" in found


async def test_an_unchanged_form_records_nothing(signed_in, customer, engine):
    client = await signed_in("advisor")
    response = await save(client, customer, await open_form(client, customer))
    assert response.status_code == 200
    async with engine.connect() as conn:
        assert (await conn.execute(select(customer_activities))).first() is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-address", "Not a valid email address"),
        ("phone", "12", "Not a valid phone number"),
        ("postal_code", "12345", "A Canadian postal code looks like H2X 1Y4"),
        ("province", "ZZ", "Use a province or territory code"),
        ("tags", "x" * 31, "A tag is limited to 30 characters"),
        ("preferred_channel", "pigeon", "Choose one of"),
    ],
)
async def test_each_bad_field_is_named_and_nothing_is_saved(
    signed_in, customer, engine, field, value, message
):
    client = await signed_in("advisor")
    values = await open_form(client, customer)
    values.update({field: value, "city": "Laval"})
    response = await save(client, customer, values)
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f'id="profile-{field}-error">{message}' in html
    assert 'value="Laval"' in html  # what was typed is kept
    async with engine.connect() as conn:
        assert (
            await conn.execute(select(customers.c.city).where(customers.c.id == customer))
        ).scalar() == "Montréal"


async def test_preferring_email_without_an_address_is_refused(signed_in, customer):
    client = await signed_in("advisor")
    values = await open_form(client, customer)
    values.update(email="", preferred_channel="email")
    response = await save(client, customer, values)
    assert response.status_code == 422
    assert "no email address" in await response.get_data(as_text=True)


async def test_a_concurrent_edit_is_refused_not_overwritten(app, staff, customer, engine):
    from tests.conftest import sign_in

    first, second = app.test_client(), app.test_client()
    await sign_in(first, staff["advisor"])
    await sign_in(second, staff["admin"])
    mine, theirs = await open_form(first, customer), await open_form(second, customer)
    theirs["city"] = "Québec"
    assert (await save(second, customer, theirs)).status_code == 200
    mine["city"] = "Laval"
    response = await save(first, customer, mine)
    assert response.status_code == 409
    assert "Someone else changed this profile" in await response.get_data(as_text=True)
    async with engine.connect() as conn:
        assert (
            await conn.execute(select(customers.c.city).where(customers.c.id == customer))
        ).scalar() == "Québec"


async def test_operations_cannot_edit(signed_in, customer):
    client = await signed_in("operations")
    assert (await client.get(f"/customers/{customer}/profile/edit")).status_code == 403
