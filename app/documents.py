"""Customer documents: inspection photos, signed estimates, certificates.

The bytes live under `<VAR_DIR>/documents/` in files named by a random storage key (32 hex digits) that
nothing the user sends can influence; the database row holds the name shown to people, the type found in
the content and the SHA-256 of the bytes. An upload is all or nothing: a file refused, a write that fails or
a database error leaves no row and no file behind.

The type of a file is read from its content (its magic number), never from its name or from the content
type the browser sent. The stored name always ends with an extension of that type: a JPEG sent as
"photo.pdf" is kept as "photo.jpg", a PDF sent as "scan" or "invoice.exe" as "scan.pdf" or
"invoice.exe.pdf", so that what a colleague downloads opens as what it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import filetype
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.i18n import N_, current_language, gettext
from app.pagination import encode_cursor
from app.params import cursor_instant, cursor_values
from app.tables import documents, users, work_orders

log = logging.getLogger(__name__)

PAGE_SIZE = 25
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_UPLOAD = 10
# Recent work orders offered when attaching an upload to one.
WORK_ORDER_CHOICES = 50
MAX_FILENAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class FileType:
    content_type: str
    label: str
    extensions: tuple[str, ...]  # the first is the one given to a name that has none of them


# Realistic for a shop: scanned or signed PDFs, and photos from a phone (an iPhone's are HEIC).
ALLOWED_TYPES: dict[str, FileType] = {
    kind.content_type: kind
    for kind in (
        FileType("application/pdf", N_("PDF"), ("pdf",)),
        FileType("image/jpeg", N_("JPEG image"), ("jpg", "jpeg", "jpe")),
        FileType("image/png", N_("PNG image"), ("png",)),
        FileType("image/webp", N_("WebP image"), ("webp",)),
        FileType("image/heic", N_("HEIC photo"), ("heic", "heif")),
    )
}
# Labels are translated when shown: gettext(kind.label), gettext(ALLOWED_NAMES).
ALLOWED_NAMES = N_("PDF, JPEG, PNG, WebP or HEIC")
_KNOWN_EXTENSIONS = frozenset(ext for kind in ALLOWED_TYPES.values() for ext in kind.extensions)
_STORAGE_KEY = re.compile(r"[0-9a-f]{32}")
# Characters no file name needs and some systems misread: quotes end a header's quoted name, the others are
# reserved on Windows. Path separators are dealt with first (only the last component is kept).
_UNSAFE_CHARACTERS = frozenset('"<>:|?*')


# -- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    customer_id: int
    filename: str
    content_type: str
    size_bytes: int
    size: str  # human-readable, e.g. "1.2 MB"
    sha256: str
    uploaded_by: str | None
    uploaded_at: datetime
    work_order_id: int | None
    work_order_number: str | None

    @property
    def type_label(self) -> str:
        kind = ALLOWED_TYPES.get(self.content_type)
        return kind.label if kind else self.content_type


@dataclass(frozen=True, slots=True)
class WorkOrderChoice:
    id: int
    number: str
    description: str
    status: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentsPage:
    documents: list[Document]
    # Opaque: where the next page starts; the HTML link and the JSON API hand it back as `cursor`.
    next_cursor: str | None
    # The customer's recent work orders, to attach an upload to (first page only).
    work_orders: list[WorkOrderChoice]


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """What a download needs: the row, with the storage key that names its file."""

    id: int
    customer_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    storage_key: str


def human_size(size_bytes: int, language: str = "en") -> str:
    """1234567 -> "1.2 MB" (en) or "1,2 Mo" (fr); binary multiples, as file managers show them."""
    units = ("B", "KB", "MB", "GB") if language != "fr" else ("octets", "Ko", "Mo", "Go")
    if size_bytes < 1024:
        return f"{size_bytes} {units[0]}"
    value, power = size_bytes / 1024, 1
    while value >= 1024 and power < len(units) - 1:
        value, power = value / 1024, power + 1
    unit = units[power]
    text = f"{value:.0f}" if value >= 100 else f"{value:.1f}".removesuffix(".0")
    if language == "fr":
        text = text.replace(".", ",")
    return f"{text}\u00a0{unit}" if language == "fr" else f"{text} {unit}"


_SELECT = (
    select(
        documents.c.id,
        documents.c.customer_id,
        documents.c.filename,
        documents.c.content_type,
        documents.c.size_bytes,
        documents.c.sha256,
        documents.c.uploaded_at,
        documents.c.work_order_id,
        users.c.name.label("uploader"),
        work_orders.c.number.label("work_order_number"),
    )
    .select_from(documents)
    .outerjoin(users, users.c.id == documents.c.uploaded_by)
    .outerjoin(work_orders, work_orders.c.id == documents.c.work_order_id)
)


def _document(row) -> Document:
    return Document(
        id=row.id,
        customer_id=row.customer_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        size=human_size(row.size_bytes),
        sha256=row.sha256,
        uploaded_by=row.uploader,
        uploaded_at=row.uploaded_at,
        work_order_id=row.work_order_id,
        work_order_number=row.work_order_number,
    )


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    uploaded_at, last_id = cursor_values(cursor, str, int)
    return cursor_instant(uploaded_at), last_id


async def load_documents(
    conn: AsyncConnection,
    customer_id: int,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> DocumentsPage:
    """A page of the customer's documents, newest first, keyset on (uploaded_at, id)."""
    statement = _SELECT.where(documents.c.customer_id == customer_id)
    if cursor is not None:
        uploaded_at, last_id = _parse_cursor(cursor)
        statement = statement.where(
            or_(
                documents.c.uploaded_at < uploaded_at,
                and_(documents.c.uploaded_at == uploaded_at, documents.c.id < last_id),
            )
        )
    statement = statement.order_by(documents.c.uploaded_at.desc(), documents.c.id.desc()).limit(limit + 1)
    rows = [_document(row) for row in await conn.execute(statement)]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.uploaded_at.isoformat(), last.id)
    choices = await load_work_order_choices(conn, customer_id) if cursor is None else []
    return DocumentsPage(rows[:limit], next_cursor, choices)


async def load_work_order_choices(conn: AsyncConnection, customer_id: int) -> list[WorkOrderChoice]:
    statement = (
        select(
            work_orders.c.id,
            work_orders.c.number,
            work_orders.c.description,
            work_orders.c.status,
            work_orders.c.opened_at,
        )
        .where(work_orders.c.customer_id == customer_id)
        .order_by(work_orders.c.opened_at.desc(), work_orders.c.id.desc())
        .limit(WORK_ORDER_CHOICES)
    )
    return [WorkOrderChoice(*row) for row in await conn.execute(statement)]


async def get_document(conn: AsyncConnection, customer_id: int, document_id: int) -> Document | None:
    """One document of this customer (None when it is another customer's or does not exist)."""
    statement = _SELECT.where(documents.c.id == document_id, documents.c.customer_id == customer_id)
    row = (await conn.execute(statement)).one_or_none()
    return _document(row) if row else None


async def get_stored_document(
    conn: AsyncConnection, customer_id: int, document_id: int
) -> StoredDocument | None:
    statement = select(
        documents.c.id,
        documents.c.customer_id,
        documents.c.filename,
        documents.c.content_type,
        documents.c.size_bytes,
        documents.c.sha256,
        documents.c.storage_key,
    ).where(documents.c.id == document_id, documents.c.customer_id == customer_id)
    row = (await conn.execute(statement)).one_or_none()
    return StoredDocument(*row) if row else None


# -- names --------------------------------------------------------------------------------------------------


def clean_filename(name: str) -> str:
    """The name as it may be shown and offered for download: its last path component, without control or
    formatting characters (a right-to-left override can disguise "gpj.exe" as "exe.jpg"), quotes or
    characters Windows refuses, without leading or trailing dots and spaces, at most 255 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    kept = []
    for char in name:
        category = unicodedata.category(char)
        if char in "\t\r\n" or category in ("Zl", "Zp"):
            kept.append(" ")
        elif char not in _UNSAFE_CHARACTERS and not category.startswith("C"):
            kept.append(char)
    name = "".join(kept)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = f"{stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip(' .')}.{extension}"
        else:
            name = name[:MAX_FILENAME_LENGTH].rstrip(" .")
    return name


def name_for_type(name: str, kind: FileType) -> str:
    """The cleaned name with an extension of the type found in the content (see the module docstring)."""
    name = clean_filename(name)
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension.lower() in kind.extensions:
        return name
    if dot and stem and extension.lower() in _KNOWN_EXTENSIONS:
        name = stem  # the extension of another allowed type: replaced, not kept alongside
    name = name or "document"
    return clean_filename(f"{name[: MAX_FILENAME_LENGTH - 6]}.{kind.extensions[0]}")


def ascii_filename(name: str) -> str:
    """An ASCII stand-in for clients that do not read RFC 5987's filename*: accents dropped, the rest '_'."""

    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        text = "".join(char if char.isprintable() and char not in '"\\' else "_" for char in text)
        return re.sub(r"\s+", " ", text).strip(" .")

    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem, extension = fold(stem), fold(extension)
    if not stem.strip("_"):
        stem = "document"
    return f"{stem}.{extension}" if extension else stem


# -- uploading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    """A file that passed the checks, ready to store."""

    filename: str  # as it will be kept: cleaned, with an extension of its real type
    sent_as: str  # the name it came with, cleaned
    content_type: str
    data: bytes

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    @property
    def type_label(self) -> str:
        return ALLOWED_TYPES[self.content_type].label

    @property
    def renamed_from(self) -> str | None:
        """The name it was sent with, when that name did not say what the content is."""
        return self.sent_as if self.sent_as and self.sent_as != self.filename else None


class UploadError(ValueError):
    """An upload refused; `field` is the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class StorageError(RuntimeError):
    """The bytes could not be written: nothing was kept."""


def check_upload(filename: str, data: bytes) -> Upload:
    """Check one file: not empty, within the limit, of an allowed type judged from its content.

    `data` may hold one byte more than the limit (the caller reads no further), which is enough to refuse.
    Raises UploadError("file", why).
    """
    shown = clean_filename(filename) or gettext("The file")
    if not data:
        raise UploadError("file", gettext("“%(name)s” is empty: there is nothing in it to keep.", name=shown))
    if len(data) > MAX_FILE_BYTES:
        raise UploadError(
            "file",
            gettext(
                "“%(name)s” is larger than %(limit)s, the limit per file. "
                "Scan at a lower resolution or send a smaller photo.",
                name=shown,
                limit=human_size(MAX_FILE_BYTES, current_language()),
            ),
        )
    guessed = filetype.guess(data[:8192])
    kind = ALLOWED_TYPES.get(guessed.mime) if guessed else None
    if kind is None:
        types = gettext(ALLOWED_NAMES)
        raise UploadError(
            "file",
            gettext(
                "“%(name)s” is not a %(types)s file (its content is %(found)s). Only those types are "
                "accepted, judged from the content, whatever the file's name.",
                name=shown,
                types=types,
                found=guessed.mime,
            )
            if guessed
            else gettext(
                "“%(name)s” is not a %(types)s file. Only those types are accepted, judged from the "
                "content, whatever the file's name.",
                name=shown,
                types=types,
            ),
        )
    return Upload(
        filename=name_for_type(filename, kind),
        sent_as=clean_filename(filename),
        content_type=kind.content_type,
        data=data,
    )


def new_storage_key() -> str:
    return secrets.token_hex(16)


def storage_path(directory: Path, storage_key: str) -> Path:
    """The file of a storage key; anything but 32 lower-case hex digits is refused, so no path can escape."""
    if not _STORAGE_KEY.fullmatch(storage_key):
        raise ValueError(f"not a storage key: {storage_key!r}")
    return directory / storage_key


def _write_file(directory: Path, storage_key: str, data: bytes) -> str:
    """Write the bytes under their key atomically and durably; returns their SHA-256. Runs in a thread."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = storage_path(directory, storage_key)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory is.
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)
    finally:
        os.close(directory_descriptor)
    return hashlib.sha256(data).hexdigest()


def _remove_files(directory: Path, storage_keys: list[str]) -> None:
    for key in storage_keys:
        try:
            storage_path(directory, key).unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove %s/%s after a failed upload", directory, key)


async def remove_files(directory: Path, storage_keys: list[str]) -> None:
    await asyncio.to_thread(_remove_files, directory, storage_keys)


async def check_work_order(conn: AsyncConnection, customer_id: int, value: str | None) -> int | None:
    """The work order an upload is attached to: empty means none; it must be one of this customer's."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        statement = select(work_orders.c.id).where(
            work_orders.c.id == int(value), work_orders.c.customer_id == customer_id
        )
        if (await conn.execute(statement)).first() is not None:
            return int(value)
    raise UploadError("work_order_id", gettext("Choose one of this customer's work orders, or none."))


@dataclass(frozen=True, slots=True)
class Added:
    document_ids: list[int]
    # (customer_id, activity id) pairs to announce once committed.
    events: list[tuple[int, int]]
    storage_keys: list[str]


async def add_documents(
    conn: AsyncConnection,
    customer_id: int,
    uploads: list[Upload],
    *,
    directory: Path,
    actor_id: int | None,
    work_order_id: int | None = None,
) -> Added:
    """Store the files, then insert their rows and activity entries in the caller's transaction.

    The files are written first (in a thread, off the event loop); if writing one fails, those already
    written are removed and StorageError is raised before any row exists. If an insert fails, the files are
    removed and the error re-raised. The caller commits; if that fails it calls remove_files(storage_keys).
    """
    keys: list[str] = []
    digests: list[str] = []
    try:
        for upload in uploads:
            key = new_storage_key()
            keys.append(key)
            digests.append(await asyncio.to_thread(_write_file, directory, key, upload.data))
    except Exception as exc:
        await remove_files(directory, keys)
        log.exception("storing an upload for customer %s under %s failed", customer_id, directory)
        raise StorageError(str(exc)) from exc

    try:
        document_ids, events = [], []
        now = datetime.now(UTC)
        for upload, key, digest in zip(uploads, keys, digests, strict=True):
            result = await conn.execute(
                documents.insert().values(
                    customer_id=customer_id,
                    work_order_id=work_order_id,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    size_bytes=upload.size_bytes,
                    sha256=digest,
                    storage_key=key,
                    uploaded_by=actor_id,
                    uploaded_at=now,
                )
            )
            document_id = result.inserted_primary_key[0]
            activity_id = await record_activity(
                conn,
                customer_id=customer_id,
                kind="document_uploaded",
                summary=f"Document added: {upload.filename}",
                actor_id=actor_id,
                details={
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size_bytes": upload.size_bytes,
                    "work_order_id": work_order_id,
                },
                ref_type="document",
                ref_id=document_id,
                occurred_at=now,
            )
            document_ids.append(document_id)
            events.append((customer_id, activity_id))
    except BaseException:
        await remove_files(directory, keys)
        raise
    return Added(document_ids, events, keys)
