"""How a condition reads argument values as numbers, and when it cannot decide. Pure.

A rule value is a number (or a strict ASCII decimal string, checked when the rule is
saved: ``rule_number``). An argument value is *read* the way the upstream might read it:
JSON numbers as Python and a JavaScript double would; strings by every common parser
(``string_readings``). A condition is decided when every reading gives the same answer
(``agree``), otherwise it raises ``Undecidable`` and policy selection picks the strictest
tier. So ``amount > 1000`` holds "٥٠٠٠", "0005000" and " 5000 " (every reader that sees a
number sees one above 1000), and goes strict on "5000abc", "0x1388", "5,000" or
"1_000_000" (some reader sees a number above 1000, another no number or a small one).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_NUMBER_STRING = 1000  # longer strings with a digit are undecidable as numbers


class Undecidable(Exception):
    """A condition cannot be decided on this value (non-finite number, a string common
    parsers read differently, a value over a size cap...). ``reason`` says why. Policy
    selection turns it into the policy's strictest tier; it never escapes ``select_policy_tier``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")
_ANY_DIGIT_RE = re.compile(r"\d")
# JavaScript readers: ASCII digits only.
_JS_NUMBER_RE = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", re.ASCII)
_JS_RADIX_RE = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+", re.ASCII)
_JS_PARSE_INT_HEX_RE = re.compile(r"[+-]?0[xX][0-9a-fA-F]+", re.ASCII)
_C_OCTAL_RE = re.compile(r"[+-]?0[0-7]+", re.ASCII)
_GROUP_SEPARATORS = (",", ".", "'", " ", "\u00a0", "\u202f")


@functools.lru_cache(maxsize=16)
def _grouped_re(separator: str, decimal_mark: str) -> re.Pattern[str]:
    sep, mark = re.escape(separator), re.escape(decimal_mark)
    return re.compile(rf"[+-]?[0-9]{{1,3}}(?:{sep}[0-9]{{3}})+(?:{mark}[0-9]+)?", re.ASCII)


_JS_WHITESPACE = "\ufeff"  # JavaScript trims the BOM too; str.strip() covers the rest


def is_real_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def rule_number(value: Any) -> Decimal | None:
    """A rule-side number: int, finite float, Decimal or a strict ASCII decimal string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and len(value) <= MAX_NUMBER_STRING and _DECIMAL_RE.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finite_decimal(number: Decimal | float | int, source: str | None = None) -> Decimal:
    """``number`` as a finite ``Decimal``; ``Undecidable`` for NaN and infinities."""
    finite = math.isfinite(number) if isinstance(number, float) else (
        number.is_finite() if isinstance(number, Decimal) else True)
    if not finite:
        what = f"{source} is read as {number}, not" if source else f"{number} is not"
        raise Undecidable(f"{what} a finite number")
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _nfkc_digits(text: str) -> str:
    """NFKC (fullwidth signs and dots) with every Unicode decimal digit made ASCII and
    the minus sign U+2212 made ``-``."""
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return "".join(str(unicodedata.decimal(c)) if unicodedata.category(c) == "Nd" else c for c in text)


def string_readings(text: str) -> list[Any]:
    """Every number common parsers read in ``text``, plus ``text`` itself (a non-number)
    when Python's ``Decimal`` (the reference reading) does not read a number.

    Readers: Python ``Decimal``/``int``/``int(x, 0)``/``float`` (Unicode digits, spaces,
    underscores, hex), JavaScript ``Number``/``parseFloat`` and ``parseInt`` on hex
    (prefixes, ``""`` is 0; ``parseInt``'s truncation of ``"99.9"`` to 99 is not counted:
    it would make every decimal near a threshold undecidable), C ``strtol`` base 0
    (leading zero = octal), NFKC-normalised text, and
    locale forms (``5,000``, ``5.000,5``, ``5 000``, ``5,5``, separators and invisible
    characters removed). A reader that reads a non-finite number makes the value
    undecidable; so does a string over ``MAX_NUMBER_STRING`` characters with any digit.
    """
    if len(text) > MAX_NUMBER_STRING:
        if _ANY_DIGIT_RE.search(text) or (not text.isascii() and any(c.isdigit() for c in text)):
            raise Undecidable(f"a {len(text)}-character string with digits is too long to read as a number")
        return [text]
    source = f"the string {_short(text)}"
    found: list[Any] = []

    def add(number: Decimal | float | int) -> None:
        value = finite_decimal(number, source)
        if value not in found:
            found.append(value)

    # Python, the reference reading.
    try:
        add(Decimal(text))
    except (InvalidOperation, ValueError):
        found.append(text)
    for parse in (float, int, functools.partial(int, base=0)):
        try:
            add(parse(text))
        except (ValueError, OverflowError):
            pass
    # JavaScript.
    js = text.strip().strip(_JS_WHITESPACE).strip()
    if js == "":
        add(0)  # Number("") === 0
    elif _JS_NUMBER_RE.fullmatch(js):
        add(float(js))
    elif _JS_RADIX_RE.fullmatch(js):
        add(int(js, 0))
    match = _JS_NUMBER_RE.match(js)
    if match:
        add(float(match.group()))  # parseFloat
    match = _JS_PARSE_INT_HEX_RE.match(js)
    if match:
        add(int(match.group(), 16))  # parseInt("0x1388zz") is 5000
    # C strtol(base 0): a leading zero means octal.
    if _C_OCTAL_RE.fullmatch(js):
        add(int(js, 8))
    # Normalised and locale forms.
    normal = _nfkc_digits(text).strip()
    try:
        add(Decimal(normal))
    except (InvalidOperation, ValueError):
        pass
    for separator in _GROUP_SEPARATORS:  # 5,000.5  5.000,5  5 000  5'000
        decimal_mark = "," if separator == "." else "."
        if _grouped_re(separator, decimal_mark).fullmatch(normal):
            add(Decimal(normal.replace(separator, "").replace(decimal_mark, ".")))
    compact = "".join(c for c in normal if c not in ",'_" and unicodedata.category(c) not in ("Cf", "Zs"))
    if compact != normal and _DECIMAL_RE.fullmatch(compact):
        add(Decimal(compact))
    if normal.count(",") == 1 and "." not in normal and _DECIMAL_RE.fullmatch(normal.replace(",", ".")):
        add(Decimal(normal.replace(",", ".")))  # decimal comma
    return found


def readings(value: Any, numeric: bool) -> list[Any]:
    """The values ``value`` may stand for: numbers as ``Decimal``, anything else as
    itself. ``numeric`` says the other side of the comparison is a number, so strings
    (and a one-element list, which JavaScript compares as its element) are read as
    numbers too."""
    if isinstance(value, bool) or value is None:
        return [value]
    if isinstance(value, int):
        exact = Decimal(value)
        try:
            double = Decimal(repr(float(value)))
        except OverflowError:
            raise Undecidable(f"the integer {_short(value)} is too large for a double") from None
        return [exact] if double == exact else [exact, double]
    if isinstance(value, float | Decimal):
        return [finite_decimal(value)]
    if not numeric:
        return [value]
    if isinstance(value, str):
        return string_readings(value)
    if isinstance(value, list | tuple) and len(value) == 1 and isinstance(value[0], str | int | float | Decimal):
        return [value, *readings(value[0], numeric)]
    return [value]


def equals(reading: Any, item: Any, original: Any) -> bool | None:
    """JSON equality of one reading with a rule value; ``None`` when not comparable.
    Two strings compare as text (``"007"`` is not ``"7"``), whatever the readings."""
    if isinstance(original, str) and isinstance(item, str):
        return original == item
    if reading is None or item is None:
        return reading is None and item is None
    if isinstance(reading, Decimal) or is_real_number(item):
        if not isinstance(reading, Decimal):
            return None
        number = rule_number(item)
        return None if number is None else reading == number
    for kind in (str, bool, list, dict):
        if isinstance(reading, kind) and isinstance(item, kind):
            return bool(reading == item)
    if isinstance(reading, Mapping) and isinstance(item, Mapping):
        return dict(reading) == dict(item)
    return None


def agree(outcomes: Iterable[bool], value: Any) -> bool:
    """The single answer every reading gives, or ``Undecidable``."""
    distinct = set(outcomes)
    if len(distinct) == 1:
        return distinct.pop()
    raise Undecidable(f"common parsers read {_short(value)} as numbers that decide it differently")

