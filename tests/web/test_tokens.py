"""Other ChronoTech modules on the JSON API with a token: what it may do is its account's role, nothing more,
and it reports payments and activity through the same path as the pages (and so the same pushes)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select, update

from app.tables import api_tokens, customer_activities, invoices, payments, users
from app.tokens import create_token, revoke_token
from app.users import UserError
from tests.conftest import sign_in
from tests.factories import add_customer, add_invoice

ORIGIN = {"Origin": "http://127.0.0.1:8000"}


@pytest.fixture
async def customer(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


@pytest.fixture
async def invoice(engine, customer) -> int:
    # 100.00 + GST 5.00 + QST 9.98 = 114.98
    async with engine.begin() as conn:
        return await add_invoice(conn, customer, number="INV-2026-000001", issued_on=date(2026, 11, 2))


async def token_for(engine, user, name: str) -> str:
    async with engine.begin() as conn:
        return await create_token(conn, email=user.email, name=name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def activity_count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(customer_activities))).scalar_one()


async def test_a_token_writes_without_cookie_or_csrf_and_signs_with_its_account(app, engine, staff, customer):
    token = await token_for(engine, staff["advisor"], "pos")
    response = await app.test_client().post(
        f"/api/customer360/{customer}/activity",
        json={"kind": "call", "summary": "Called about the winter tires"},
        headers=bearer(token),
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    event_id = (await response.get_json())["id"]
    async with engine.connect() as conn:
        actor = (
            await conn.execute(
                select(customer_activities.c.actor_id).where(customer_activities.c.id == event_id)
            )
        ).scalar_one()
    assert actor == staff["advisor"].id


async def test_only_a_hash_of_the_token_is_stored(engine, staff):
    token = await token_for(engine, staff["advisor"], "pos")
    async with engine.connect() as conn:
        stored = (await conn.execute(select(api_tokens))).one()
    assert token not in str(tuple(stored)) and len(stored.token_hash) == 64


@pytest.mark.parametrize("how", ["unknown", "revoked", "disabled account", "wrong scheme"])
async def test_a_bad_token_is_refused_with_401_and_writes_nothing(app, engine, staff, customer, how):
    token = await token_for(engine, staff["advisor"], "pos")
    headers = bearer(token)
    if how == "unknown":
        headers = bearer("c360_" + "A" * 43)
    elif how == "revoked":
        async with engine.begin() as conn:
            assert await revoke_token(conn, "pos")
    elif how == "disabled account":
        async with engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(is_active=False))
    else:
        headers = {"Authorization": f"Basic {token}"}
    before = await activity_count(engine)
    response = await app.test_client().post(
        f"/api/customer360/{customer}/activity", json={"kind": "call", "summary": "x"}, headers=headers
    )
    assert response.status_code == 401
    assert (await response.get_json())["error"]["code"] == "unauthorized"
    if how != "wrong scheme":
        assert "API token is not valid" in (await response.get_json())["error"]["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await activity_count(engine) == before


async def test_a_bad_token_never_falls_back_to_the_session_cookie(app, staff, customer):
    client = app.test_client()
    assert (await sign_in(client, staff["advisor"])).status_code == 302
    response = await client.get(f"/api/customer360/{customer}/profile", headers=bearer("c360_nope"))
    assert response.status_code == 401


async def test_a_token_can_do_what_its_role_can_and_no_more(app, engine, staff, customer):
    token = await token_for(engine, staff["operations"], "reporting")
    client = app.test_client()
    read = await client.get(f"/api/customer360/{customer}/profile", headers=bearer(token))
    assert read.status_code == 200
    write = await client.post(
        f"/api/customer360/{customer}/activity", json={"kind": "call", "summary": "x"}, headers=bearer(token)
    )
    assert write.status_code == 403


async def test_tokens_open_the_json_api_only(app, engine, staff, customer):
    token = await token_for(engine, staff["admin"], "pos")
    response = await app.test_client().get(f"/customers/{customer}", headers=bearer(token))
    assert response.status_code == 401
    assert "JSON API" in await response.get_data(as_text=True)


async def test_token_names_are_unique_and_the_account_must_exist(engine, staff):
    await token_for(engine, staff["advisor"], "pos")
    async with engine.begin() as conn:
        with pytest.raises(UserError, match="already exists"):
            await create_token(conn, email=staff["admin"].email, name="pos")
        with pytest.raises(UserError, match="no user"):
            await create_token(conn, email="nobody@test.example", name="other")


# -- payments through the API ------------------------------------------------------------------------------


async def pay(client, token, customer, invoice, **body):
    return await client.post(
        f"/api/customer360/{customer}/invoices/{invoice}/payments", json=body, headers=bearer(token)
    )


async def test_a_payment_through_the_api_is_pushed_to_open_pages_with_the_invoice_and_kpis(
    app, engine, staff, customer, invoice
):
    token = await token_for(engine, staff["advisor"], "pos")
    reader = app.test_client()
    assert (await sign_in(reader, staff["operations"])).status_code == 302
    async with reader.websocket(f"/ws/customers/{customer}", headers=ORIGIN) as page:
        await asyncio.sleep(0.2)
        response = await pay(app.test_client(), token, customer, invoice, amount_cents=11_498, method="card")
        assert response.status_code == 201, await response.get_data(as_text=True)
        body = await response.get_json()
        assert body["status"] == "paid" and body["balance_cents"] == 0 and body["invoice_id"] == invoice
        message = await asyncio.wait_for(page.receive(), 5)
    assert f'content="{body["event_id"]}"' in message
    assert f'id="invoice-{invoice}"' in message and "Paid" in message
    assert 'id="analytics-tiles" hx-swap-oob="true"' in message


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"amount_cents": 20_000, "method": "card"}, 422, "amount_cents"),
        ({"amount_cents": 0, "method": "card"}, 400, "amount_cents"),
        ({"amount_cents": "100", "method": "card"}, 400, "amount_cents"),
        ({"amount_cents": True, "method": "card"}, 400, "amount_cents"),
        ({"amount_cents": 100, "method": "bitcoin"}, 400, "method"),
        ({"amount_cents": 100, "method": "card", "received_at": "2999-01-01T00:00:00Z"}, 400, "received_at"),
        ({"amount_cents": 100, "method": "card", "reference": "x" * 61}, 400, "reference"),
    ],
)
async def test_a_refused_payment_names_the_field_and_changes_nothing(
    app, engine, staff, customer, invoice, body, status, field
):
    token = await token_for(engine, staff["advisor"], "pos")
    response = await pay(app.test_client(), token, customer, invoice, **body)
    assert response.status_code == status
    assert f"{field}:" in (await response.get_json())["error"]["message"]
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(payments))).scalar_one() == 0
        paid = (await conn.execute(select(invoices.c.paid_cents).where(invoices.c.id == invoice))).scalar()
    assert paid == 0


async def test_a_payment_for_another_customers_invoice_is_a_404(app, engine, staff, invoice):
    async with engine.begin() as conn:
        other = await add_customer(conn, "John", "Smith")
    token = await token_for(engine, staff["advisor"], "pos")
    response = await pay(app.test_client(), token, other, invoice, amount_cents=100, method="cash")
    assert response.status_code == 404
    assert f"has no invoice #{invoice}" in (await response.get_json())["error"]["message"]
