"""Forms and routes of the documents area (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("documents", __name__, url_prefix="/customers/<int:customer_id>")
