"""Error pages: every 4xx says what went wrong; a 5xx never shows a stack trace."""

from __future__ import annotations

from http import HTTPStatus

from quart import Quart, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from app.i18n import N_, gettext
from app.web.access import wants_html

# Spelled out rather than derived from http.HTTPStatus, whose phrases change between Python versions.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "internal_server_error",
    503: "service_unavailable",
}


# Werkzeug's names and default descriptions of the statuses this app answers, as written in its source, so
# that they are in the catalogue: an error raised without a message of its own still speaks the user's
# language (tests/test_i18n.py checks they match the installed Werkzeug).
ERROR_NAMES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Conflict"),
    N_("Request Entity Too Large"),
    N_("Unprocessable Entity"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
)
DEFAULT_DESCRIPTIONS = (
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_(
        "The server could not verify that you are authorized to access the URL requested. You either "
        "supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to "
        "supply the credentials required."
    ),
    N_(
        "You don't have the permission to access the requested resource. It is either read-protected or not "
        "readable by the server."
    ),
    N_("The method is not allowed for the requested URL."),
    N_(
        "A conflict happened while processing the request. The resource might have been modified while the "
        "request was being processed."
    ),
    N_("The data value transmitted exceeds the capacity limit."),
    N_("The request was well-formed but was unable to be followed due to semantic errors."),
    N_("This user has exceeded an allotted request count. Try again later."),
    N_(
        "The server is temporarily unable to service your request due to maintenance downtime or capacity "
        "problems. Please try again later."
    ),
)


def json_error(status: int, message: str, **extra):
    """The JSON API's error shape: {"error": {"code": "not_found", "message": "…"}}."""
    code = ERROR_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    return response


async def render_error(error: HTTPException):
    response = await current_app.make_response(await _error_response(error))
    # What the error says about itself: Retry-After on a 429, Allow on a 405, WWW-Authenticate on a 401.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


async def _error_response(error: HTTPException):
    status = error.code or 500
    message = (
        error.description if status < 500 else gettext("Something went wrong on our side. Try again shortly.")
    )
    if isinstance(error, NotFound) and message == NotFound.description:
        message = gettext("There is nothing at %(path)s.", path=request.path)
    elif message in DEFAULT_DESCRIPTIONS:
        message = gettext(message)
    if request.headers.get("HX-Request") == "true":
        return await render_template("partials/error.html", status=status, message=message), status
    if not wants_html():
        return json_error(status, message)
    title = gettext(error.name) if error.name in ERROR_NAMES else error.name
    return await render_template("error.html", status=status, title=title, message=message), status


async def render_unexpected(error: Exception):
    current_app.logger.error("unhandled exception on %s %s", request.method, request.path, exc_info=error)
    return await render_error(InternalServerError())


def init_app(app: Quart) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_unexpected)
