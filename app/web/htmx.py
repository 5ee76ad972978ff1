"""The few htmx conventions of this app, in one place."""

from __future__ import annotations

import json

from quart import Response, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def refresh_sections(response: Response, *names: str) -> Response:
    """Ask the page to reload these sections (each section listens for `refresh-<name>` on the body)."""
    events = json.loads(response.headers.get("HX-Trigger", "{}"))
    events.update({f"refresh-{name}": None for name in names})
    response.headers["HX-Trigger"] = json.dumps(events)
    return response
