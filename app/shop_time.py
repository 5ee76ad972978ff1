"""The shop's clock: instants are stored in UTC, but days, months and years are the shop's own."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from quart import current_app, has_app_context

DEFAULT_SHOP_TIMEZONE = ZoneInfo("America/Toronto")


def shop_timezone() -> ZoneInfo:
    """The configured shop zone inside the app, America/Toronto outside it (scripts, domain tests)."""
    if has_app_context():
        settings = current_app.config.get("SETTINGS")
        if settings is not None:
            return settings.shop_timezone
    return DEFAULT_SHOP_TIMEZONE


def shop_today() -> date:
    return datetime.now(shop_timezone()).date()
