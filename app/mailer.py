"""Email delivery (being written)."""

from __future__ import annotations

from quart import Quart


def init_app(app: Quart) -> None:
    pass
