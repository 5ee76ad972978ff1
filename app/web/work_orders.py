"""Forms and routes of the work_orders area (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("work_orders", __name__, url_prefix="/customers/<int:customer_id>")
