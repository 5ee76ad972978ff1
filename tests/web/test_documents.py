"""The documents section: the list, uploading from the page, downloading."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import documents
from app.tables import customer_activities, work_orders
from app.tables import documents as documents_table
from tests.conftest import csrf_token_of
from tests.factories import NOW, add_customer, add_document, add_vehicle, add_work_order_and_invoice
from tests.test_documents import EXE, HTML, JPEG, PDF, PNG, SCRIPT


@pytest.fixture
async def shop(engine):
    async with engine.begin() as conn:
        marie = await add_customer(conn, "Marie", "Tremblay")
        john = await add_customer(conn, "John", "Smith", language="en")
        car = await add_vehicle(conn, marie, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_work_order_and_invoice(conn, marie, car, number=42)
        johns_car = await add_vehicle(conn, john, vin="1HGCM82633A004352", plate="XYZ 987")
        await add_work_order_and_invoice(conn, john, johns_car, number=43)
        orders = dict((await conn.execute(select(work_orders.c.number, work_orders.c.id))).all())
    return {
        "marie": marie,
        "john": john,
        "marie_order": orders["WO-2026-000042"],
        "john_order": orders["WO-2026-000043"],
    }


@pytest.fixture
def storage(settings) -> Path:
    return settings.var_dir / "documents"


def stored_files(storage: Path) -> set[str]:
    return {path.name for path in storage.iterdir()} if storage.exists() else set()


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    """A body as a browser builds it: the HTML standard escapes '"' in a file name as %22; the browser's
    idea of the content type (here always PDF) is sent and must not matter."""
    boundary = f"----c360test{secrets.token_hex(8)}"
    body = b""
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for filename, data in files:
        escaped = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        body += (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{escaped}"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def upload(client, customer_id: int, *files: tuple[str, bytes], csrf: str | None = "header", **fields):
    """POST the upload form as htmx does: the CSRF token in the X-CSRF-Token header (or in the form)."""
    token = await csrf_token_of(client)
    headers = {"HX-Request": "true"}
    if csrf == "header":
        headers["X-CSRF-Token"] = token
    elif csrf == "form":
        fields["csrf_token"] = token
    body, content_type = multipart(list(files), {key: str(value) for key, value in fields.items()})
    headers["Content-Type"] = content_type
    return await client.post(f"/customers/{customer_id}/documents", data=body, headers=headers)


async def section(client, customer_id: int, **args) -> str:
    response = await client.get(f"/customers/{customer_id}/sections/documents", query_string=args)
    assert response.status_code == 200
    return await response.get_data(as_text=True)


def rows(html: str) -> list[tuple[int, str]]:
    """(document id, file name) of each row, top to bottom."""
    found = re.findall(r'<tr class="document" id="document-(\d+)">\s*<td[^>]*><a [^>]*>([^<]+)</a>', html)
    return [(int(document_id), unescape(name)) for document_id, name in found]


async def error_message(response) -> str:
    error = (await response.get_json())["error"]
    return error["message"] if isinstance(error, dict) else error


async def document_count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(documents_table))).scalar_one()


async def test_an_uploaded_pdf_is_listed_and_downloads_as_the_same_bytes(signed_in, shop, engine, storage):
    client = await signed_in("advisor")
    before = stored_files(storage)
    response = await upload(client, shop["marie"], ("facture-42.pdf", PDF))
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'id="section-documents"' in html  # the section comes back, re-rendered
    assert "Document uploaded:" in html
    assert "refresh-activity" in response.headers["HX-Trigger"]
    ((document_id, name),) = rows(html)
    assert name == "facture-42.pdf"
    assert "PDF" in html and "Test Advisor" in html

    (new_file,) = stored_files(storage) - before
    assert re.fullmatch(r"[0-9a-f]{32}", new_file)
    assert (storage / new_file).read_bytes() == PDF

    download = await client.get(f"/customers/{shop['marie']}/documents/{document_id}")
    assert download.status_code == 200
    assert await download.get_data() == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="facture-42.pdf"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, no-store"
    assert download.headers["Content-Length"] == str(len(PDF))
    assert "sandbox" in download.headers["Content-Security-Policy"]


async def test_an_uploaded_photo_keeps_its_real_type(signed_in, shop):
    client = await signed_in("admin")
    # A PNG named .pdf by mistake: kept as the PNG it is, and the advisor is told.
    response = await upload(client, shop["marie"], ("photo-pare-brise.pdf", PNG))
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    ((document_id, name),) = rows(html)
    assert name == "photo-pare-brise.png"
    assert "sent as “photo-pare-brise.pdf”; its content is a PNG image" in html

    download = await client.get(f"/customers/{shop['marie']}/documents/{document_id}")
    assert await download.get_data() == PNG
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["Content-Disposition"] == 'attachment; filename="photo-pare-brise.png"'


@pytest.mark.parametrize(
    ("sent", "disposition"),
    [
        ("../../etc/passwd.pdf", 'attachment; filename="passwd.pdf"'),
        # A backslash in the quoted name is an escape to the multipart parser: the separators are gone.
        ("..\\..\\windows\\system.ini.pdf", 'attachment; filename="windowssystem.ini.pdf"'),
        (
            'facture "été".pdf',
            "attachment; filename=\"facture ete.pdf\"; filename*=UTF-8''facture%20%C3%A9t%C3%A9.pdf",
        ),
        ("報告.pdf", "attachment; filename=\"document.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf"),
    ],
)
async def test_a_download_is_named_safely(signed_in, shop, sent, disposition):
    client = await signed_in("advisor")
    response = await upload(client, shop["marie"], (sent, PDF))
    assert response.status_code == 200
    ((document_id, _),) = rows(await response.get_data(as_text=True))
    download = await client.get(f"/customers/{shop['marie']}/documents/{document_id}")
    assert download.headers["Content-Disposition"] == disposition
    assert await download.get_data() == PDF


async def test_several_files_upload_together(signed_in, shop, engine):
    client = await signed_in("advisor")
    response = await upload(
        client, shop["marie"], ("avant.jpg", JPEG), ("apres.png", PNG), work_order_id=shop["marie_order"]
    )
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert "2 documents uploaded:" in html
    assert sorted(name for _, name in rows(html)) == ["apres.png", "avant.jpg"]
    assert html.count("WO-2026-000042</td>") == 2  # both attached to the work order
    assert await document_count(engine) == 2


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("facture.pdf", EXE, "“facture.pdf” is not a PDF, JPEG, PNG, WebP or HEIC file"),
        ("facture.pdf", HTML, "“facture.pdf” is not a PDF, JPEG, PNG, WebP or HEIC file"),
        ("estimate.pdf", SCRIPT, "“estimate.pdf” is not a PDF, JPEG, PNG, WebP or HEIC file"),
        ("vide.pdf", b"", "“vide.pdf” is empty"),
        ("huge.pdf", PDF + bytes(documents.MAX_FILE_BYTES), "larger than 10 MB, the limit per file"),
    ],
)
async def test_a_refused_file_says_why_and_nothing_is_written(
    signed_in, shop, engine, storage, name, data, message
):
    client = await signed_in("advisor")
    before = stored_files(storage)
    response = await upload(client, shop["marie"], (name, data))
    assert response.status_code == 422
    html = unescape(await response.get_data(as_text=True))
    assert message in html
    assert "Nothing was uploaded" in html
    assert 'aria-invalid="true"' in html
    assert "PDF, JPEG, PNG, WebP or HEIC, up to 10 MB per file" in html  # the rules, beside the field
    assert await document_count(engine) == 0
    assert stored_files(storage) == before


async def test_one_bad_file_among_several_keeps_none(signed_in, shop, engine, storage):
    client = await signed_in("advisor")
    before = stored_files(storage)
    response = await upload(client, shop["marie"], ("ok.pdf", PDF), ("virus.pdf", EXE), ("ok.png", PNG))
    assert response.status_code == 422
    assert "“virus.pdf” is not a PDF" in unescape(await response.get_data(as_text=True))
    assert await document_count(engine) == 0
    assert stored_files(storage) == before


async def test_at_most_ten_files_at_a_time(signed_in, shop, engine):
    client = await signed_in("advisor")
    files = [(f"page-{index}.pdf", PDF) for index in range(documents.MAX_FILES_PER_UPLOAD + 1)]
    response = await upload(client, shop["marie"], *files)
    assert response.status_code == 422
    assert "Upload at most 10 files at a time." in await response.get_data(as_text=True)
    assert await document_count(engine) == 0


async def test_an_upload_above_the_request_limit_gets_a_clear_message(signed_in, shop, engine, app):
    client = await signed_in("advisor")
    too_much = PDF + bytes(app.config["MAX_CONTENT_LENGTH"])
    response = await upload(client, shop["marie"], ("scan.pdf", too_much))
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "These files add up to more than 16 MB, the most one upload can carry" in html
    assert await document_count(engine) == 0


async def test_storage_that_fails_keeps_nothing_and_says_so(signed_in, shop, engine, app, tmp_path):
    (tmp_path / "documents").write_text("a file where the directory should be")
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], var_dir=tmp_path)
    client = await signed_in("advisor")
    response = await upload(client, shop["marie"], ("facture.pdf", PDF))
    assert response.status_code == 500
    assert "The files could not be stored just now; nothing was saved." in await response.get_data(
        as_text=True
    )
    assert await document_count(engine) == 0
    assert [path.name for path in tmp_path.iterdir()] == ["documents"]


async def test_no_file_chosen_is_a_field_error(signed_in, shop, engine):
    client = await signed_in("advisor")
    response = await upload(client, shop["marie"], ("", b""))
    assert response.status_code == 422
    assert "Choose a file to upload." in await response.get_data(as_text=True)
    assert await document_count(engine) == 0


async def test_another_customers_work_order_cannot_be_attached(signed_in, shop, engine, storage):
    client = await signed_in("advisor")
    before = stored_files(storage)
    response = await upload(client, shop["marie"], ("facture.pdf", PDF), work_order_id=shop["john_order"])
    assert response.status_code == 422
    html = unescape(await response.get_data(as_text=True))
    assert "Choose one of this customer's work orders, or none." in html
    assert await document_count(engine) == 0
    assert stored_files(storage) == before


async def test_an_upload_is_recorded_in_the_activity_timeline(signed_in, shop, engine, staff):
    client = await signed_in("advisor")
    await upload(client, shop["marie"], ("facture.pdf", PDF))
    async with engine.connect() as conn:
        (entry,) = (
            await conn.execute(
                select(customer_activities).where(customer_activities.c.kind == "document_uploaded")
            )
        ).all()
    assert (entry.customer_id, entry.actor_id) == (shop["marie"], staff["advisor"].id)
    assert entry.summary == "Document added: facture.pdf" and entry.ref_type == "document"
    timeline = await client.get(f"/customers/{shop['marie']}/sections/activity")
    assert "Document added: facture.pdf" in await timeline.get_data(as_text=True)


async def test_without_htmx_an_upload_returns_to_the_customer_page(signed_in, shop, engine):
    client = await signed_in("advisor")
    token = await csrf_token_of(client)
    body, content_type = multipart([("facture.pdf", PDF)], {"csrf_token": token})
    response = await client.post(
        f"/customers/{shop['marie']}/documents", data=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{shop['marie']}#section-documents"
    assert await document_count(engine) == 1


# -- who may do what --------------------------------------------------------------------------------------


async def test_an_upload_without_the_csrf_token_is_refused(signed_in, shop, engine, storage):
    client = await signed_in("advisor")
    before = stored_files(storage)
    response = await upload(client, shop["marie"], ("facture.pdf", PDF), csrf=None)
    assert response.status_code == 403
    assert await document_count(engine) == 0
    assert stored_files(storage) == before


async def test_the_csrf_token_may_come_in_the_multipart_form(signed_in, shop, engine):
    client = await signed_in("advisor")
    response = await upload(client, shop["marie"], ("facture.pdf", PDF), csrf="form")
    assert response.status_code == 200
    assert await document_count(engine) == 1


async def test_operations_staff_see_and_download_but_do_not_upload(signed_in, shop, engine, storage):
    async with engine.begin() as conn:
        await add_document(conn, shop["marie"], filename="certificat.pdf")
    client = await signed_in("operations")
    html = await section(client, shop["marie"])
    assert [name for _, name in rows(html)] == ["certificat.pdf"]
    assert 'type="file"' not in html  # no upload form for a role that cannot upload

    before = stored_files(storage)
    response = await upload(client, shop["marie"], ("facture.pdf", PDF))
    assert response.status_code == 403
    assert await document_count(engine) == 1
    assert stored_files(storage) == before

    advisor_upload = await upload(await signed_in("advisor"), shop["marie"], ("facture.pdf", PDF))
    ((document_id, _), *_) = rows(await advisor_upload.get_data(as_text=True))
    await signed_in("operations")
    download = await client.get(f"/customers/{shop['marie']}/documents/{document_id}")
    assert download.status_code == 200 and await download.get_data() == PDF


async def test_an_upload_for_an_unknown_customer_is_a_404(signed_in, shop, engine, storage):
    client = await signed_in("advisor")
    before = stored_files(storage)
    response = await upload(client, 999_999, ("facture.pdf", PDF))
    assert response.status_code == 404
    assert await document_count(engine) == 0
    assert stored_files(storage) == before


# -- downloads that must not happen -----------------------------------------------------------------------


async def test_another_customers_document_is_a_404(signed_in, shop):
    client = await signed_in("advisor")
    response = await upload(client, shop["john"], ("johns-estimate.pdf", PDF))
    ((document_id, _),) = rows(await response.get_data(as_text=True))
    assert (await client.get(f"/customers/{shop['john']}/documents/{document_id}")).status_code == 200
    wrong = await client.get(f"/customers/{shop['marie']}/documents/{document_id}")
    assert wrong.status_code == 404
    assert PDF not in await wrong.get_data()


@pytest.mark.parametrize("path", ["/documents/999999", "/documents/..%2F..%2Fsecret_key", "/documents/-1"])
async def test_a_document_that_does_not_exist_is_a_404(signed_in, shop, path):
    client = await signed_in("advisor")
    response = await client.get(f"/customers/{shop['marie']}{path}")
    assert response.status_code == 404


async def test_a_document_whose_file_is_missing_says_so(signed_in, shop, engine):
    async with engine.begin() as conn:
        document_id = await add_document(conn, shop["marie"], filename="seeded.pdf")
    client = await signed_in("advisor")
    response = await client.get(
        f"/customers/{shop['marie']}/documents/{document_id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 404
    assert "The file of “seeded.pdf” is missing from storage" in await error_message(response)


# -- the list ---------------------------------------------------------------------------------------------


async def test_an_empty_list_says_so_and_offers_the_upload(signed_in, shop):
    client = await signed_in("advisor")
    html = await section(client, shop["john"])
    assert "No documents yet." in html
    assert 'type="file"' in html and 'hx-encoding="multipart/form-data"' in html
    assert 'name="csrf_token"' in html
    assert 'accept=".pdf,' in html
    assert "WO-2026-000043" in html and "WO-2026-000042" not in html  # only John's work orders offered


async def test_the_list_pages_with_load_more(signed_in, shop, engine):
    async with engine.begin() as conn:
        ids = [
            await add_document(
                conn,
                shop["marie"],
                filename=f"photo-{index:02d}.jpg",
                content_type="image/jpeg",
                size_bytes=2_500_000,
                uploaded_at=NOW - timedelta(minutes=index // 3),  # ties, broken by the id
            )
            for index in range(30)
        ]
    expected = sorted(ids, key=lambda document_id: (ids.index(document_id) // 3, -document_id))
    client = await signed_in("advisor")
    html = await section(client, shop["marie"])
    first = [document_id for document_id, _ in rows(html)]
    assert first == expected[: documents.PAGE_SIZE]
    assert "2.4 MB" in html and "JPEG image" in html

    more = re.search(r'<tr class="more" id="documents-more">\s*<td colspan="6"><a href="([^"]+)"', html)
    response = await client.get(unescape(more.group(1)), headers={"HX-Request": "true"})
    assert response.status_code == 200
    rest = await response.get_data(as_text=True)
    assert [document_id for document_id, _ in rows(rest)] == expected[documents.PAGE_SIZE :]
    assert "documents-more" not in rest


@pytest.mark.parametrize("cursor", ["garbage", "WyJ5ZXN0ZXJkYXkiLDFd"])  # the second: ["yesterday",1]
async def test_a_bad_cursor_is_a_400_naming_it(signed_in, shop, cursor):
    client = await signed_in("advisor")
    for path in (f"/customers/{shop['marie']}/documents", f"/customers/{shop['marie']}/sections/documents"):
        response = await client.get(
            path, query_string={"cursor": cursor}, headers={"Accept": "application/json"}
        )
        assert response.status_code == 400
        assert (await error_message(response)).startswith("cursor:")
