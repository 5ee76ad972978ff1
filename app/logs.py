"""Structured logs: one JSON object per line, each carrying the id of the request that caused it.

The request id comes from the request's X-Request-ID (set by the reverse proxy, see deploy/nginx.conf) when it
is a sane token, else is made here; it is returned in the response's X-Request-ID, written on every line
logged while the request (or WebSocket) is handled, Hypercorn's access line included, and stored with the
events the request records in the activity log (app.activity), so a line of any process that handles the
event later (the hub's fan-out) can be traced back to the click that caused it.

No personal data: access lines hold the path without its query (a search's terms), no client address, no
referrer; an email address in any message (an SMTP server's rejection quotes the recipient) is masked; the
database engines hide statement parameters from their errors (app.db).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

# What a caller's id may look like: a proxy's hex id, a UUID, a trace id. Anything else is replaced.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# The attributes every LogRecord has: anything else on a record came from `extra=` and is logged as a field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def request_id() -> str | None:
    """The id of the request (or WebSocket, or event) being handled, if any."""
    return _request_id.get()


@contextmanager
def handling(request_id: str | None) -> Iterator[None]:
    """Within: log lines carry this request id (the hub sets an event's while it fans the event out)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    return value if value is not None and _SANE_ID.fullmatch(value) else new_request_id()


class RequestIdMiddleware:
    """ASGI: gives each request and WebSocket its id before the application sees it, so that every task the
    application starts for it inherits the id, and answers it in X-Request-ID."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        rid = accepted_request_id(sent.decode("latin1") if sent is not None else None)
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        with handling(rid):
            await self.app(scope, receive, send_with_id)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": mask(record.getMessage()),
        }
        if (rid := _request_id.get()) is not None:
            entry["request_id"] = rid
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def mask(text: str) -> str:
    return _EMAIL.sub("<email>", text)


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for the whole process (the application's loggers and Hypercorn's)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a JSON line too, not raw text between them
    # Alembic tells of each plugin it loads, in every worker, when readiness first looks at the migrations.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
