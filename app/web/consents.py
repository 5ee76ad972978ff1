"""Forms and routes of the consents area (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("consents", __name__, url_prefix="/customers/<int:customer_id>")
