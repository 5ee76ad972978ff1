"""Forms and routes of the invoices area (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("invoices", __name__, url_prefix="/customers/<int:customer_id>")
