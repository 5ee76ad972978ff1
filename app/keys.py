"""Normalised search keys, computed the same way when rows are written and when a query is typed."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced: "  Hélène  GAGNÉ " -> "helene gagne"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", stripped).strip().casefold()


def name_key(first_name: str, last_name: str) -> str:
    return fold(f"{last_name} {first_name}")


def company_key(company: str | None) -> str | None:
    return fold(company) if company else None


def email_key(email: str) -> str:
    return email.strip().casefold()


def phone_key(phone: str) -> str:
    """The digits of a North American number without the country code: "+1 (514) 555-0199" -> "5145550199"."""
    digits = "".join(char for char in phone if char.isdigit())
    # North American area codes never start with 1, so a leading 1 is always the country code; dropping
    # it also lets a partly typed "+1 514 55" match.
    return digits[1:] if digits.startswith("1") else digits


def plate_key(plate: str) -> str:
    return _NON_ALNUM.sub("", plate).upper()
