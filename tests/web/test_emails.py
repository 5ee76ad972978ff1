"""The communications section: the customer's emails, and sending one from the page."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.consents import change_consent
from app.emails import send_email
from app.tables import customer_activities, emails
from tests.conftest import csrf_token_of
from tests.factories import NOW, add_customer
from tests.test_mailer import SmtpSink


@pytest.fixture
async def marie(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


async def section(client, customer_id, **query) -> str:
    response = await client.get(
        f"/customers/{customer_id}/sections/communications",
        query_string=query,
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return await response.get_data(as_text=True)


async def post_email(client, customer_id, *, csrf=True, **fields):
    form = {
        "category": "transactional",
        "subject": "Votre véhicule est prêt",
        "body": "Bonjour Marie",
        **fields,
    }
    headers = {"HX-Request": "true"}
    if csrf:
        headers["X-CSRF-Token"] = await csrf_token_of(client)
    return await client.post(f"/customers/{customer_id}/emails", form=form, headers=headers)


async def grant(engine, customer_id, purpose="marketing"):
    async with engine.begin() as conn:
        await change_consent(conn, customer_id, purpose=purpose, channel="email", action="granted")


async def outbox(engine) -> list:
    async with engine.connect() as conn:
        return list(await conn.execute(select(emails).order_by(emails.c.id)))


async def email_activities(engine) -> int:
    async with engine.connect() as conn:
        statement = select(func.count()).where(customer_activities.c.kind == "email")
        return (await conn.execute(statement)).scalar_one()


async def test_without_a_mail_server_the_section_says_emails_stay_in_the_outbox(signed_in, marie):
    client = await signed_in("advisor")
    html = await section(client, marie)
    assert "No mail server is configured (SMTP_URL)" in html
    assert "To <strong>marie@example.ca</strong>" in html
    assert "Marketing — no consent to marketing by email" in html
    assert "No email to this customer yet." in html


async def test_an_advisor_sends_an_email_kept_in_the_outbox(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_email(client, marie)
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "kept in the outbox: no mail server is configured (SMTP_URL)" in html
    [row] = await outbox(engine)
    assert (row.status, row.attempts, row.recipient, row.language) == ("queued", 0, "marie@example.ca", "fr")
    assert f'id="email-{row.id}"' in html and ">Queued</span>" in html
    assert await email_activities(engine) == 1


async def test_marketing_without_consent_is_refused_and_nothing_is_queued(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_email(client, marie, category="marketing", subject="Promo pneus", body="-20 %")
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "Not sent: Marie Tremblay has not consented to marketing by email" in html
    # The advisor's text is kept, to send once the customer agrees.
    assert 'value="Promo pneus"' in html and "-20 %</textarea>" in html
    assert await outbox(engine) == [] and await email_activities(engine) == 0


async def test_marketing_is_sent_once_consent_is_granted_and_refused_after_withdrawal(
    signed_in, engine, marie
):
    client = await signed_in("advisor")
    await grant(engine, marie)
    assert (await post_email(client, marie, category="marketing")).status_code == 200
    async with engine.begin() as conn:
        await change_consent(conn, marie, purpose="marketing", channel="email", action="withdrawn")
    assert (await post_email(client, marie, category="marketing")).status_code == 422
    assert len(await outbox(engine)) == 1


async def test_a_customer_without_an_email_address_is_refused_with_a_message(signed_in, engine):
    async with engine.begin() as conn:
        nobody = await add_customer(conn, "Jean", "Sansadresse", phone="514 555 0101")
    client = await signed_in("advisor")
    assert "has no primary email address" in await section(client, nobody)
    response = await post_email(client, nobody)
    assert response.status_code == 422
    assert "Jean Sansadresse has no primary email address" in await response.get_data(as_text=True)
    assert await outbox(engine) == []


async def test_an_empty_subject_is_a_field_error(signed_in, engine, marie):
    client = await signed_in("advisor")
    response = await post_email(client, marie, subject=" ")
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert '<p class="field-error" id="email-subject-error">Give the email a subject.</p>' in html
    assert await outbox(engine) == []


async def test_a_post_without_the_csrf_token_is_refused(signed_in, engine, marie):
    client = await signed_in("advisor")
    assert (await post_email(client, marie, csrf=False)).status_code == 403
    assert await outbox(engine) == []


async def test_operations_staff_see_the_emails_but_cannot_send(signed_in, engine, marie):
    client = await signed_in("operations")
    html = await section(client, marie)
    assert "email-form" not in html
    assert (await post_email(client, marie)).status_code == 403
    assert await outbox(engine) == []


async def test_an_unknown_customer_is_a_404(signed_in, engine, marie):
    client = await signed_in("advisor")
    assert (await post_email(client, marie + 1000)).status_code == 404
    assert await outbox(engine) == []


async def queue(engine, customer_id, subject="Facture", now=NOW) -> int:
    async with engine.begin() as conn:
        queued = await send_email(
            conn,
            customer_id,
            category="transactional",
            subject=subject,
            body="Bonjour,\nVoici votre facture.",
            actor_id=None,
            now=now,
        )
    return queued.email_id


async def test_an_email_is_shown_in_full(signed_in, engine, marie):
    email_id = await queue(engine, marie)
    client = await signed_in("operations")
    response = await client.get(f"/customers/{marie}/emails/{email_id}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "Bonjour,\nVoici votre facture." in html and "marie@example.ca" in html
    page = await (await client.get(f"/customers/{marie}/emails/{email_id}")).get_data(as_text=True)
    assert "<html" in page and "<h1>Facture</h1>" in page  # a link opened without htmx: a whole page


async def test_another_customers_email_is_a_404_and_is_left_alone(signed_in, engine, marie):
    async with engine.begin() as conn:
        john = await add_customer(conn, "John", "Smith", email="john@smith.example")
    email_id = await queue(engine, john)
    async with engine.begin() as conn:
        await conn.execute(update(emails).where(emails.c.id == email_id).values(status="failed"))
    client = await signed_in("advisor")
    assert (await client.get(f"/customers/{marie}/emails/{email_id}")).status_code == 404
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{marie}/emails/{email_id}/retry", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert response.status_code == 404
    assert [row.status for row in await outbox(engine)] == ["failed"]


async def test_a_failed_email_is_sent_again_from_the_page(signed_in, engine, marie):
    email_id = await queue(engine, marie)
    async with engine.begin() as conn:
        await conn.execute(
            update(emails)
            .where(emails.c.id == email_id)
            .values(status="failed", attempts=5, last_error="Could not connect to the mail server")
        )
    client = await signed_in("advisor")
    html = await section(client, marie)
    assert ">Failed</span>" in html and "Could not connect to the mail server" in html
    assert 'aria-label="Send again: Facture"' in html
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{marie}/emails/{email_id}/retry", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert response.status_code == 200
    [row] = await outbox(engine)
    assert (row.status, row.attempts, row.last_error) == ("queued", 0, None)


async def test_older_emails_load_a_page_at_a_time(signed_in, engine, marie):
    for index in range(23):
        await queue(engine, marie, subject=f"Message {index:02d}", now=NOW + timedelta(minutes=index))
    client = await signed_in("advisor")
    html = await section(client, marie)
    first = re.findall(r"<summary lang=\"fr\">(Message \d+)</summary>", html)
    assert first == [f"Message {index:02d}" for index in range(22, 2, -1)]
    more = re.search(r'hx-get="(/customers/\d+/emails\?cursor=[^"]+)"', html).group(1)
    response = await client.get(more, headers={"HX-Request": "true"})
    rest = re.findall(r"<summary lang=\"fr\">(Message \d+)</summary>", await response.get_data(as_text=True))
    assert rest == ["Message 02", "Message 01", "Message 00"]


async def test_a_forged_cursor_is_a_400_naming_it(signed_in, marie):
    client = await signed_in("advisor")
    for url in (
        f"/customers/{marie}/emails?cursor=bogus",
        f"/customers/{marie}/sections/communications?cursor=bogus",
    ):
        response = await client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert (await response.get_json())["error"]["message"].startswith("cursor:")


class TestWithAMailServer:
    @pytest.fixture
    def smtp(self):
        with SmtpSink() as sink:
            yield sink

    @pytest.fixture
    def settings(self, settings, smtp):
        return replace(settings, smtp_url=smtp.url)

    async def test_a_sent_email_is_queued_then_delivered(self, signed_in, engine, marie, smtp):
        client = await signed_in("advisor")
        assert "No mail server is configured" not in await section(client, marie)
        response = await post_email(client, marie, subject="Rendez-vous confirmé")
        assert response.status_code == 200
        assert "queued — will be sent shortly" in await response.get_data(as_text=True)
        for _ in range(200):  # the worker is woken at once; wait for it, up to 10 s
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        [(_, recipients, message)] = smtp.messages
        assert recipients == ["marie@example.ca"] and message["Subject"] == "Rendez-vous confirmé"
        for _ in range(200):
            if (await outbox(engine))[0].status == "sent":
                break
            await asyncio.sleep(0.05)
        assert ">Sent</span>" in await section(client, marie)
