"""Opaque keyset cursors: the sort key of the last row shown, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    pass


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
        return tuple(kind(value) for kind, value in zip(types, values, strict=True))
    except (TypeError, ValueError):
        raise BadCursor("is not a cursor this server made") from None
