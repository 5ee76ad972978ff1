"""Query and form parameters: parsed once, and a bad one is a ParamError naming it and saying why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.pagination import BadCursor, decode_cursor


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
    if not value.lstrip("-").isdigit() or not minimum <= int(value) <= maximum:
        raise ParamError(name, f"must be a whole number from {minimum} to {maximum}, not {value!r}")
    return int(value)


def cursor_values(cursor: str, *types: type, name: str = "cursor") -> tuple[Any, ...]:
    """The values inside an opaque cursor (see app.pagination), or ParamError naming the parameter."""
    try:
        return decode_cursor(cursor, *types)
    except BadCursor as exc:
        raise ParamError(name, str(exc)) from None


def cursor(args: Mapping[str, str], name: str, *types: type) -> tuple[Any, ...] | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return decode_cursor(value, *types)
    except BadCursor as exc:
        raise ParamError(name, str(exc)) from None
