"""The JSON API of Customer 360: the same loaders as the HTML sections, serialized instead of rendered.

Documented at /openapi.json (quart-schema). Errors are {"error": {"code", "message"}}.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass
from quart import Blueprint, abort, current_app, g, request
from quart_schema import QuartSchema, validate_querystring, validate_request, validate_response
from quart_schema.openapi import OpenAPIProvider
from quart_schema.validation import RequestSchemaValidationError
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound

from app import emails as email_domain
from app import invoices as invoice_domain
from app import mailer
from app.activity import ActivityPage, record_activity
from app.analytics import Analytics, RevenueChart
from app.cache import latest_event
from app.consents import Consents
from app.customers import MAX_ID, ProfileDetails
from app.documents import DocumentsPage
from app.i18n import format_number, gettext
from app.invoices import MAX_AMOUNT_CENTS, REFERENCE_MAX_LENGTH, InvoicesPage
from app.live.events import commit_and_announce
from app.params import ParamError
from app.sections import SECTIONS
from app.tables import ACTIVITY_KINDS, EMAIL_CATEGORIES, INVOICE_STATUSES, PAYMENT_METHODS
from app.web import limits
from app.web.access import READERS, WRITERS, allow
from app.web.customers import existing_customer, section_connection
from app.web.errors import json_error, render_error

blueprint = Blueprint("api", __name__, url_prefix="/api/customer360")
limits.limit_api(blueprint)


class ApiDocument(OpenAPIProvider):
    """/openapi.json documents the JSON API only: the HTML pages and their forms are not an API."""

    def generate_rules(self):
        return (rule for rule in super().generate_rules() if rule.endpoint.startswith(f"{blueprint.name}."))

    def build_path_parameter(self, name, converter):
        parameter = super().build_path_parameter(name, converter)
        if parameter["schema"] == {"type": "integer"}:  # row ids: what the database can hold
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return parameter

    def build_request_body(self, model, source):
        body, components = super().build_request_body(model, source)
        return {**body, "required": True}, components  # every body is a model: none is optional

    def build_paths(self, rule):
        paths, components = super().build_paths(rule)
        for operation in next(iter(paths.values())).values():
            # Every operation needs credentials, and a role the operation allows.
            error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
            operation["responses"].setdefault(401, {**error, "description": "No or invalid credentials"})
            operation["responses"].setdefault(403, {**error, "description": "The role does not allow it"})
        if rule.endpoint == f"{blueprint.name}.section":
            for operation in next(iter(paths.values())).values():
                for parameter in operation["parameters"]:
                    if parameter["name"] == "section":
                        parameter["schema"] = {"type": "string", "enum": list(SECTIONS)}
        return paths, components


schema = QuartSchema(
    openapi_path="/openapi.json",
    redoc_ui_path=None,
    scalar_ui_path=None,
    swagger_ui_path=None,
    info={"title": "ChronoTech Customer 360", "version": "1"},
    openapi_provider_class=ApiDocument,
    # Other modules send an API token (`customer360 token create`); pages use their session cookie.
    security_schemes={
        "token": {"type": "http", "scheme": "bearer"},
        "session": {"type": "apiKey", "in_": "cookie", "name": "session"},
    },
    security=[{"token": []}, {"session": []}],
)


# quart-schema wraps each request's and response's class in a pydantic TypeAdapter: a plain dataclass's schema
# would be rebuilt every time (about 1 ms a write), a pydantic dataclass's is built once, with the class.
@dataclass
class Error:
    code: str
    message: str
    # Why a write was refused (e.g. "consent_missing"), and each invalid field's problem.
    reason: str | None = None
    fields: dict[str, str] | None = None


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
    # Query strings are text: "24" is read as the number 24.
    months: Annotated[
        Literal[12, 24],
        BeforeValidator(lambda value: int(value) if str(value).isascii() and str(value).isdigit() else value),
    ] = 12


@dataclass
class SectionEnvelope:
    section: str
    data: Any


def _unpaired_surrogate(document: Any) -> str | None:
    """The first string in a parsed JSON document that holds half a UTF-16 pair ("\\ud800"), if any."""
    pending = [document]
    while pending:  # iterative: the document may be as deep as the parser allows
        value = pending.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode()
                except UnicodeEncodeError as exc:
                    return f"\\u{ord(value[exc.start]):04x}"
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


@blueprint.before_request
async def check_json_body():
    """A JSON body is UTF-8 text (RFC 8259) of a JSON document whose strings are text: anything else is a
    400 saying what is wrong, where the decoder, the parser or the database driver would fail."""
    if not request.is_json:
        return None
    body = await request.get_data()  # kept: the view's validation reads it again
    if not body:  # nothing to check; a view that needs a body says so itself
        return None
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        return json_error(
            400,
            "body: "
            + gettext("is not UTF-8 text (byte %(byte)d); send JSON encoded as UTF-8", byte=exc.start),
        )
    try:
        document = json.loads(text)
    except RecursionError:
        return json_error(400, "body: " + gettext("the JSON is nested too deeply"))
    except ValueError as exc:
        # The parser's own explanation (line and column) stays as Python words it.
        return json_error(400, "body: " + gettext("is not JSON (%(reason)s)", reason=exc))
    if (surrogate := _unpaired_surrogate(document)) is not None:
        return json_error(
            400,
            "body: "
            + gettext("%(escape)s is half of a UTF-16 surrogate pair, not a character", escape=surrogate),
        )
    return None


async def load(customer_id: int, section: str) -> Any:
    """Run a section's loader for the JSON API: the same code path as the HTML partial."""
    conn = await existing_customer(customer_id)
    if SECTIONS[section].replica and current_app.extensions["db_read_engine"] is not None:
        conn = await section_connection(SECTIONS[section], customer_id, await latest_event(conn, customer_id))
    try:
        return await SECTIONS[section].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None


def dump(value: Any) -> Any:
    return TypeAdapter(type(value)).dump_python(value, mode="json")


@blueprint.get("/<int:customer_id>/profile")
@allow(*READERS)
@validate_response(ProfileDetails)
@validate_response(ErrorBody, 404)
async def profile(customer_id: int):
    """The customer's profile: identity, contacts, preferences, tags, advisor."""
    return await load(customer_id, "profile")


@blueprint.get("/<int:customer_id>/sections/<section>")
@allow(*READERS)
@validate_response(SectionEnvelope)
@validate_response(ErrorBody, 404)
async def section(customer_id: int, section: str):
    """Any section by name, with that section's own query parameters."""
    if section not in SECTIONS:
        abort(
            404,
            gettext(
                "There is no section %(name)r. Sections are: %(names)s.",
                name=section,
                names=", ".join(SECTIONS),
            ),
        )
    return SectionEnvelope(section=section, data=dump(await load(customer_id, section)))


@blueprint.get("/<int:customer_id>/activity")
@allow(*READERS)
@validate_querystring(ActivityQuery)
@validate_response(ActivityPage)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
async def activity(customer_id: int, query_args: ActivityQuery):
    """The activity timeline, newest first; pass `next_cursor` back as `cursor` for the next page."""
    return await load(customer_id, "activity")


@blueprint.get("/<int:customer_id>/invoices")
@allow(*READERS)
@validate_querystring(InvoicesQuery)
@validate_response(InvoicesPage)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
async def invoices(customer_id: int, query_args: InvoicesQuery):
    """Invoices newest first with balances, overdue ones marked, and the customer's totals."""
    return await load(customer_id, "invoices")


@blueprint.get("/<int:customer_id>/documents")
@allow(*READERS)
@validate_querystring(CursorQuery)
@validate_response(DocumentsPage)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
async def documents(customer_id: int, query_args: CursorQuery):
    """The customer's documents (metadata), newest first; files at /customers/{id}/documents/{document_id}."""
    return await load(customer_id, "documents")


@blueprint.get("/<int:customer_id>/analytics")
@allow(*READERS)
@validate_response(Analytics)
@validate_response(ErrorBody, 404)
async def analytics(customer_id: int):
    """Lifetime and yearly revenue, invoices, average ticket, balances, visits."""
    return await load(customer_id, "analytics")


@blueprint.get("/<int:customer_id>/revenue-chart")
@allow(*READERS)
@validate_querystring(RevenueChartQuery)
@validate_response(RevenueChart)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
async def revenue_chart(customer_id: int, query_args: RevenueChartQuery):
    """Monthly revenue for the last 12 or 24 months, oldest first, months without revenue included."""
    return await load(customer_id, "revenue-chart")


@blueprint.get("/<int:customer_id>/consents")
@allow(*READERS)
@validate_response(Consents)
@validate_response(ErrorBody, 404)
async def consents(customer_id: int):
    """Every purpose x channel with its status, legal basis and wording, and the history of changes."""
    return await load(customer_id, "consents")


@dataclass
class SendEmailRequest:
    category: Literal[EMAIL_CATEGORIES]  # type: ignore[valid-type]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=email_domain.SUBJECT_MAX_LENGTH)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=email_domain.BODY_MAX_LENGTH)]


# What other ChronoTech modules may report: the kinds whose own writes do not go through this app's forms.
REPORTED_KINDS = ("note", "call", "visit", "vehicle_added", "work_order_opened", "email", "document_uploaded")
# A report may be a little late, never from the future (clocks drift by seconds, not minutes).
CLOCK_SKEW = timedelta(minutes=5)


def iso_text_only(value: Any) -> Any:
    """An instant must come as ISO 8601 text; a bare number would be read as seconds since 1970."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time with its offset, e.g. 2026-11-27T14:05:00-05:00")
    return value


def json_integer(value: Any) -> Any:
    """A count of cents as JSON has it: a number without a fraction (17163 or 17163.0), not text or true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number (of cents), e.g. 11498 for $114.98")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number of cents, without a fraction")
    return int(value)


@dataclass
class ActivityReport:
    kind: Literal[REPORTED_KINDS]  # type: ignore[valid-type]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    # Who did it, when not the signed-in user of the session: "ChronoTech POS", "Online booking", …
    actor_label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None
    occurred_at: Annotated[AwareDatetime, BeforeValidator(iso_text_only)] | None = None
    details: dict[str, Any] | None = None


@dataclass
class ActivityRecorded:
    id: int
    customer_id: int


@blueprint.post("/<int:customer_id>/activity")
@allow(*WRITERS)
@validate_request(ActivityReport)
@validate_response(ActivityRecorded, 201)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
async def report_activity(customer_id: int, data: ActivityReport):
    """Another module reports something that happened to the customer: it joins the timeline and is pushed
    to every open page, like the app's own writes."""
    conn = await existing_customer(customer_id)
    occurred_at = data.occurred_at.astimezone(UTC) if data.occurred_at else datetime.now(UTC)
    if occurred_at > datetime.now(UTC) + CLOCK_SKEW:
        return ErrorBody(Error("bad_request", "occurred_at: " + gettext("is in the future"))), 400
    if data.details is not None and len(json.dumps(data.details)) > 4000:
        problem = gettext("keep it under %(limit)s characters of JSON", limit=format_number(4000))
        return ErrorBody(Error("bad_request", "details: " + problem)), 400
    activity_id = await record_activity(
        conn,
        customer_id=customer_id,
        kind=data.kind,
        summary=data.summary,
        actor_id=None if data.actor_label else g.user.id,
        actor_label=data.actor_label,
        details=data.details,
        occurred_at=occurred_at,
    )
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, activity_id)])
    return ActivityRecorded(activity_id, customer_id), 201


@dataclass
class PaymentReport:
    amount_cents: Annotated[int, Field(gt=0, le=MAX_AMOUNT_CENTS), BeforeValidator(json_integer)]
    method: Literal[PAYMENT_METHODS]  # type: ignore[valid-type]
    # The payment's own reference (terminal receipt, cheque number, transfer id).
    reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=REFERENCE_MAX_LENGTH)] | None
    ) = None
    # When the money was received, if not now (a terminal's batch sent later).
    received_at: Annotated[AwareDatetime, BeforeValidator(iso_text_only)] | None = None


@dataclass
class PaymentTaken:
    payment_id: int
    event_id: int
    invoice_id: int
    amount_cents: int
    # The invoice after this payment: "paid", "partially_paid" or "overdue", and what is still due.
    status: str
    balance_cents: int


@blueprint.post("/<int:customer_id>/invoices/<int:invoice_id>/payments")
@allow(*WRITERS)
@validate_request(PaymentReport)
@validate_response(PaymentTaken, 201)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 422)
async def take_payment(customer_id: int, invoice_id: int, data: PaymentReport):
    """A payment taken elsewhere (the POS, a terminal, online): added to the invoice by the same guarded
    update as the page's form, so it can never overpay it; every open page sees the invoice and the KPIs
    change. 422 when the invoice takes no payment or the amount is more than its balance."""
    conn = await existing_customer(customer_id)
    received_at = data.received_at.astimezone(UTC) if data.received_at else datetime.now(UTC)
    if received_at > datetime.now(UTC) + CLOCK_SKEW:
        return ErrorBody(Error("bad_request", "received_at: " + gettext("is in the future"))), 400
    try:
        recorded = await invoice_domain.record_payment(
            conn,
            customer_id,
            invoice_id,
            invoice_domain.PaymentForm(data.amount_cents, data.method, data.reference or None),
            actor_id=g.user.id,
            received_at=received_at,
        )
    except invoice_domain.InvoiceNotFound:
        await conn.rollback()
        abort(
            404,
            gettext(
                "Customer #%(customer)s has no invoice #%(invoice)s.",
                customer=customer_id,
                invoice=invoice_id,
            ),
        )
    except invoice_domain.PaymentInvalid as exc:
        await conn.rollback()
        # Named as in this API's body ("form" is the invoice as a whole: paid, void, draft).
        fields = {
            ("amount_cents" if field == "amount" else field): message for field, message in exc.errors.items()
        }
        message = "; ".join(f"{field}: {problem}" for field, problem in fields.items())
        return ErrorBody(Error("unprocessable_entity", message, reason="payment_refused", fields=fields)), 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, recorded.activity_id)])
    return PaymentTaken(
        recorded.payment_id,
        recorded.activity_id,
        invoice_id,
        recorded.amount_cents,
        recorded.status,
        recorded.balance_cents,
    ), 201


@dataclass
class SentEmail:
    email_id: int
    event_id: int
    recipient: str
    language: str
    status: str
    delivery_configured: bool


@blueprint.post("/<int:customer_id>/send-email")
@allow(*WRITERS)
@validate_request(SendEmailRequest)
@validate_response(SentEmail, 202)
@validate_response(ErrorBody, 400)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 422)
async def send_email(customer_id: int, data: SendEmailRequest):
    """Queue an email to the customer's primary address; refused (422) unless their consent allows it."""
    conn = await existing_customer(customer_id)
    try:
        queued = await email_domain.send_email(
            conn,
            customer_id,
            category=data.category,
            subject=data.subject,
            body=data.body,
            actor_id=g.user.id,
        )
    except email_domain.EmailInvalid as exc:
        await conn.rollback()
        return ErrorBody(Error("unprocessable_entity", str(exc), fields=exc.errors)), 422
    except email_domain.EmailRefused as exc:
        await conn.rollback()
        return ErrorBody(Error("unprocessable_entity", str(exc), reason=exc.reason)), 422
    await commit_and_announce(conn, current_app.extensions["broker"], [(customer_id, queued.activity_id)])
    mailer.wake(current_app)
    configured = current_app.config["SETTINGS"].smtp_url is not None
    return SentEmail(
        queued.email_id, queued.activity_id, queued.recipient, queued.language, "queued", configured
    ), 202


def init_app(app) -> None:
    schema.init_app(app)
    app.register_blueprint(blueprint)

    def _matches(method: str) -> bool:
        try:
            current_app.url_map.bind("localhost").match(request.path, method=method)
        except HTTPException:
            return False
        return True

    @app.errorhandler(MethodNotAllowed)
    async def method_not_allowed(error: MethodNotAllowed):
        # A 405 says which methods the URL does take (RFC 9110 §15.5.6), for the API as for the pages.
        if not any(_matches(method) for method in error.valid_methods or ()):
            # Werkzeug answers 405 when a path only failed a converter (an id out of range): it names nothing.
            return await render_error(NotFound())
        response = await current_app.make_response(await render_error(error))
        if error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

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
            message = str(cause) or gettext("the request does not match the API's schema")
        return json_error(400, message)
