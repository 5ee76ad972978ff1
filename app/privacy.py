"""A customer's rights under privacy law (GDPR, Quebec's Law 25): access and portability (an export of every
row held about them, as JSON and CSV in one archive) and erasure (by anonymisation: invoices and payments are
kept for the legal retention period under a replaced name; everything that identifies the person is blanked
or deleted, their documents' files included; a suppression entry keeps an import from bringing them back).

Every request is recorded in privacy_requests, with counts, never the data itself.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activity import record_activity
from app.documents import storage_path
from app.keys import email_key, name_key, phone_key
from app.tables import (
    consent_events,
    consents,
    customer_activities,
    customer_contacts,
    customers,
    documents,
    emails,
    invoices,
    payments,
    privacy_requests,
    suppressions,
    users,
    vehicles,
    work_orders,
)

# Everything held about a customer, table by table, in the order an export lists it. Documents: their
# metadata (the files are the customer's own uploads; an advisor downloads them from the page).
EXPORTED: tuple[tuple[str, Table], ...] = (
    ("profile", customers),
    ("contacts", customer_contacts),
    ("vehicles", vehicles),
    ("work_orders", work_orders),
    ("invoices", invoices),
    ("payments", payments),
    ("activity", customer_activities),
    ("consents", consents),
    ("consent_history", consent_events),
    ("emails", emails),
    ("documents", documents),
    ("privacy_requests", privacy_requests),
)
_INTERNAL_COLUMNS = {"name_key", "company_key", "search_key", "plate_key", "storage_key"}

ERASED_FIRST_NAME = "Erased"


class AlreadyErased(ValueError):
    """The customer's personal data was erased already."""


def _rows_of(table: Table, customer_id: int):
    column = table.c.id if table is customers else table.c.customer_id
    columns = [c for c in table.c if c.name not in _INTERNAL_COLUMNS]
    return select(*columns).where(column == customer_id).order_by(table.c.id)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def _start_request(conn: AsyncConnection, customer_id: int, kind: str, actor_id: int | None) -> int:
    result = await conn.execute(
        privacy_requests.insert().values(
            customer_id=customer_id, kind=kind, requested_by=actor_id, requested_at=datetime.now(UTC)
        )
    )
    return result.inserted_primary_key[0]


async def _finish_request(conn: AsyncConnection, request_id: int, details: dict[str, Any]) -> None:
    await conn.execute(
        update(privacy_requests)
        .where(privacy_requests.c.id == request_id)
        .values(completed_at=datetime.now(UTC), details=details)
    )


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    data: bytes
    counts: dict[str, int]


async def export_customer(conn: AsyncConnection, customer_id: int, *, actor_id: int | None) -> Export:
    """Every row held about the customer, recorded as a privacy request in the caller's transaction."""
    request_id = await _start_request(conn, customer_id, "export", actor_id)
    sections: dict[str, list[dict[str, Any]]] = {}
    for name, table in EXPORTED:
        result = await conn.execute(_rows_of(table, customer_id))
        sections[name] = [{key: _plain(value) for key, value in row._mapping.items()} for row in result]
    counts = {name: len(rows) for name, rows in sections.items()}
    await _finish_request(conn, request_id, {"rows": counts})
    made = datetime.now(UTC)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        document = {"customer_id": customer_id, "exported_at": made.isoformat(), **sections}
        archive.writestr(
            "customer.json", json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"
        )
        for name, table in EXPORTED:
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow([c.name for c in table.c if c.name not in _INTERNAL_COLUMNS])
            for row in sections[name]:
                writer.writerow(
                    json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
                    for value in row.values()
                )
            archive.writestr(f"csv/{name}.csv", text.getvalue())
    return Export(f"customer-{customer_id}-{made:%Y%m%d-%H%M%S}.zip", buffer.getvalue(), counts)


def suppression_hash(kind: str, value: str) -> str:
    key = email_key(value) if kind == "email" else phone_key(value)
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()


async def is_suppressed(conn: AsyncConnection, *, email: str | None = None, phone: str | None = None) -> bool:
    """Whether an import must leave this person out: they asked to be erased."""
    wanted = [("email", email), ("phone", phone)]
    hashes = [(kind, suppression_hash(kind, value)) for kind, value in wanted if value]
    for kind, value_hash in hashes:
        found = await conn.execute(
            select(suppressions.c.id).where(
                suppressions.c.kind == kind, suppressions.c.value_hash == value_hash
            )
        )
        if found.first() is not None:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Erasure:
    request_id: int
    activity_id: int
    counts: dict[str, int]
    # Files to delete once the transaction has committed (a rollback must not lose them).
    files: list[Path]


async def erase_customer(
    conn: AsyncConnection, customer_id: int, *, actor_id: int | None, source: str, documents_dir: Path
) -> Erasure:
    """Anonymise the customer in the caller's transaction; delete `Erasure.files` after it commits.
    `source`: how the customer made the request (one of CONSENT_SOURCES): their consents are withdrawn by it.

    Kept, for legal retention: the customer row (as "Erased customer #id"), work orders, invoices, payments,
    consents (withdrawn) and their history, and the timeline's entries without their text.
    """
    state = (
        await conn.execute(
            select(customers.c.erased_at).where(customers.c.id == customer_id).with_for_update()
        )
    ).one()
    if state.erased_at is not None:
        raise AlreadyErased(customer_id)
    now = datetime.now(UTC)
    request_id = await _start_request(conn, customer_id, "erasure", actor_id)
    counts: dict[str, int] = {}

    # Suppression first, from the addresses and numbers about to go.
    contacts = (
        await conn.execute(
            select(customer_contacts.c.kind, customer_contacts.c.value).where(
                customer_contacts.c.customer_id == customer_id
            )
        )
    ).all()
    sent_to = (
        await conn.execute(select(emails.c.recipient).where(emails.c.customer_id == customer_id))
    ).all()
    entries = {("email" if kind == "email" else "phone", value) for kind, value in contacts}
    entries |= {("email", row.recipient) for row in sent_to if row.recipient}
    for kind, value in sorted(entries):
        try:
            async with conn.begin_nested():
                await conn.execute(
                    suppressions.insert().values(
                        kind=kind,
                        value_hash=suppression_hash(kind, value),
                        privacy_request_id=request_id,
                        created_at=now,
                    )
                )
        except IntegrityError:
            pass  # suppressed already (the same address on another erased customer)
    counts["suppressed"] = len(entries)

    last_name = f"customer #{customer_id}"
    await conn.execute(
        update(customers)
        .where(customers.c.id == customer_id)
        .values(
            first_name=ERASED_FIRST_NAME,
            last_name=last_name,
            name_key=name_key(ERASED_FIRST_NAME, last_name),
            company=None,
            company_key=None,
            address_line1=None,
            address_line2=None,
            city=None,
            province=None,
            postal_code=None,
            tags=[],
            status="inactive",
            updated_at=now,
            erased_at=now,
        )
    )
    counts["contacts"] = (
        await conn.execute(delete(customer_contacts).where(customer_contacts.c.customer_id == customer_id))
    ).rowcount
    counts["vehicles"] = (
        await conn.execute(
            update(vehicles)
            .where(vehicles.c.customer_id == customer_id)
            .values(vin="", plate=None, plate_key=None, color=None)
        )
    ).rowcount
    counts["emails"] = (
        await conn.execute(delete(emails).where(emails.c.customer_id == customer_id))
    ).rowcount
    stored = (
        await conn.execute(select(documents.c.storage_key).where(documents.c.customer_id == customer_id))
    ).all()
    files = [storage_path(documents_dir, row.storage_key) for row in stored]
    counts["documents"] = (
        await conn.execute(delete(documents).where(documents.c.customer_id == customer_id))
    ).rowcount
    await conn.execute(
        update(consent_events).where(consent_events.c.customer_id == customer_id).values(note=None)
    )
    counts["consents_withdrawn"] = await _withdraw_consents(conn, customer_id, actor_id, source, now)
    counts["activity"] = (
        await conn.execute(
            update(customer_activities)
            .where(customer_activities.c.customer_id == customer_id)
            .values(summary="Erased on request", details={"erased": True}, actor_label=None, pinned=False)
        )
    ).rowcount
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind="profile_updated",
        summary="Personal data erased on the customer's request",
        actor_id=actor_id,
        details={"privacy_request_id": request_id},
    )
    await _finish_request(conn, request_id, {"rows": counts})
    return Erasure(request_id, activity_id, counts, files)


async def _withdraw_consents(
    conn: AsyncConnection, customer_id: int, actor_id: int | None, source: str, now: datetime
) -> int:
    granted = (
        await conn.execute(
            select(
                consents.c.purpose, consents.c.channel, consents.c.legal_basis, consents.c.wording_version
            ).where(consents.c.customer_id == customer_id, consents.c.status == "granted")
        )
    ).all()
    for row in granted:
        await conn.execute(
            consent_events.insert().values(
                customer_id=customer_id,
                purpose=row.purpose,
                channel=row.channel,
                action="withdrawn",
                legal_basis=row.legal_basis,
                wording_version=row.wording_version,
                source=source,
                actor_id=actor_id,
                note="Withdrawn by the erasure of the customer's data",
                occurred_at=now,
            )
        )
    await conn.execute(
        update(consents)
        .where(consents.c.customer_id == customer_id, consents.c.status == "granted")
        .values(status="withdrawn", withdrawn_at=now, updated_at=now)
    )
    return len(granted)


def delete_files(files: list[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)


async def privacy_history(conn: AsyncConnection, customer_id: int) -> list:
    rows = await conn.execute(
        select(
            privacy_requests.c.id,
            privacy_requests.c.kind,
            privacy_requests.c.requested_at,
            privacy_requests.c.completed_at,
            privacy_requests.c.details,
            users.c.name.label("requested_by"),
        )
        .outerjoin(users, users.c.id == privacy_requests.c.requested_by)
        .where(privacy_requests.c.customer_id == customer_id)
        .order_by(privacy_requests.c.requested_at.desc(), privacy_requests.c.id.desc())
    )
    return rows.all()
