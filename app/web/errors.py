"""Error pages: every 4xx says what went wrong; a 5xx never shows a stack trace."""

from __future__ import annotations

from http import HTTPStatus

from quart import Quart, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.web.access import wants_html


def json_error(status: int, message: str, **extra):
    """The JSON API's error shape: {"error": {"code": "not_found", "message": "…"}}."""
    code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    return response


async def render_error(error: HTTPException):
    status = error.code or 500
    message = error.description if status < 500 else "Something went wrong on our side. Try again shortly."
    if request.headers.get("HX-Request") == "true":
        return await render_template("partials/error.html", status=status, message=message), status
    if not wants_html():
        return json_error(status, message)
    return await render_template("error.html", status=status, title=error.name, message=message), status


async def render_unexpected(error: Exception):
    # Quart has already logged the exception with its traceback.
    return await render_error(InternalServerError())


def init_app(app: Quart) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_unexpected)
