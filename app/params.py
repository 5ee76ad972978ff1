"""Query and form parameters: parsed once, and a bad one is a ParamError naming it and saying why."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.i18n import N_, gettext
from app.pagination import BadCursor, decode_cursor

# ASCII digits only: str.isdigit() also accepts "²" and "٢", which int() refuses or reads differently.
_INTEGER = re.compile(r"-?[0-9]+")
# What is wrong with a cursor that was forged, truncated or made by another version (see app.pagination).
NOT_OUR_CURSOR = N_("is not a cursor this server made")


class ParamError(ValueError):
    """`name` is the parameter as sent; `problem` says what is wrong, in the user's language."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


def choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    """An optional value from `allowed`; empty means no value."""
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise ParamError(
            name,
            gettext(
                "must be one of %(allowed)s, not %(value)s", allowed=", ".join(allowed), value=repr(value)
            ),
        )
    return value


def integer(args: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = (args.get(name) or "").strip()
    if not value:
        return default
    if not _INTEGER.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise ParamError(
            name,
            gettext(
                "must be a whole number from %(minimum)d to %(maximum)d, not %(value)s",
                minimum=minimum,
                maximum=maximum,
                value=repr(value),
            ),
        )
    return int(value)


def cursor_values(cursor: str, *types: type, name: str = "cursor") -> tuple[Any, ...]:
    """The values inside an opaque cursor (see app.pagination), or ParamError naming the parameter."""
    try:
        return decode_cursor(cursor, *types)
    except BadCursor:
        raise ParamError(name, gettext(NOT_OUR_CURSOR)) from None


def cursor_instant(value: str, name: str = "cursor") -> datetime:
    """The aware instant (in UTC) a cursor carries as ISO text, or ParamError: malformed, naive, or so near
    year 1 or 9999 that UTC cannot hold it (the database column converts to UTC)."""
    try:
        instant = datetime.fromisoformat(value)
        if instant.tzinfo is None:
            raise ValueError("naive")
        return instant.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise ParamError(name, gettext(NOT_OUR_CURSOR)) from None


def cursor(args: Mapping[str, str], name: str, *types: type) -> tuple[Any, ...] | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return decode_cursor(value, *types)
    except BadCursor:
        raise ParamError(name, gettext(NOT_OUR_CURSOR)) from None
