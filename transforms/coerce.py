"""Coercion of what real sources send: numbers as strings, '' for zero, mixed Unicode forms."""

from __future__ import annotations

import math
import unicodedata
from typing import Any


class CoercionError(ValueError):
    """A value could not be read as the type its field needs."""


# A whole number must fit the frames' 64-bit integer columns (pandas Int64) to be read at
# all; the warehouse column's own range is checked later, with the other schema limits.
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def to_number(value: Any) -> float | None:
    """Read a published number.

    None stays None (the field was null or absent); '' and whitespace mean zero, as the
    portal sends them; '1.234,5' is not guessed at — only plain decimal text is accepted.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise CoercionError(f"boolean where a number was expected: {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return None
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "")
        if text == "":
            return 0.0
        try:
            return float(text)
        except ValueError as exc:
            raise CoercionError(f"not a number: {value!r}") from exc
    raise CoercionError(f"not a number: {value!r}")


def to_count(value: Any) -> int | None:
    """A count (or a rank): a number (or numeric text) that is whole and fits 64 bits;
    '' means zero."""
    number = to_number(value)
    if number is None:
        return None
    if not float(number).is_integer():
        raise CoercionError(f"not a whole count: {value!r}")
    if not _INT64[0] <= int(number) <= _INT64[1]:
        raise CoercionError(f"not a 64-bit whole number: {value!r}")
    return int(number)


def to_text(value: Any) -> str | None:
    """Text in Unicode NFC (sources mix NFC and NFD), trimmed; None and '' give None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text or None


def to_id(value: Any) -> str | None:
    """An identifier as text: 900001 and '900001' are the same ID."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
