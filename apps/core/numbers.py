"""How scores and points read on every page and in the report: one helper, so a sub-score never
reads 51/70 on one page and 50.5/70 on another, and a deduction never reads "−6.0". Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MINUS = "\u2212"  # the typographic minus sign, as in "−6"


def points(value) -> str:
    """A score or a number of points: at most two decimals (the score's own precision), no
    trailing zeros: 50.5, 6, 12.25. Anything that is not a number reads "—"."""
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        return "—"
    if not number.is_finite():
        return "—"
    text = f"{number:f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def deduction(value) -> str:
    """Points a finding removes, always with a minus sign: "−6", "−0.5"; none reads "0"."""
    text = points(abs(Decimal(str(value)))) if _is_number(value) else "—"
    return text if text in ("0", "—") else f"{MINUS}{text}"


def _is_number(value) -> bool:
    try:
        return Decimal(str(value)).is_finite()
    except (InvalidOperation, ValueError, TypeError):
        return False
