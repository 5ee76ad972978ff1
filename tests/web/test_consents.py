"""The consents section: the matrix an advisor reads, and granting or withdrawing from the page."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.tables import consent_events, consents, customer_activities
from tests.conftest import csrf_token_of
from tests.factories import add_customer


@pytest.fixture
async def marie(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


async def section(client, customer_id) -> str:
    response = await client.get(f"/customers/{customer_id}/sections/consents", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return await response.get_data(as_text=True)


async def post_change(client, customer_id, *, csrf=True, **fields):
    form = {"purpose": "marketing", "channel": "email", "action": "granted", "source": "in_person", **fields}
    headers = {"HX-Request": "true"}
    if csrf:
        headers["X-CSRF-Token"] = await csrf_token_of(client)
    return await client.post(f"/customers/{customer_id}/consents", form=form, headers=headers)


async def counts(engine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        return tuple(
            [
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (consents, consent_events, customer_activities)
            ]
        )


def cell(html: str, purpose: str, channel: str) -> str:
    match = re.search(rf'<td id="consent-{purpose}-{channel}".*?</td>', html, re.S)
    assert match, f"no cell for {purpose} by {channel}"
    return match.group(0)


async def test_the_matrix_shows_every_purpose_by_channel_not_asked_at_first(signed_in, marie):
    client = await signed_in("advisor")
    html = await section(client, marie)
    for purpose in ("Service reminders", "Marketing", "Satisfaction surveys", "Sharing with partners"):
        assert f'<th scope="row">{purpose}</th>' in html
    assert html.count(">Not asked</span>") == 12
    assert "No consent has been asked yet." in html
    # The wording to read out, in the customer's language (French here).
    assert "J'accepte de recevoir par courriel les offres et promotions de ChronoTech" in unescape(html)


async def test_an_advisor_grants_a_consent_and_sees_it_with_its_history(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_change(client, marie, source="phone", note="Asked during the call")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "Marketing by email: granted." in html
    granted = cell(html, "marketing", "email")
    assert ">Granted</span>" in granted and "Consent · wording 2024-06" in granted and "by phone" in granted
    assert ">Not asked</span>" in cell(html, "marketing", "sms")
    history = html[html.index('id="consent-history"') :]
    assert "Marketing · Email" in history and "Asked during the call" in history and "Test Advisor" in history
    # The send form of the communications section depends on consents: it is asked to reload.
    assert "refresh-communications" in json.loads(response.headers["HX-Trigger"])
    assert await counts(engine) == (1, 1, 1)


async def test_granting_twice_is_refused_with_a_clear_message(signed_in, engine, marie):
    client = await signed_in("advisor")
    assert (await post_change(client, marie)).status_code == 200
    response = await post_change(client, marie)
    assert response.status_code == 422
    assert "Marketing by email is already granted" in await response.get_data(as_text=True)
    assert await counts(engine) == (1, 1, 1)


async def test_withdrawing_a_consent_never_given_is_refused(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_change(client, marie, action="withdrawn")
    assert response.status_code == 422
    assert "is not granted (was never given)" in await response.get_data(as_text=True)
    assert await counts(engine) == (0, 0, 0)


async def test_withdrawal_is_appended_after_the_grant(signed_in, engine, marie):
    client = await signed_in("advisor")
    await post_change(client, marie)
    response = await post_change(client, marie, action="withdrawn", source="email")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert ">Withdrawn</span>" in cell(html, "marketing", "email")
    rows = re.findall(r'<tr id="consent-event-(\d+)">.*?status-(\w+)', html, re.S)
    assert [action for _, action in rows] == ["withdrawn", "granted"]
    assert await counts(engine) == (1, 2, 2)


async def test_marketing_on_a_contract_basis_is_a_field_error(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_change(client, marie, legal_basis="contract")
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    errors = re.findall(r'<p class="field-error" id="consent-marketing-email-basis-error">([^<]+)</p>', html)
    assert errors == ["Marketing can only rest on consent."]
    assert '<details class="consent-change" open>' in cell(html, "marketing", "email")
    assert await counts(engine) == (0, 0, 0)


async def test_a_forged_purpose_is_refused_with_a_message(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_change(client, marie, purpose="selling_to_spammers")
    assert response.status_code == 422
    assert "Choose a purpose among" in await response.get_data(as_text=True)
    assert await counts(engine) == (0, 0, 0)


async def test_a_post_without_the_csrf_token_is_refused(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_change(client, marie, csrf=False)
    assert response.status_code == 403
    assert await counts(engine) == (0, 0, 0)


async def test_operations_staff_read_consents_but_cannot_change_them(signed_in, engine, marie):
    client = await signed_in("operations")
    html = await section(client, marie)
    assert ">Not asked</span>" in html and "consent-change" not in html
    assert (await post_change(client, marie)).status_code == 403
    assert await counts(engine) == (0, 0, 0)


async def test_an_unknown_customer_is_a_404(signed_in, engine, marie):
    client = await signed_in("advisor")
    assert (await post_change(client, marie + 1000)).status_code == 404
    assert await counts(engine) == (0, 0, 0)


async def test_a_change_without_htmx_returns_to_the_customer_page(signed_in, engine, marie):
    client = await signed_in("advisor")
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{marie}/consents",
        form={"purpose": "satisfaction_surveys", "channel": "sms", "action": "granted", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/customers/{marie}#section-consents"
    assert await counts(engine) == (1, 1, 1)
