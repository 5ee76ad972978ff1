"""The JSON API of Customer 360: the same loaders as the HTML sections, serialized instead of rendered.

Documented at /openapi.json (quart-schema). Errors are {"error": {"code", "message"}}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from quart import Blueprint, abort, request
from quart_schema import QuartSchema, validate_querystring, validate_response
from quart_schema.validation import RequestSchemaValidationError
from sqlalchemy.ext.asyncio import AsyncConnection
from werkzeug.exceptions import BadRequest

from app.activity import ActivityPage
from app.customers import ProfileDetails, customer_exists
from app.db import connection
from app.params import ParamError
from app.sections import SECTIONS
from app.tables import ACTIVITY_KINDS, INVOICE_STATUSES
from app.web.access import allow
from app.web.errors import json_error

blueprint = Blueprint("api", __name__, url_prefix="/api/customer360")

STAFF = ("advisor", "operations", "admin")

schema = QuartSchema(
    openapi_path="/openapi.json",
    redoc_ui_path=None,
    scalar_ui_path=None,
    swagger_ui_path=None,
    info={"title": "ChronoTech Customer 360", "version": "1"},
)


@dataclass
class Error:
    code: str
    message: str


@dataclass
class ErrorBody:
    error: Error


@dataclass
class CursorQuery:
    cursor: str | None = None


@dataclass
class ActivityQuery:
    kind: Literal[ACTIVITY_KINDS] | None = None  # type: ignore[valid-type]
    cursor: str | None = None


@dataclass
class InvoicesQuery:
    status: Literal[INVOICE_STATUSES] | None = None  # type: ignore[valid-type]
    cursor: str | None = None


@dataclass
class RevenueChartQuery:
    months: Literal[12, 24] = 12


@dataclass
class SectionEnvelope:
    section: str
    data: Any


async def load(customer_id: int, section: str) -> Any:
    """Run a section's loader for the JSON API: the same code path as the HTML partial."""
    conn: AsyncConnection = await connection()
    if not await customer_exists(conn, customer_id):
        abort(404, f"There is no customer #{customer_id}.")
    try:
        return await SECTIONS[section].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None


def dump(value: Any) -> Any:
    return TypeAdapter(type(value)).dump_python(value, mode="json")


@blueprint.get("/<int:customer_id>/profile")
@allow(*STAFF)
@validate_response(ProfileDetails)
@validate_response(ErrorBody, 404)
async def profile(customer_id: int):
    """The customer's profile: identity, contacts, preferences, tags, advisor."""
    return await load(customer_id, "profile")


@blueprint.get("/<int:customer_id>/sections/<section>")
@allow(*STAFF)
@validate_response(SectionEnvelope)
@validate_response(ErrorBody, 404)
async def section(customer_id: int, section: str):
    """Any section by name, with that section's own query parameters."""
    if section not in SECTIONS:
        abort(404, f"There is no section {section!r}. Sections are: {', '.join(SECTIONS)}.")
    return SectionEnvelope(section=section, data=dump(await load(customer_id, section)))


@blueprint.get("/<int:customer_id>/activity")
@allow(*STAFF)
@validate_querystring(ActivityQuery)
@validate_response(ActivityPage)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
async def activity(customer_id: int, query_args: ActivityQuery):
    """The activity timeline, newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await load(customer_id, "activity")


def init_app(app) -> None:
    schema.init_app(app)
    app.register_blueprint(blueprint)

    @app.errorhandler(RequestSchemaValidationError)
    async def invalid_request(error: RequestSchemaValidationError):
        cause = error.validation_error
        if isinstance(cause, ValidationError):
            problems = [
                f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
                for problem in cause.errors()
            ]
            message = "; ".join(problems)
        else:
            message = str(cause) or "the request does not match the API's schema"
        return json_error(400, message)
