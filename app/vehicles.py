"""A customer's vehicles, with their last and next service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tables import vehicles, work_orders

MAX_VEHICLES = 50


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: int
    vin: str
    plate: str | None
    make: str
    model: str
    year: int
    color: str | None
    odometer_km: int
    last_service_at: datetime | None
    next_service_on: date | None
    next_service_km: int | None

    @property
    def title(self) -> str:
        return f"{self.year} {self.make} {self.model}"


async def load_vehicles(conn: AsyncConnection, customer_id: int) -> list[Vehicle]:
    """The customer's vehicles, newest model year first; last service from their completed work orders."""
    last_service = (
        select(func.max(work_orders.c.closed_at))
        .where(work_orders.c.vehicle_id == vehicles.c.id, work_orders.c.status == "completed")
        .scalar_subquery()
    )
    statement = (
        select(
            vehicles.c.id,
            vehicles.c.vin,
            vehicles.c.plate,
            vehicles.c.make,
            vehicles.c.model,
            vehicles.c.year,
            vehicles.c.color,
            vehicles.c.odometer_km,
            last_service.label("last_service_at"),
            vehicles.c.next_service_on,
            vehicles.c.next_service_km,
        )
        .where(vehicles.c.customer_id == customer_id)
        .order_by(vehicles.c.id.desc())  # the latest added first, along the (customer_id) index
        .limit(MAX_VEHICLES)
    )
    return [Vehicle(*row) for row in await conn.execute(statement)]
