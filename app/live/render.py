"""The HTML an event pushes into open pages: the same row partials the sections render, marked out of band.

A fragment depends on who looks at it (forms for roles that may write, money in the viewer's language), so
it is rendered once per event for each kind of viewer (a Viewer) that has a page open, not once per socket;
what it shows is read once per event, whatever the number of viewers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from quart import Quart, g, render_template
from quart.ctx import RequestContext
from sqlalchemy.ext.asyncio import AsyncConnection

from app import cache, invoices, work_orders
from app.activity import LiveEntry
from app.shop_time import shop_today

MONEY_KINDS = frozenset({"payment", "invoice_issued", "invoice_status"})
WORK_ORDER_KINDS = frozenset({"work_order_opened", "work_order_status", "invoice_issued"})
# Sections re-read in full when these kinds happen (their rows have no fragment of their own).
REFRESHED_SECTIONS = {
    "consent_granted": ("consents", "communications"),
    "consent_withdrawn": ("consents", "communications"),
    "email": ("communications",),
    "document_uploaded": ("documents",),
    "profile_updated": ("profile",),
    "vehicle_added": ("vehicles",),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """What a fragment depends on: the role (which forms it shows) and the language (how money reads)."""

    role: str
    language: str


async def render_customer_event(
    app: Quart, conn: AsyncConnection, entry: LiveEntry, viewers: Iterable[Viewer]
) -> dict[Viewer, str]:
    """Fragments for the open Customer 360 pages of the entry's customer, by viewer."""
    item = entry.activity
    customer_id = item.customer_id
    context = {"entry": item, "customer_id": customer_id, "prefix": "activity", "oob": True}
    details = item.details or {}
    kind = item.kind
    refresh: list[str] = list(REFRESHED_SECTIONS.get(kind, ()))
    if kind in MONEY_KINDS:
        today = shop_today()
        if kind == "invoice_issued":  # a new row: its place in the list is the section's to find
            refresh.append("invoices")
        elif invoice_id := (details.get("invoice_id") if kind == "payment" else item.ref_id):
            context["invoice"] = await invoices.get_invoice(conn, customer_id, int(invoice_id), today=today)
        context["totals"] = await invoices.load_invoice_totals(conn, customer_id, today=today)
        context["analytics"] = await cache.analytics(app.extensions["section_cache"], conn, customer_id)
        refresh.append("revenue-chart")
    if kind in WORK_ORDER_KINDS:
        if kind == "work_order_opened":
            refresh.append("work-orders")
        work_order_id = details.get("work_order_id") if kind == "invoice_issued" else item.ref_id
        if work_order_id:
            context["work_order"] = await work_orders.get_work_order(conn, customer_id, int(work_order_id))
    context["refresh"] = refresh
    return {
        viewer: await render_for(app, viewer, "live/customer_event.html", **context) for viewer in viewers
    }


async def render_stream_event(
    app: Quart, conn: AsyncConnection, entry: LiveEntry, viewers: Iterable[Viewer]
) -> dict[Viewer, str]:
    """The entry as a row of the operations stream, by viewer."""
    template = "live/stream_event.html"
    return {viewer: await render_for(app, viewer, template, item=entry.stream) for viewer in viewers}


def resync_message(watermark: int) -> str:
    """Tells a page to reload its sections and resume after `watermark`: when it missed too much to replay,
    or an event could not be rendered."""
    return f'<meta name="live-resync" content="{int(watermark)}">'


async def render_for(app: Quart, viewer: Viewer, template: str, **context) -> str:
    """Render outside any request, as `viewer` would see it (templates read the role and language off
    g.user; forms get no CSRF token of their own: htmx sends each page's)."""
    async with RenderContext(app, app.test_request_context("/").request):
        g.user = viewer
        g.live_render = True
        return await render_template(template, **context)


class RenderContext(RequestContext):
    """The request context of a render outside any request, for "/", whose match is made once per app.

    Each of werkzeug's matches leaves a reference cycle for the collector (its matcher recurses through a
    closure), and every process renders each event for each kind of viewer: at 100 events a second, that
    was 200 cycles a second per process, most of the garbage its young collections had to free."""

    def match_request(self) -> None:
        matched = self.app.extensions.get(_MATCHED)
        if matched is None:
            super().match_request()
            request = self.request
            matched = (request.url_rule, request.view_args, request.routing_exception)
            self.app.extensions[_MATCHED] = matched
        url_rule, view_args, routing_exception = matched
        self.request.url_rule = url_rule
        self.request.view_args = None if view_args is None else dict(view_args)
        self.request.routing_exception = routing_exception


_MATCHED = "live_render_match"
