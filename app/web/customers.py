"""The customer list with its active search, and the Customer 360 page."""

from __future__ import annotations

from quart import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from app.customers import QueryError, check_query, get_profile, list_customers
from app.db import connection
from app.pagination import BadCursor, decode_cursor, encode_cursor
from app.web.access import allow

blueprint = Blueprint("customers", __name__)

STAFF = ("advisor", "operations", "admin")


@blueprint.get("/")
@allow(*STAFF)
async def home():
    return redirect(url_for("customers.index"))


@blueprint.get("/customers")
@allow(*STAFF)
async def index():
    try:
        query = check_query(request.args.get("q", ""))
    except QueryError as exc:
        raise BadRequest(f"q: {exc}") from None
    after = None
    if cursor := request.args.get("after"):
        try:
            after = decode_cursor(cursor, str, int)
        except BadCursor as exc:
            raise BadRequest(f"after: {exc}") from None
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
@allow(*STAFF)
async def show(customer_id: int):
    profile = await get_profile(await connection(), customer_id)
    if profile is None:
        abort(404, f"There is no customer #{customer_id}.")
    return await render_template("customers/show.html", profile=profile)
