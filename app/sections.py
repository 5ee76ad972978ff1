"""The section registry: name -> loader + template.

A section's loader reads its own parameters (filters, cursors) from the request's query and calls the domain
loader; the HTML route renders the result with `partials/<template>`, the JSON API serializes the same
object. A bad parameter raises ParamError, which both renderings turn into a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quart import current_app
from sqlalchemy.ext.asyncio import AsyncConnection

from app import activity, cache, consents, customers, documents, emails, invoices, vehicles, work_orders
from app import params as p
from app.i18n import N_, gettext
from app.tables import ACTIVITY_KINDS, INVOICE_STATUSES, WORK_ORDER_STATUSES

Loader = Callable[[AsyncConnection, int, Mapping[str, str]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    load: Loader
    # Height of the placeholder in rows.
    skeleton_rows: int
    # Rendered with the page: the first screenful at any width, where a placeholder growing into its content
    # would push what is already on screen.
    inline: bool = False
    # Loaded as soon as the page is; the others as they come near the screen (static/app.js), or a moment
    # after the page.
    eager: bool = False
    # Query parameters the section understands: kept in the page URL to share a view.
    params: tuple[str, ...] = ()
    # Heavy reads over a customer's whole history: served by the read replica when there is one.
    replica: bool = False

    @property
    def template(self) -> str:
        return f"partials/{self.name.replace('-', '_')}.html"


async def _profile(conn, customer_id, args):
    return await customers.load_profile_details(conn, customer_id)


async def _vehicles(conn, customer_id, args):
    return await vehicles.load_vehicles(conn, customer_id)


async def _work_orders(conn, customer_id, args):
    return await work_orders.load_work_orders(
        conn,
        customer_id,
        status=p.choice(args, "status", WORK_ORDER_STATUSES),
        cursor=args.get("cursor") or None,
    )


async def _activity(conn, customer_id, args):
    return await activity.load_activity(
        conn, customer_id, kind=p.choice(args, "kind", ACTIVITY_KINDS), cursor=args.get("cursor") or None
    )


async def _invoices(conn, customer_id, args):
    return await invoices.load_invoices(
        conn,
        customer_id,
        status=p.choice(args, "status", INVOICE_STATUSES),
        cursor=args.get("cursor") or None,
    )


async def _documents(conn, customer_id, args):
    return await documents.load_documents(conn, customer_id, cursor=args.get("cursor") or None)


async def _analytics(conn, customer_id, args):
    return await cache.analytics(current_app.extensions["section_cache"], conn, customer_id)


async def _revenue_chart(conn, customer_id, args):
    months = p.integer(args, "months", default=12, minimum=12, maximum=24)
    if months not in (12, 24):
        raise p.ParamError("months", gettext("must be 12 or 24, not %(months)d", months=months))
    return await cache.revenue_chart(current_app.extensions["section_cache"], conn, customer_id, months)


async def _consents(conn, customer_id, args):
    return await consents.load_consents(conn, customer_id)


async def _communications(conn, customer_id, args):
    return await emails.load_emails(
        conn,
        customer_id,
        cursor=args.get("cursor") or None,
        delivery_configured=current_app.config["SETTINGS"].smtp_url is not None,
    )


SECTIONS: dict[str, Section] = {
    section.name: section
    for section in (
        Section("profile", N_("Profile"), _profile, skeleton_rows=4, inline=True),
        Section("analytics", N_("Analytics"), _analytics, skeleton_rows=3, inline=True, replica=True),
        Section("activity", N_("Activity"), _activity, skeleton_rows=10, eager=True, params=("kind",)),
        Section("vehicles", N_("Vehicles"), _vehicles, skeleton_rows=3, eager=True),
        Section("work-orders", N_("Work orders"), _work_orders, skeleton_rows=5, params=("status",)),
        Section("invoices", N_("Invoices and payments"), _invoices, skeleton_rows=6, params=("status",)),
        Section(
            "revenue-chart", N_("Revenue"), _revenue_chart, skeleton_rows=6, params=("months",), replica=True
        ),
        Section("documents", N_("Documents"), _documents, skeleton_rows=3),
        Section("consents", N_("Privacy consents"), _consents, skeleton_rows=6),
        Section("communications", N_("Communications"), _communications, skeleton_rows=4),
    )
}
