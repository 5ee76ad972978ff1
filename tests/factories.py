"""Small, explicit rows for tests that need to know exactly what is in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import company_key, email_key, name_key, phone_key, plate_key
from app.tables import customer_contacts, customers, invoices, vehicles, work_orders
from app.vin import with_check_digit

_numbers = count(1)
NOW = datetime(2026, 6, 1, 15, 30, tzinfo=UTC)


async def add_customer(
    conn: AsyncConnection,
    first_name: str,
    last_name: str,
    *,
    company: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    city: str = "Montréal",
    tags: list[str] | None = None,
    language: str = "fr",
) -> int:
    result = await conn.execute(
        customers.insert().values(
            first_name=first_name,
            last_name=last_name,
            company=company,
            name_key=name_key(first_name, last_name),
            company_key=company_key(company),
            address_line1="123 rue Principale",
            city=city,
            province="QC",
            postal_code="H2X 1Y4",
            language=language,
            tags=tags or [],
            created_at=NOW - timedelta(days=800),
            updated_at=NOW,
        )
    )
    customer_id = result.inserted_primary_key[0]
    for kind, value, key in (("email", email, email_key), ("phone", phone, phone_key)):
        if value:
            await conn.execute(
                customer_contacts.insert().values(
                    customer_id=customer_id, kind=kind, value=value, search_key=key(value), is_primary=True
                )
            )
    return customer_id


async def add_vehicle(conn: AsyncConnection, customer_id: int, *, vin: str, plate: str) -> int:
    result = await conn.execute(
        vehicles.insert().values(
            customer_id=customer_id,
            vin=with_check_digit(vin),
            plate=plate,
            plate_key=plate_key(plate),
            make="Toyota",
            model="RAV4",
            year=2019,
            odometer_km=84_000,
            created_at=NOW,
        )
    )
    return result.inserted_primary_key[0]


async def add_work_order_and_invoice(
    conn: AsyncConnection, customer_id: int, vehicle_id: int, *, number: int, subtotal_cents: int = 10_000
) -> tuple[str, str]:
    gst, qst = round(subtotal_cents * 0.05), round(subtotal_cents * 0.09975)
    wo_number, invoice_number = f"WO-2026-{number:06d}", f"INV-2026-{number:06d}"
    result = await conn.execute(
        work_orders.insert().values(
            number=wo_number,
            customer_id=customer_id,
            vehicle_id=vehicle_id,
            status="completed",
            description="Oil change and tire rotation",
            opened_at=NOW,
            closed_at=NOW,
            subtotal_cents=subtotal_cents,
            tax_cents=gst + qst,
            total_cents=subtotal_cents + gst + qst,
            updated_at=NOW,
        )
    )
    await conn.execute(
        invoices.insert().values(
            number=invoice_number,
            customer_id=customer_id,
            work_order_id=result.inserted_primary_key[0],
            status="sent",
            issued_on=date(2026, 6, 1),
            due_on=date(2026, 7, 1),
            subtotal_cents=subtotal_cents,
            gst_cents=gst,
            qst_cents=qst,
            total_cents=subtotal_cents + gst + qst,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return wo_number, invoice_number


async def add_dated_invoice(
    conn: AsyncConnection,
    customer_id: int,
    *,
    issued_on: date,
    total_cents: int,
    status: str = "sent",
    paid_cents: int = 0,
    due_on: date | None = None,
) -> int:
    """An invoice (no work order) issued on a given day; the taxes are split out of the total."""
    number = next(_numbers)
    gst = round(total_cents * 0.05 / 1.14975)
    qst = round(total_cents * 0.09975 / 1.14975)
    result = await conn.execute(
        invoices.insert().values(
            number=f"INV-T-{number:06d}",
            customer_id=customer_id,
            status=status,
            issued_on=issued_on,
            due_on=due_on or issued_on + timedelta(days=30),
            subtotal_cents=total_cents - gst - qst,
            gst_cents=gst,
            qst_cents=qst,
            total_cents=total_cents,
            paid_cents=paid_cents,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return result.inserted_primary_key[0]


async def add_dated_work_order(
    conn: AsyncConnection, customer_id: int, *, opened_at: datetime, status: str = "completed"
) -> int:
    """A work order (a visit) opened at a given instant, with no vehicle or amounts."""
    number = next(_numbers)
    result = await conn.execute(
        work_orders.insert().values(
            number=f"WO-T-{number:06d}",
            customer_id=customer_id,
            status=status,
            description="Inspection",
            opened_at=opened_at,
            updated_at=NOW,
        )
    )
    return result.inserted_primary_key[0]


async def add_document(
    conn: AsyncConnection,
    customer_id: int,
    *,
    filename: str,
    uploaded_at: datetime = NOW,
    content_type: str = "application/pdf",
    size_bytes: int = 1000,
    uploaded_by: int | None = None,
    work_order_id: int | None = None,
) -> int:
    """A document row without a file behind it (as the demo data has): enough for lists and pagination."""
    import secrets

    from app.tables import documents

    result = await conn.execute(
        documents.insert().values(
            customer_id=customer_id,
            work_order_id=work_order_id,
            filename=filename,
            content_type=content_type,
            size_bytes=size_bytes,
            sha256="0" * 64,
            storage_key=secrets.token_hex(16),
            uploaded_by=uploaded_by,
            uploaded_at=uploaded_at,
        )
    )
    return result.inserted_primary_key[0]


async def add_work_order(
    conn: AsyncConnection,
    customer_id: int,
    vehicle_id: int | None = None,
    *,
    number: str,
    status: str = "open",
    opened_at: datetime = NOW,
    labour_cents: int = 0,
    parts_cents: int = 0,
    advisor_id: int | None = None,
    technician: str | None = None,
    description: str = "Brake inspection",
) -> int:
    """A work order with its amounts adding up (taxes rounded half up); finished ones are closed 2 h later."""
    subtotal = labour_cents + parts_cents
    tax = (subtotal * 5 + 50) // 100 + (subtotal * 9975 + 50_000) // 100_000
    result = await conn.execute(
        work_orders.insert().values(
            number=number,
            customer_id=customer_id,
            vehicle_id=vehicle_id,
            status=status,
            advisor_id=advisor_id,
            technician=technician,
            description=description,
            opened_at=opened_at,
            closed_at=opened_at + timedelta(hours=2) if status in ("completed", "cancelled") else None,
            labour_cents=labour_cents,
            parts_cents=parts_cents,
            subtotal_cents=subtotal,
            tax_cents=tax,
            total_cents=subtotal + tax,
            updated_at=opened_at,
        )
    )
    return result.inserted_primary_key[0]


async def add_invoice(
    conn: AsyncConnection,
    customer_id: int,
    *,
    number: str,
    issued_on: date,
    due_on: date | None = None,
    subtotal_cents: int = 10_000,
    paid_cents: int = 0,
    status: str = "sent",
    work_order_id: int | None = None,
) -> int:
    """An invoice as stored, taxes rounded half up; due 30 days after issue unless told."""
    gst, qst = (subtotal_cents * 5 + 50) // 100, (subtotal_cents * 9975 + 50_000) // 100_000
    result = await conn.execute(
        invoices.insert().values(
            number=number,
            customer_id=customer_id,
            work_order_id=work_order_id,
            status=status,
            issued_on=issued_on,
            due_on=due_on or issued_on + timedelta(days=30),
            subtotal_cents=subtotal_cents,
            gst_cents=gst,
            qst_cents=qst,
            total_cents=subtotal_cents + gst + qst,
            paid_cents=paid_cents,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return result.inserted_primary_key[0]
