"""The JSON API: the loaders of the partials, at /openapi.json, errors as {error: {code, message}}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.activity import record_activity
from app.tables import emails
from tests.conftest import csrf_token_of
from tests.factories import NOW, add_customer, add_vehicle


@pytest.fixture
async def customer(engine):
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca", tags=["VIP"])
        await add_vehicle(conn, customer_id, vin="2T3W1RFV8KC012345", plate="ABC 123")
        for index in range(30):
            await record_activity(
                conn,
                customer_id=customer_id,
                kind="call",
                summary=f"call {index}",
                occurred_at=NOW + timedelta(hours=index),
            )
    return customer_id


async def test_profile_is_the_same_data_as_the_section(signed_in, customer):
    client = await signed_in("operations")
    response = await client.get(f"/api/customer360/{customer}/profile")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["profile"]["first_name"] == "Marie"
    assert body["profile"]["tags"] == ["VIP"]
    assert [contact["value"] for contact in body["contacts"]] == ["marie@example.ca"]
    html = await (await client.get(f"/customers/{customer}/sections/profile")).get_data(as_text=True)
    assert body["profile"]["first_name"] in html and body["contacts"][0]["value"] in html


async def test_activity_pages_with_the_cursor_it_returns(signed_in, customer):
    client = await signed_in("advisor")
    first = await (await client.get(f"/api/customer360/{customer}/activity")).get_json()
    assert [entry["summary"] for entry in first["entries"]] == [f"call {index}" for index in range(29, 4, -1)]
    second = await (
        await client.get(
            f"/api/customer360/{customer}/activity", query_string={"cursor": first["next_cursor"]}
        )
    ).get_json()
    assert [entry["summary"] for entry in second["entries"]] == [
        f"call {index}" for index in range(4, -1, -1)
    ]
    assert second["next_cursor"] is None


async def test_any_section_by_name(signed_in, customer):
    client = await signed_in("advisor")
    body = await (await client.get(f"/api/customer360/{customer}/sections/vehicles")).get_json()
    assert body["section"] == "vehicles"
    assert body["data"][0]["plate"] == "ABC 123"


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/customer360/{id}/activity?kind=gossip", 400, "kind:"),
        ("/api/customer360/{id}/activity?cursor=%%%", 400, "cursor:"),
        ("/api/customer360/{id}/sections/secrets", 404, "There is no section 'secrets'"),
        ("/api/customer360/999999/profile", 404, "There is no customer #999999"),
    ],
)
async def test_errors_are_json_with_code_and_message(signed_in, customer, url, status, message):
    client = await signed_in("advisor")
    response = await client.get(url.format(id=customer))
    assert response.status_code == status
    error = (await response.get_json())["error"]
    assert error["code"] == {400: "bad_request", 404: "not_found"}[status]
    assert message in error["message"]


async def test_the_api_needs_a_session(client, customer):
    response = await client.get(f"/api/customer360/{customer}/profile")
    assert response.status_code == 401
    assert (await response.get_json())["error"] == {"code": "unauthorized", "message": "Sign in to continue."}


async def test_openapi_documents_every_endpoint(signed_in):
    client = await signed_in("advisor")
    document = await (await client.get("/openapi.json")).get_json()
    paths = document["paths"]
    for path in ("/profile", "/sections/{section}", "/activity"):
        assert f"/api/customer360/{{customer_id}}{path}" in paths


async def test_every_read_endpoint_answers_for_a_customer_with_nothing_yet(signed_in, customer):
    client = await signed_in("operations")
    for path in ("documents", "analytics", "revenue-chart?months=24", "consents"):
        response = await client.get(f"/api/customer360/{customer}/{path}")
        assert response.status_code == 200, path
    chart = await (await client.get(f"/api/customer360/{customer}/revenue-chart?months=24")).get_json()
    assert len(chart["points"]) == 24
    analytics = await (await client.get(f"/api/customer360/{customer}/analytics")).get_json()
    assert analytics["lifetime_revenue_cents"] == 0


async def send(client, customer_id, **body):
    token = await csrf_token_of(client)
    return await client.post(
        f"/api/customer360/{customer_id}/send-email", json=body, headers={"X-CSRF-Token": token}
    )


async def test_send_email_queues_a_transactional_email(signed_in, customer, engine):
    client = await signed_in("advisor")
    response = await send(
        client, customer, category="transactional", subject="Your car is ready", body="Come by."
    )
    assert response.status_code == 202
    body = await response.get_json()
    assert body["recipient"] == "marie@example.ca" and body["status"] == "queued"
    async with engine.connect() as conn:
        assert (await conn.execute(select(emails.c.subject))).scalar() == "Your car is ready"


async def test_send_email_without_consent_is_refused_and_writes_nothing(signed_in, customer, engine):
    client = await signed_in("advisor")
    response = await send(client, customer, category="marketing", subject="Winter tires", body="20 % off")
    assert response.status_code == 422
    error = (await response.get_json())["error"]
    assert error["reason"] == "consent_missing"
    assert "has not consented to marketing by email" in error["message"]
    async with engine.connect() as conn:
        assert (await conn.execute(select(emails.c.id))).first() is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"category": "spam", "subject": "x", "body": "y"}, "category"), ({"category": "marketing"}, "subject")],
)
async def test_send_email_with_a_malformed_body_is_a_400_naming_the_field(signed_in, customer, body, field):
    client = await signed_in("advisor")
    response = await send(client, customer, **body)
    assert response.status_code == 400
    assert field in (await response.get_json())["error"]["message"]


async def test_send_email_needs_the_csrf_token_and_an_advisor(signed_in, customer):
    client = await signed_in("advisor")
    no_token = await client.post(
        f"/api/customer360/{customer}/send-email",
        json={"category": "transactional", "subject": "a", "body": "b"},
    )
    assert no_token.status_code == 403
    operations = await signed_in("operations")
    response = await send(operations, customer, category="transactional", subject="a", body="b")
    assert response.status_code == 403


async def test_invoices_carry_the_same_balances_as_the_section(signed_in, customer, engine):
    from tests.factories import add_work_order_and_invoice

    async with engine.begin() as conn:
        vehicle = await add_vehicle(conn, customer, vin="1HGCM82633A004352", plate="XYZ 789")
        await add_work_order_and_invoice(conn, customer, vehicle, number=99, subtotal_cents=20_000)
    client = await signed_in("advisor")
    body = await (await client.get(f"/api/customer360/{customer}/invoices")).get_json()
    invoice = body["invoices"][0]
    assert invoice["number"] == "INV-2026-000099"
    assert invoice["total_cents"] == 20_000 + 1_000 + 1_995
    html = await (await client.get(f"/customers/{customer}/sections/invoices")).get_data(as_text=True)
    assert "INV-2026-000099" in html and "229.95" in html
    bad = await client.get(f"/api/customer360/{customer}/invoices?status=lost")
    assert bad.status_code == 400 and "status" in (await bad.get_json())["error"]["message"]


async def report(client, customer_id, **body):
    token = await csrf_token_of(client)
    return await client.post(
        f"/api/customer360/{customer_id}/activity", json=body, headers={"X-CSRF-Token": token}
    )


async def test_another_module_reports_activity_into_the_timeline(signed_in, customer):
    client = await signed_in("advisor")
    response = await report(
        client, customer, kind="visit", summary="Dropped off for inspection", actor_label="ChronoTech POS"
    )
    assert response.status_code == 201
    recorded = await response.get_json()
    timeline = await (await client.get(f"/api/customer360/{customer}/activity")).get_json()
    first = timeline["entries"][0]
    assert first["id"] == recorded["id"]
    assert first["summary"] == "Dropped off for inspection"
    assert first["actor"] is None and first["actor_label"] == "ChronoTech POS"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "payment", "summary": "x"}, "kind"),  # money moves through the invoice routes, not reports
        ({"kind": "note", "summary": ""}, "summary"),
        ({"kind": "note", "summary": "x", "occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),  # no zone
        ({"kind": "note", "summary": "x", "occurred_at": "2999-01-01T10:00:00Z"}, "occurred_at"),
    ],
)
async def test_a_bad_report_is_a_400_naming_the_field_and_writes_nothing(signed_in, customer, body, field):
    client = await signed_in("advisor")
    before = await (await client.get(f"/api/customer360/{customer}/activity")).get_json()
    response = await report(client, customer, **body)
    assert response.status_code == 400
    assert field in (await response.get_json())["error"]["message"]
    after = await (await client.get(f"/api/customer360/{customer}/activity")).get_json()
    assert after == before
