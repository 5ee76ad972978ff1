"""The customer list with its active search, and the Customer 360 page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from markupsafe import Markup
from quart import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, url_for
from sqlalchemy.ext.asyncio import AsyncConnection
from werkzeug.exceptions import BadRequest

from app import cache
from app.customers import QueryError, check_query, customer_exists, get_profile, list_customers
from app.db import autocommit, connection, replica_connection
from app.i18n import current_language, gettext
from app.pagination import BadCursor, decode_cursor, encode_cursor
from app.params import NOT_OUR_CURSOR, ParamError
from app.sections import SECTIONS, Section
from app.web.access import READERS, allow

log = logging.getLogger(__name__)

blueprint = Blueprint("customers", __name__)


async def existing_customer(customer_id: int) -> AsyncConnection:
    """The request's connection, once the customer is known to exist (else 404)."""
    conn = await connection()
    if not await customer_exists(conn, customer_id):
        abort(404, gettext("There is no customer #%(id)s.", id=customer_id))
    return conn


@blueprint.get("/")
@allow(*READERS)
async def home():
    return redirect(url_for("customers.index"))


@blueprint.get("/customers")
@allow(*READERS)
async def index():
    searching = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "results"
    try:
        query = check_query(request.args.get("q", ""))
    except QueryError as exc:
        if searching:  # a search being typed, one letter so far: say what it needs, in place of the results
            return await render_template("partials/customer_results.html", hint=str(exc), continued=False)
        raise BadRequest(f"q: {exc}") from None
    after = None
    if cursor := request.args.get("after"):
        try:
            after = decode_cursor(cursor, str, int)
        except BadCursor:
            raise BadRequest("after: " + gettext(NOT_OUR_CURSOR)) from None
    page = await list_customers(await connection(), query=query, after=after)
    context = {
        "query": query,
        "page": page,
        "next_cursor": encode_cursor(*page.next_after) if page.next_after else None,
        "continued": False,
    }
    # htmx asks for the results only: the active search swaps them, "Show more" appends rows.
    if request.headers.get("HX-Request") == "true":
        target = request.headers.get("HX-Target")
        if target in ("results", "more-results"):
            context["continued"] = target == "more-results"
            return await render_template("partials/customer_results.html", **context)
    return await render_template("customers/index.html", **context)


@blueprint.get("/customers/<int:customer_id>")
@allow(*READERS)
async def show(customer_id: int):
    conn = await connection()
    found, event = await cache.customer_and_latest_event(conn, customer_id)
    profile = await get_profile(conn, customer_id) if found else None
    if profile is None:
        abort(404, gettext("There is no customer #%(id)s.", id=customer_id))
    # Each section's own parameters given to the page (a shared view) are handed on to its first load.
    section_args = {
        name: {
            key: request.args[f"{name}.{key}"] for key in section.params if request.args.get(f"{name}.{key}")
        }
        for name, section in SECTIONS.items()
    }
    # The first screenful comes with the page, so that nothing on screen moves when the rest arrives.
    inline = {
        section.name: Markup(
            (await render_section(section, customer_id, section_args[section.name], event))[0]
        )
        for section in SECTIONS.values()
        if section.inline
    }
    return await render_template(
        "customers/show.html",
        profile=profile,
        sections=SECTIONS.values(),
        section_args=section_args,
        inline=inline,
        watermark=current_app.extensions["hub"].watermark,
    )


@blueprint.get("/customers/<int:customer_id>/sections/<name>")
@allow(*READERS)
async def section(customer_id: int, name: str):
    """One section as an HTML partial; a failure stays inside it (an error box with a Retry button)."""
    section = SECTIONS.get(name)
    if section is None:
        abort(
            404,
            gettext(
                "There is no section %(name)r. Sections are: %(names)s.", name=name, names=", ".join(SECTIONS)
            ),
        )
    # Outside the request's transaction: a section the cache holds is served without the request's
    # connection. One rendered afresh reads a snapshot taken after this look, so what it keeps under this
    # event is never older than the event (app.cache).
    found, event = await autocommit(lambda conn: cache.customer_and_latest_event(conn, customer_id))
    if not found:
        abort(404, gettext("There is no customer #%(id)s.", id=customer_id))
    html, status = await render_section(section, customer_id, request.args, event)
    if status != 200:
        return html, status
    response = await make_response(html)
    if section.params and (page_url := shared_view_url(customer_id, section)) is not None:
        # The page's address keeps the section's filters, so a copied link shows the same view; replaced,
        # not pushed, so that Back still leaves the customer.
        response.headers["HX-Replace-Url"] = page_url
    return response


async def render_section(
    section: Section, customer_id: int, args: Mapping[str, str], event: str | None
) -> tuple[str, int]:
    """A section's HTML and status, `event` being the customer's latest (cache.customer_and_latest_event); a
    bad parameter is a 400 naming it, a failure stays inside the section (an error box with a Retry button)
    and is a 500 (and is not cached)."""
    # A hard reload asks for no cached copy: the section is read and rendered again (and kept).
    reload = cache.afresh() if "no-cache" in request.headers.get("Cache-Control", "") else nullcontext()

    async def render() -> str:
        conn = await section_connection(section, customer_id, event)
        return await render_shared(section, conn, customer_id, args)

    try:
        with reload:
            html = await current_app.extensions["section_cache"].fragment(
                customer_id, event, section_variant(section, args), render
            )
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    except Exception:
        log.exception("section %s of customer %s failed", section.name, customer_id)
        html = await render_template("partials/section_error.html", section=section, customer_id=customer_id)
        return html, 500
    return html, 200


async def section_connection(section: Section, customer_id: int, event: str | None) -> AsyncConnection:
    """Where a section reads: the read replica (DATABASE_READ_URL) for the heavy ones once it has caught up
    with the customer's latest `event`, read on the primary; else the primary. The replica's check and the
    section's figures are read in one snapshot, so what the cache keeps under that event (app.cache) is
    exactly what the primary would have given."""
    primary = await connection()
    if not section.replica:
        return primary
    replica = await replica_connection()
    if replica is None:
        return primary
    try:
        caught_up = await cache.latest_event(replica, customer_id) == event
    except Exception as exc:  # a replica that fails mid-way: the primary answers
        log.warning("read replica failed, reading from the primary: %s", type(exc).__name__)
        return primary
    if not caught_up:
        await replica.rollback()  # its next check reads a fresh snapshot
    return replica if caught_up else primary


def section_variant(section: Section, args: Mapping[str, str]) -> str:
    """All a section's HTML depends on besides the customer's data: its parameters, which forms the reader's
    role shows, and the reader's language."""
    query = urlencode([(name, args[name]) for name in (*section.params, "cursor") if args.get(name)])
    return f"{section.name}?{query}|{g.user.role}|{current_language()}"


async def render_shared(
    section: Section, conn: AsyncConnection, customer_id: int, args: Mapping[str, str]
) -> str:
    """The section as any reader of this variant sees it: without this session's CSRF token in its forms
    (htmx sends each page's own, as for the fragments pushed to open pages)."""
    data = await section.load(conn, customer_id, args)
    g.live_render = True
    try:
        return await render_template(
            section.template, section=section, customer_id=customer_id, data=data, args=args
        )
    finally:
        g.live_render = False


def shared_view_url(customer_id: int, section) -> str | None:
    current = request.headers.get("HX-Current-URL")
    if not current:
        return None
    parts = urlsplit(current)
    if parts.path != url_for("customers.show", customer_id=customer_id):
        return None
    current_query = parse_qsl(parts.query)
    query = [(key, value) for key, value in current_query if not key.startswith(f"{section.name}.")]
    query += [(f"{section.name}.{key}", request.args[key]) for key in section.params if request.args.get(key)]
    if sorted(query) == sorted(current_query):
        # The address says so already (every section's first load): no header, because htmx answers one by
        # snapshotting the page for its history, a full layout of the page per section.
        return None
    return urlunsplit(("", "", parts.path, urlencode(query), ""))
