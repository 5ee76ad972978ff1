"""Forms and routes of the profile area (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("profile", __name__, url_prefix="/customers/<int:customer_id>")
