"""A realistic live stream for demos and load tests: the writes a busy shop makes, through the same domain
functions and the same commit-then-announce path as the pages' forms."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import activity, invoices, work_orders
from app.live.broker import Broker
from app.live.events import commit_and_announce
from app.tables import customers, users
from app.tables import invoices as invoices_table
from app.tables import work_orders as work_orders_table

# What advisors write, in the customer's language: (French, English).
NOTES = (
    ("Préfère qu'on l'appelle après 16 h.", "Prefers to be called after 4 pm."),
    ("A demandé une soumission pour des pneus d'hiver.", "Asked for a quote on winter tires."),
    ("Viendra chercher la voiture demain matin.", "Will pick the car up tomorrow morning."),
    (
        "Signale un bruit de cliquetis à la roue arrière gauche.",
        "Mentioned a rattle from the rear left wheel.",
    ),
    ("Voudrait la voiture de courtoisie jeudi.", "Wants the loaner car for Thursday."),
    ("A versé un dépôt par téléphone.", "Paid a deposit over the phone."),
)
CALLS = (
    ("Appel pour confirmer le rendez-vous.", "Called to confirm the appointment."),
    ("Message laissé : la voiture est prête.", "Left a message: the car is ready."),
    ("Le client a appelé au sujet du total de la facture.", "Customer called about the invoice total."),
    ("Rappel au sujet du bruit des freins.", "Called back about the brake noise."),
)
VISITS = (
    ("A déposé la voiture au comptoir.", "Dropped the car off at the counter."),
    ("Est venu chercher la voiture.", "Picked the car up."),
    ("Passage pour vérifier la pression des pneus.", "Came in for a tire pressure check."),
)
NEXT_STATUS = {"open": "in_progress", "in_progress": "completed", "waiting_parts": "in_progress"}


@dataclass
class Tally:
    """What the simulator wrote, by kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def simulate(
    engine: AsyncEngine,
    broker: Broker,
    *,
    rate: float,
    customers_count: int,
    duration: float | None,
    seed: int | None = None,
    report: Callable[[Tally, float], None] | None = None,
) -> Tally:
    """Write about `rate` events a second among the first `customers_count` customers (by id) until
    `duration` seconds have passed (None: until cancelled)."""
    rng = random.Random(seed)
    async with engine.connect() as conn:
        chosen = select(customers.c.id, customers.c.language).order_by(customers.c.id).limit(customers_count)
        ids = [(row.id, row.language) for row in await conn.execute(chosen)]
        staff = list((await conn.execute(select(users.c.id).where(users.c.role == "advisor"))).scalars())
    if not ids or not staff:
        raise LookupError("no customers or advisors to simulate: run `customer360 seed` first")
    tally, started, interval = Tally(), time.monotonic(), 1.0 / rate
    next_at, last_report = started, started
    while duration is None or time.monotonic() - started < duration:
        async with engine.connect() as conn:
            customer_id, language = rng.choice(ids)
            kind = await write_one(conn, broker, rng, customer_id, rng.choice(staff), language)
        tally.add(kind)
        next_at += interval  # open loop: a slow write does not slow the rate down
        now = time.monotonic()
        if report is not None and now - last_report >= 1.0:
            report(tally, now - started)
            last_report = now
        await asyncio.sleep(max(0.0, next_at - now))
    return tally


async def write_one(
    conn: AsyncConnection,
    broker: Broker,
    rng: random.Random,
    customer_id: int,
    actor_id: int,
    language: str = "fr",
) -> str:
    """One realistic write for this customer (notes in their language); returns its kind."""
    roll = rng.random()
    if roll < 0.15 and (written := await _payment(conn, broker, rng, customer_id, actor_id)):
        return written
    if roll < 0.30 and (written := await _work_order_step(conn, broker, customer_id, actor_id)):
        return written
    kind, texts = rng.choice((("note", NOTES), ("call", CALLS), ("visit", VISITS)))
    activity_id = await activity.record_activity(
        conn,
        customer_id=customer_id,
        kind=kind,
        summary=rng.choice(texts)[0 if language == "fr" else 1],
        actor_id=actor_id,
    )
    await commit_and_announce(conn, broker, [(customer_id, activity_id)])
    return kind


async def _payment(conn, broker, rng, customer_id: int, actor_id: int) -> str | None:
    row = (
        await conn.execute(
            select(invoices_table.c.id, invoices_table.c.total_cents, invoices_table.c.paid_cents)
            .where(
                invoices_table.c.customer_id == customer_id,
                invoices_table.c.status.in_(("sent", "partially_paid", "overdue")),
            )
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    balance = row.total_cents - row.paid_cents
    amount = balance if rng.random() < 0.6 else max(1, balance // 2)
    form = invoices.PaymentForm(amount, rng.choice(("card", "debit", "cash")), None)
    try:
        recorded = await invoices.record_payment(conn, customer_id, row.id, form, actor_id=actor_id)
    except (invoices.PaymentInvalid, invoices.InvoiceNotFound):
        await conn.rollback()
        return None
    await commit_and_announce(conn, broker, [(customer_id, recorded.activity_id)])
    return "payment"


async def _work_order_step(conn, broker, customer_id: int, actor_id: int) -> str | None:
    row = (
        await conn.execute(
            select(work_orders_table.c.id, work_orders_table.c.status)
            .where(
                work_orders_table.c.customer_id == customer_id,
                work_orders_table.c.status.in_(tuple(NEXT_STATUS)),
            )
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    try:
        changed = await work_orders.change_status(
            conn,
            customer_id,
            row.id,
            new_status=NEXT_STATUS[row.status],
            expected_status=row.status,
            actor_id=actor_id,
        )
    except (work_orders.StatusChangeRefused, work_orders.WorkOrderNotFound):
        await conn.rollback()
        return None
    await commit_and_announce(conn, broker, [(customer_id, changed.activity_id)])
    return "work_order_status"
