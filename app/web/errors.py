"""Error pages: every 4xx says what went wrong; a 5xx never shows a stack trace."""

from __future__ import annotations

from http import HTTPStatus

from quart import Quart, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from app.i18n import gettext
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
    if request.headers.get("HX-Request") == "true":
        return await render_template("partials/error.html", status=status, message=message), status
    if not wants_html():
        return json_error(status, message)
    return await render_template("error.html", status=status, title=error.name, message=message), status


async def render_unexpected(error: Exception):
    current_app.logger.error("unhandled exception on %s %s", request.method, request.path, exc_info=error)
    return await render_error(InternalServerError())


def init_app(app: Quart) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_unexpected)
