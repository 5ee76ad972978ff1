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
