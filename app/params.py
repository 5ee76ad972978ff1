"""Query and form parameters: parsed once, and a bad one is a ParamError naming it and saying why."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.pagination import BadCursor, decode_cursor

# ASCII digits only: str.isdigit() also accepts "²" and "٢", which int() refuses or reads differently.
_INTEGER = re.compile(r"-?[0-9]+")


class ParamError(ValueError):
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
        raise ParamError(name, f"must be one of {', '.join(allowed)}, not {value!r}")
    return value


def integer(args: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = (args.get(name) or "").strip()
    if not value:
        return default
    if not _INTEGER.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise ParamError(name, f"must be a whole number from {minimum} to {maximum}, not {value!r}")
    return int(value)


def cursor_values(cursor: str, *types: type, name: str = "cursor") -> tuple[Any, ...]:
    """The values inside an opaque cursor (see app.pagination), or ParamError naming the parameter."""
    try:
        return decode_cursor(cursor, *types)
    except BadCursor as exc:
        raise ParamError(name, str(exc)) from None


def cursor_instant(value: str, name: str = "cursor") -> datetime:
    """The aware instant (in UTC) a cursor carries as ISO text, or ParamError: malformed, naive, or so near
    year 1 or 9999 that UTC cannot hold it (the database column converts to UTC)."""
    try:
        instant = datetime.fromisoformat(value)
        if instant.tzinfo is None:
            raise ValueError("naive")
        return instant.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise ParamError(name, "is not a cursor this server made") from None


def cursor(args: Mapping[str, str], name: str, *types: type) -> tuple[Any, ...] | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return decode_cursor(value, *types)
    except BadCursor as exc:
        raise ParamError(name, str(exc)) from None
