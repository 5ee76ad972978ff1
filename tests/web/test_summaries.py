"""Timeline sentences are worded in the reader's language from the facts an entry keeps; people's own words
and entries without those facts are shown as stored."""

from __future__ import annotations

from datetime import date
from html import unescape
from types import SimpleNamespace

import pytest
from markupsafe import escape
from sqlalchemy import update

from app.tables import users
from app.web.summaries import summary
from tests.conftest import pay_through_form, sign_in
from tests.factories import add_customer, add_invoice

NBSP = str.maketrans({"\u00a0": " ", "\u202f": " "})

CASES = [
    (
        "invoice_issued",
        {"number": "INV-1", "work_order": "WO-9", "total_cents": 123_456, "due_on": "2026-12-27"},
        "Invoice INV-1 issued for WO-9: $1,234.56, due Dec 27, 2026",
        "Facture INV-1 émise pour WO-9 : 1 234,56 $, payable le 27 déc. 2026",
    ),
    (
        "invoice_issued",
        {"number": "INV-1", "total_cents": 5_000},
        "Invoice INV-1 issued: $50.00",
        "Facture INV-1 émise : 50,00 $",
    ),
    (
        "invoice_status",
        {"number": "INV-1", "from": "sent", "to": "overdue", "balance_cents": 2_000, "due_on": "2026-11-01"},
        "Invoice INV-1 is overdue: $20.00 was due on Nov 1, 2026",
        "Facture INV-1 en souffrance : 20,00 $ étaient dus le 1 nov. 2026",
    ),
    (
        "invoice_status",
        {"number": "INV-1", "from": "partially_paid", "to": "paid"},
        "Invoice INV-1 paid in full",
        "Facture INV-1 payée en entier",
    ),
    (
        "payment",
        {
            "invoice": "INV-1",
            "amount_cents": 2_000,
            "method": "card",
            "status": "partially_paid",
            "balance_cents": 500,
        },
        "Payment of $20.00 by credit card on INV-1: $5.00 still due",
        "Paiement de 20,00 $ par carte de crédit sur INV-1 : 5,00 $ restent dus",
    ),
    (
        "payment",
        {"invoice": "INV-1", "amount_cents": 2_000, "method": "debit"},
        "Payment of $20.00 by Interac debit on INV-1",
        "Paiement de 20,00 $ par débit Interac sur INV-1",
    ),
    (
        "work_order_status",
        {"number": "WO-9", "from": "open", "to": "in_progress"},
        "Work order WO-9: Open → In progress",
        "Bon de travail WO-9 : Ouvert → En cours",
    ),
    (
        "vehicle_added",
        {"vin": "X", "plate": "ABC 123", "year": 2019, "make": "Toyota", "model": "RAV4"},
        "Vehicle added: 2019 Toyota RAV4 (ABC 123)",
        "Véhicule ajouté : 2019 Toyota RAV4 (ABC 123)",
    ),
    (
        "consent_withdrawn",
        {"purpose": "marketing", "channel": "email", "source": "phone"},
        "Consent withdrawn: Marketing by email",
        "Consentement retiré : Marketing par courriel",
    ),
    (
        "email",
        {"category": "transactional", "status": "failed", "subject": "Facture", "attempts": 3},
        "Email failed after 3 attempts: Facture",
        "Échec du courriel après 3 tentatives : Facture",
    ),
    (
        "profile_updated",
        {"fields": ["phone", "postal_code"]},
        "Profile updated: phone, postal code",
        "Dossier mis à jour : téléphone, code postal",
    ),
]


def entry(
    kind: str, details: dict | None, stored: str = "as stored", language: str = "fr"
) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, details=details, summary=stored, language=language)


@pytest.mark.parametrize(("kind", "details", "english", "french"), CASES)
async def test_system_entries_are_worded_in_the_readers_language(app, kind, details, english, french):
    for language, expected in (("en", english), ("fr", french)):
        async with app.test_request_context("/", headers={"Accept-Language": language}):
            assert summary(entry(kind, details, language=language)).translate(NBSP) == expected


@pytest.mark.parametrize(
    ("kind", "details"),
    [
        ("note", {"text": "a long note"}),  # people's words
        ("call", {"direction": "in", "duration_s": 60}),
        ("invoice_issued", {"number": "INV-1"}),  # an entry that did not keep its amount
        ("payment", {"invoice": "INV-1", "amount_cents": 100, "method": "barter"}),
        ("email", None),
    ],
)
async def test_entries_without_the_facts_are_shown_as_stored(app, kind, details):
    async with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert summary(entry(kind, details, "Texte d'origine")) == escape("Texte d'origine")


async def test_the_customers_own_words_are_marked_with_their_language_and_escaped(app):
    details = {"category": "transactional", "status": "sent", "subject": "Votre facture <INV-1>"}
    async with app.test_request_context("/", headers={"Accept-Language": "en"}):
        sentence = summary(entry("email", details, language="fr"))
        assert sentence == 'Email sent: <span lang="fr">Votre facture &lt;INV-1&gt;</span>'
        assert summary(entry("note", None, "Client <b>pressé</b>", language="fr")) == (
            '<span lang="fr">Client &lt;b&gt;pressé&lt;/b&gt;</span>'
        )
        assert summary(entry("note", None, "In a hurry", language="en")) == "In a hurry"


async def test_erased_entries_say_so_in_the_readers_language(app):
    async with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert summary(entry("note", {"erased": True})) == "Effacé à la demande du client"


async def test_a_payment_taken_in_english_reads_in_french_in_a_french_advisors_timeline(app, engine, staff):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
        invoice = await add_invoice(conn, customer, number="INV-2026-000001", issued_on=date(2026, 11, 2))
        await conn.execute(update(users).where(users.c.id == staff["admin"].id).values(language="fr"))
    english = app.test_client()
    await sign_in(english, staff["advisor"])
    recorded = await pay_through_form(english, customer, invoice, "20.00")
    assert recorded.status_code == 200
    timeline = await (await english.get(f"/customers/{customer}/sections/activity")).get_data(as_text=True)
    assert "Payment of $20.00 in cash on INV-2026-000001" in unescape(timeline)

    french = app.test_client()
    await sign_in(french, staff["admin"])
    timeline = await (await french.get(f"/customers/{customer}/sections/activity")).get_data(as_text=True)
    assert "Paiement de 20,00 $ en espèces sur INV-2026-000001" in unescape(timeline).translate(NBSP)
    stream = await (await french.get("/operations")).get_data(as_text=True)
    assert "Paiement de 20,00 $ en espèces sur INV-2026-000001" in unescape(stream).translate(NBSP)
