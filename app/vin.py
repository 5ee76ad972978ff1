"""Vehicle identification numbers (ISO 3779 / 49 CFR 565): 17 characters, no I, O or Q, and a check digit
in position 9 that North American VINs must carry."""

from __future__ import annotations

_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = "".join(_TRANSLITERATION)


def check_digit(vin: str) -> str:
    """The check digit a 17-character VIN must carry in position 9 (index 8), "0"-"9" or "X"."""
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin.upper(), _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def with_check_digit(vin: str) -> str:
    """Return the VIN with position 9 set to its correct check digit."""
    vin = vin.upper()
    return vin[:8] + check_digit(vin) + vin[9:]


def vin_problem(vin: str) -> str | None:
    """Why this is not a valid VIN, or None when it is."""
    vin = vin.strip().upper()
    if len(vin) != 17:
        return f"a VIN has 17 characters, this one has {len(vin)}"
    bad = sorted({char for char in vin if char not in _TRANSLITERATION})
    if bad:
        return f"a VIN cannot contain {', '.join(bad)} (letters I, O and Q are never used)"
    if vin[8] != check_digit(vin):
        return f"the check digit (9th character) should be {check_digit(vin)}, not {vin[8]}"
    return None


def is_valid_vin(vin: str) -> bool:
    return vin_problem(vin) is None
