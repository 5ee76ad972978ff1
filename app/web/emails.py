"""Forms and routes of the emails area (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("emails", __name__, url_prefix="/customers/<int:customer_id>")
