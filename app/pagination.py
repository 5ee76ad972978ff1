"""Opaque keyset cursors: the sort key of the last row shown, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    pass


# The numbers in a cursor are row ids and sort keys: 64-bit integers in the database. A larger one, sent to
# the database, would be a driver error rather than "no such row".
_INT64 = range(-(2**63), 2**63)


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """Decode a cursor made by encode_cursor with values of these types, or raise BadCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("is not a cursor this server made") from None
    if not isinstance(values, list) or len(values) != len(types):
        raise BadCursor("is not a cursor this server made")
    try:
        decoded = tuple(kind(value) for kind, value in zip(types, values, strict=True))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
        raise BadCursor("is not a cursor this server made") from None
    if any(isinstance(value, int) and value not in _INT64 for value in decoded):
        raise BadCursor("is not a cursor this server made")
    return decoded
