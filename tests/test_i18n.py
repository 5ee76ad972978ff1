"""French and English: every string of the code and the templates is in the French catalogue, translated,
with the same placeholders; pages render in the user's language with its number, money and date formats."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import select, update
from werkzeug.exceptions import default_exceptions

from app.analytics import Analytics, MonthRevenue
from app.i18n import CATALOGUES, LOCALES
from app.sections import SECTIONS
from app.tables import users
from app.web.errors import DEFAULT_DESCRIPTIONS, ERROR_CODES, ERROR_NAMES
from tests.conftest import PASSWORD, csrf_token_of, sign_in
from tests.factories import add_customer, add_invoice

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("app/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_say": None, "_say_plural": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> set[str]:
    """Every msgid the sources hold (the singular of plurals)."""
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHOD_MAP, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.fixture(scope="module")
def french():
    with (CATALOGUES / "fr.po").open("rb") as source:
        return read_po(source, locale=LOCALES["fr"])


def test_every_string_of_the_code_and_templates_is_translated_into_french(french):
    missing = []
    for msgid in sorted(extracted()):
        entry = french.get(msgid)
        strings = (
            [] if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(msgid)
    assert missing == [], f"{len(missing)} strings without a French translation (run `make messages`)"


def test_translations_keep_the_placeholders_of_their_source(french):
    wrong = []
    for entry in french:
        if not entry.id:
            continue
        sources = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        targets = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(sources[-1])) | set(PLACEHOLDER.findall(sources[0]))
        for target in targets:
            if target and not set(PLACEHOLDER.findall(target)) <= wanted:
                wrong.append((entry.id, target))
            if (
                target
                and "%(num)" not in sources[0]
                and set(PLACEHOLDER.findall(target)) != set(PLACEHOLDER.findall(sources[0]))
            ):
                wrong.append((entry.id, target))
    assert wrong == []


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
async def customer(engine) -> int:
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")
        await add_invoice(
            conn, customer_id, number="INV-2026-000001", issued_on=date(2026, 11, 2), subtotal_cents=123_456
        )
    return customer_id


async def test_a_french_speaking_advisor_sees_every_section_in_french(app, engine, staff, customer, french):
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(language="fr"))
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    pages = [await (await client.get(f"/customers/{customer}")).get_data(as_text=True)]
    for name in SECTIONS:
        response = await client.get(f"/customers/{customer}/sections/{name}")
        assert response.status_code == 200, name
        pages.append(await response.get_data(as_text=True))
    assert '<html lang="fr">' in pages[0]
    text = " ".join(visible_text(page) for page in pages)
    # No English sentence of the catalogue is left (those the same in both languages aside).
    english = [
        entry.id
        for entry in french
        if isinstance(entry.id, str)
        and entry.string
        and entry.string != entry.id
        and len(entry.id.split()) >= 3
        and "%(" not in entry.id
        and entry.id in text
    ]
    assert english == []
    assert "1 419,44 $" in text.replace("\u202f", " ").replace("\u00a0", " ")  # 1,234.56 + GST + QST


async def test_the_language_is_chosen_at_sign_in_and_switchable(app, engine, staff):
    client = app.test_client()
    token = await csrf_token_of(client)
    form = {"email": staff["advisor"].email, "password": PASSWORD, "csrf_token": token, "language": "fr"}
    assert (await client.post("/login", form=form)).status_code == 302
    page = await (await client.get("/customers")).get_data(as_text=True)
    assert '<html lang="fr">' in page
    token = await csrf_token_of(client)
    switched = await client.post(
        "/language", form={"language": "en", "csrf_token": token, "next": "/customers"}
    )
    assert switched.status_code == 302 and switched.headers["Location"] == "/customers"
    assert '<html lang="en">' in await (await client.get("/customers")).get_data(as_text=True)
    async with engine.connect() as conn:
        language = (
            await conn.execute(select(users.c.language).where(users.c.id == staff["advisor"].id))
        ).scalar()
    assert language == "en"  # the account's: every page, every device
    bad = await client.post("/language", form={"language": "de", "csrf_token": token})
    assert bad.status_code == 400


async def test_refusals_speak_the_users_language(app, engine, staff, customer):
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(language="fr"))
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{customer}/notes",
        form={"text": " ", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "Écrivez d'abord quelque chose" in unescape(await response.get_data(as_text=True))


NBSP = str.maketrans({"\u00a0": " ", "\u202f": " "})


async def test_messages_written_in_python_speak_the_users_language(app, engine, staff, customer):
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(language="fr"))
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    htmx = {"HX-Request": "true", "X-CSRF-Token": await csrf_token_of(client)}

    async def text(response) -> str:
        return unescape(await response.get_data(as_text=True)).translate(NBSP)

    # A consent refusal names the consent in French.
    refused = await client.post(
        f"/customers/{customer}/consents",
        form={"purpose": "marketing", "channel": "email", "action": "withdrawn", "source": "in_person"},
        headers=htmx,
    )
    assert refused.status_code == 422
    assert (
        "Le consentement « Marketing par courriel » n'est pas accordé (il n'a jamais été donné)"
        in await text(refused)
    )

    # An email the customer's consents do not allow.
    email = await client.post(
        f"/customers/{customer}/emails",
        form={"category": "marketing", "subject": "Promo", "body": "Bonjour"},
        headers=htmx,
    )
    assert email.status_code == 422
    assert (
        "Non envoyé : Marie Tremblay n'a donné aucun consentement pour marketing par courriel, "
        "ce qu'exige un courriel de type « marketing »."
    ) in await text(email)

    # A bad parameter: named as sent, the problem in French, on a page titled in French and in the JSON API.
    short = await client.get("/customers?q=x")
    assert short.status_code == 400
    page = await text(short)
    assert "<h1>Requête invalide" in page and "q: tapez au moins 2 caractères pour chercher" in page
    forged = await client.get(f"/api/customer360/{customer}/invoices?cursor=forged")
    assert forged.status_code == 400
    assert (await forged.get_json())["error"]["message"] == "cursor: n'est pas un curseur créé par ce serveur"


async def test_time_and_months_are_worded_in_the_readers_language(app):
    march = MonthRevenue(month=date(2026, 3, 1), revenue_cents=0, invoice_count=0)
    blank = {field.name: None for field in fields(Analytics)}
    visits = [Analytics(**{**blank, "days_since_last_visit": days}) for days in (0, 12, 200, 800)]
    async with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert (march.short_label, march.label, march.long_label) == ("mars", "mars 2026", "mars 2026")
        assert [figures.time_since_last_visit for figures in visits] == [
            "aujourd'hui",
            "il y a 12 jours",
            "il y a environ 7 mois",
            "il y a plus de 2 ans",
        ]
    async with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert (march.short_label, march.label, march.long_label) == ("Mar", "Mar 2026", "March 2026")
        assert visits[1].time_since_last_visit == "12 days ago"


def test_werkzeugs_own_error_texts_are_in_the_catalogue_as_werkzeug_writes_them():
    # An error raised without a message of its own shows Werkzeug's text: marked in app/web/errors.py, which
    # must follow the installed Werkzeug word for word.
    for status in ERROR_CODES:
        error = default_exceptions[status]()
        assert error.name in ERROR_NAMES, status
        if status not in (404, 500):  # those two always get the app's own message
            assert error.description in DEFAULT_DESCRIPTIONS, status
