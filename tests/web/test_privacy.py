"""Privacy rights: an admin exports every row held about a seeded customer (JSON and CSV in one archive) and
erases a customer by anonymisation, after which no personal field of theirs remains in the database or on
disk; each request recorded and audited."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import pytest
from sqlalchemy import func, select

from app.privacy import EXPORTED, is_suppressed
from app.seed import seed
from app.tables import audit_log, customers, documents, invoices, metadata, privacy_requests
from tests.conftest import csrf_token_of, sign_in
from tests.factories import add_customer
from tests.web.test_documents import PDF, upload

TODAY = date(2026, 11, 27)


async def post(client, path: str, **form):
    return await client.post(path, form={**form, "csrf_token": await csrf_token_of(client)})


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_an_export_holds_every_row_about_a_seeded_customer_in_json_and_csv(app, engine, staff):
    await seed(engine, customers=4, seed=11, today=TODAY)
    customer_id = 2
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    response = await post(admin, f"/customers/{customer_id}/privacy/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith(
        f'attachment; filename="customer-{customer_id}-'
    )
    files = unzip(await response.get_data())
    document = json.loads(files["customer.json"])
    async with engine.connect() as conn:
        for name, table in EXPORTED:
            column = table.c.id if name == "profile" else table.c.customer_id
            held = (
                await conn.execute(select(func.count()).select_from(table).where(column == customer_id))
            ).scalar_one()
            assert len(document[name]) == held, name
            rows = list(csv.reader(io.StringIO(files[f"csv/{name}.csv"].decode())))
            assert len(rows) == held + 1, name  # and a header
        assert held > 0 or name != "activity"
    assert document["profile"][0]["id"] == customer_id
    assert document["privacy_requests"][0]["kind"] == "export"  # this very request, recorded
    assert len(document["activity"]) > 10 and document["invoices"] and document["consent_history"]
    async with engine.connect() as conn:
        actions = (await conn.execute(select(audit_log.c.action))).scalars().all()
    assert "privacy.export" in actions


@pytest.fixture
async def marie(app, engine, staff, tmp_path):
    """A customer with something of everything, written the way the app writes it, with a document file."""
    async with engine.begin() as conn:
        customer_id = await add_customer(
            conn,
            "Marie-Ève",
            "Quintal-Bérubé",
            company="Boulangerie Quintal",
            email="marie.quintal@example.ca",
            phone="+1 514 555 0199",
        )
    advisor = app.test_client()
    await sign_in(advisor, staff["advisor"])
    token = await csrf_token_of(advisor)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    note = await advisor.post(
        f"/customers/{customer_id}/notes", form={"text": "Allergic to dogs, keep Rex away"}, headers=headers
    )
    assert note.status_code == 200
    consent = await advisor.post(
        f"/customers/{customer_id}/consents",
        form={"purpose": "marketing", "channel": "email", "action": "granted", "source": "in_person"},
        headers=headers,
    )
    assert consent.status_code == 200, await consent.get_data(as_text=True)
    sent = await advisor.post(
        f"/customers/{customer_id}/emails",
        form={"category": "marketing", "subject": "Spring tires for Marie-Ève", "body": "Dear Marie-Ève, …"},
        headers=headers,
    )
    assert sent.status_code == 200, await sent.get_data(as_text=True)
    uploaded = await upload(advisor, customer_id, ("quintal-licence.pdf", PDF))
    assert uploaded.status_code == 200, await uploaded.get_data(as_text=True)
    async with engine.begin() as conn:
        await conn.execute(
            invoices.insert().values(
                number="INV-2026-000099",
                customer_id=customer_id,
                status="paid",
                issued_on=TODAY,
                due_on=TODAY,
                subtotal_cents=10_000,
                gst_cents=500,
                qst_cents=998,
                total_cents=11_498,
                paid_cents=11_498,
                created_at=func.now(),
                updated_at=func.now(),
            )
        )
    return customer_id


PERSONAL = (
    "Marie-Ève",
    "Quintal",
    "Bérubé",
    "Boulangerie",
    "marie.quintal@example.ca",
    "5145550199",
    "555 0199",
    "123 rue Principale",
    "H2X 1Y4",
    "Rex",
    "Spring tires",
    "quintal-licence",
)


async def everything_stored(engine, *, besides: tuple[str, ...] = ()) -> str:
    """Every value of every row of every table (but those named), as text."""
    async with engine.connect() as conn:
        dump = []
        for table in metadata.sorted_tables:
            if table.name in besides:
                continue
            rows = (await conn.execute(select(table))).all()
            dump += [repr(tuple(row)) for row in rows]
    return "\n".join(dump)


async def test_erasure_leaves_no_personal_field_in_the_database_or_on_disk(
    app, engine, staff, settings, marie
):
    stored_before = (await everything_stored(engine)).lower()
    assert all(value.lower() in stored_before for value in PERSONAL if value != "555 0199")
    async with engine.connect() as conn:
        (key,) = (
            await conn.execute(select(documents.c.storage_key).where(documents.c.customer_id == marie))
        ).one()
    stored_file = settings.var_dir / "documents" / key
    assert stored_file.exists()
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    response = await post(admin, f"/customers/{marie}/privacy/erase", source="email", confirm="ERASE")
    assert response.status_code == 302

    stored = await everything_stored(engine)
    for value in PERSONAL:
        assert value.lower() not in stored.lower(), value
    assert not stored_file.exists(), "the document's file is still on disk"
    async with engine.connect() as conn:
        name = (
            await conn.execute(
                select(customers.c.first_name, customers.c.last_name).where(customers.c.id == marie)
            )
        ).one()
        kept = (await conn.execute(select(func.count()).select_from(invoices))).scalar_one()
        request = (
            await conn.execute(select(privacy_requests).where(privacy_requests.c.kind == "erasure"))
        ).one()
        assert await is_suppressed(conn, email="Marie.Quintal@example.ca")
        assert await is_suppressed(conn, phone="514-555-0199")
        assert not await is_suppressed(conn, email="someone.else@example.ca")
        actions = (await conn.execute(select(audit_log.c.action))).scalars().all()
    assert tuple(name) == ("Erased", f"customer #{marie}")
    assert kept == 1  # invoices stay for the legal retention period
    assert request.completed_at is not None and request.details["rows"]["documents"] == 1
    assert "privacy.erasure" in actions
    page = await (await admin.get(f"/customers/{marie}")).get_data(as_text=True)
    assert "personal data was erased" in page
    # A second erasure is refused, and says why.
    again = await post(admin, f"/customers/{marie}/privacy/erase", source="email", confirm="ERASE")
    assert again.status_code == 422 and "erased already" in await again.get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "problem"), [({"source": "email"}, "Type ERASE"), ({"confirm": "ERASE"}, "how")]
)
async def test_an_erasure_without_confirmation_or_source_changes_nothing(
    app, engine, staff, marie, form, problem
):
    before = await everything_stored(engine, besides=("audit_log", "users"))
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    response = await post(admin, f"/customers/{marie}/privacy/erase", **form)
    assert response.status_code == 422
    assert problem in await response.get_data(as_text=True)
    # Only the trail and the admin's last sign-in changed.
    assert await everything_stored(engine, besides=("audit_log", "users")) == before
