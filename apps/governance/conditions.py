"""Approval-policy conditions over tool-call arguments. Pure: no Django import.

A *rule* is a small dict an admin builds in the policy UI::

    {"field": "amount", "operator": ">", "value": 10000}

``field`` is a path into the call arguments: ``amount``, ``amount.value``,
``items[0].price``, ``items[-1]``, ``$.metadata.kind``, ``["x-request-id"]`` (bracket
quotes for keys that are not plain ``[A-Za-z0-9_-]`` names), or ``$`` for the whole
argument object. ``operator`` is one of ``== != > >= < <= in not_in contains exists
matches``.

Semantics (chosen so that a policy never crashes the gateway and never matches by
accident, and so that what it cannot decide is held, never let through):

* ``evaluate(rules, arguments)`` is three-valued: ``True`` when *all* rules match (an
  empty list matches), ``False`` when one definitely does not, ``None`` when the answer
  depends on a value that cannot be decided (below).
* A missing field never matches, except ``exists`` with value ``false``. A field present
  with JSON ``null`` exists.
* Numbers compare as ``Decimal``. Rule values are numbers or strict decimal strings. An
  argument is read the way an upstream might read it (``_readings``): JSON numbers as
  Python and as a double; when the other side is a number, a string is read by every
  common parser (Python ``Decimal``/``int``/``float`` with Unicode digits, spaces and
  underscores; JavaScript ``Number``/``parseFloat``; hex; leading-zero octal; NFKC forms;
  locale forms such as ``5,000``). The condition is decided when every reading gives the
  same answer -- so ``amount > 1000`` holds ``"٥٠٠٠"``, ``"５０００"``, ``"0005000"``,
  ``" 5000 "`` -- and is *undecidable* otherwise (``"5000abc"``, ``"0x1388"``, ``"5,000"``,
  ``"1_000_000"``). Also undecidable: NaN and infinities (``1e400``, ``"Infinity"``,
  ``Decimal("NaN")``), an integer too large for a double, a string over
  ``MAX_NUMBER_STRING`` characters containing a digit, text over ``MAX_MATCH_TEXT`` for
  ``matches``, and anything unforeseen that raises. Booleans are never numbers; a
  one-element list is also read as its element (JavaScript compares ``[5000] > 1000``).
* Undecidable never means "no match": ``select_policy_tier`` then returns the policy's
  strictest tier (``strictness``: most approvals, then ``sequential``), with the reason.
* For ``==``/``!=``/``in`` strings are read as numbers only when the other side is a
  number; two strings compare as text (so ids like ``"007"`` and ``"7"`` stay different).
* Values of incompatible types never match, whatever the operator: ``amount > 10000`` with
  ``amount="lots"`` is false (no parser reads a number in it), and so is ``amount != 5``
  (we do not claim "lots" differs from 5 -- it is simply not comparable). ``null`` is
  comparable with everything, so ``field != null`` means "set to something".
* ``in``/``not_in`` take a non-empty list; ``not_in`` matches when the value equals no
  element and at least one element is of a comparable type.
* ``contains``: substring for strings, element for lists, key for objects.
* ``exists``: value ``true`` (default) or ``false``.
* ``matches``: *search* semantics (use ``^``/``$`` to anchor) in RE2 syntax, see below.

Regular expressions: RE2
------------------------
Call arguments are attacker-controlled (they come from an AI agent that may be
prompt-injected) and Python's backtracking ``re`` has no timeout (``(a+)+$`` hangs on 30
characters), so ``matches`` uses RE2 (the ``google-re2`` package): matching is linear in
the text, so text of any length is matched correctly. Patterns are RE2 syntax
(https://github.com/google/re2/wiki/Syntax), close to Python's for everyday patterns,
with these differences: no backreferences, lookahead/lookbehind, atomic groups or
possessive quantifiers (refused); ``\\Z`` is refused (use ``\\z``); ``$`` matches only at
the end of the text unless ``(?m)``; ``\\d \\w \\s \\b`` are ASCII (use ``\\p{Nd}``, ``\\pL``
for Unicode); repeat counts are at most 1000. A pattern RE2 cannot compile, longer than
``MAX_PATTERN_LENGTH`` characters or needing more than ``MAX_REGEX_MEMORY`` bytes is
refused when the rule is saved (``validate_rule``) with RE2's message. Compiled patterns
are cached.

Tiers
-----
A policy may scale the number of approvals with the arguments::

    [
        {"when": [{"field": "amount", "operator": ">", "value": 10000}],
         "approvals": 2, "order": "sequential"},
        {"approvals": 1},                      # default: no "when"
    ]

``select_policy_tier`` returns the first tier whose ``when`` rules all match. A tier
without ``when`` (or with an empty list) is the default; there may be one, and it must be
last. ``order`` is ``"any"`` (default: any N distinct approvers) or ``"sequential"``
(approvers act one after the other). ``approvals`` may be 0 (auto-approved tier).

Hashing
-------
``canonical_arguments`` / ``arguments_hash`` give the byte-exact identity of a call's
arguments. The approval queue stores the hash when a human approves and re-checks it
just before executing, so an approved ``refund 10 EUR`` cannot turn into ``refund 10000``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import re2

__all__ = [
    "OPERATORS",
    "Condition",
    "ConditionError",
    "RegexError",
    "SafeRegex",
    "Tier",
    "arguments_hash",
    "canonical_arguments",
    "compile_rule",
    "compile_tiers",
    "evaluate",
    "parse_path",
    "select_policy_tier",
    "strictest",
    "strictness",
    "validate_rule",
    "validate_tiers",
]

OPERATORS: tuple[str, ...] = (
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not_in",
    "contains",
    "exists",
    "matches",
)
_ORDERING = frozenset({">", ">=", "<", "<="})
ORDERS: tuple[str, ...] = ("any", "sequential")

MAX_PATH_LENGTH = 256
MAX_PATH_DEPTH = 32
MAX_IN_ITEMS = 1000
MAX_VALUE_DEPTH = 32
MAX_NUMBER_STRING = 1000  # longer strings with a digit are undecidable as numbers
MAX_APPROVALS = 10
MAX_TIERS = 20
MAX_RULES_PER_TIER = 50

MAX_PATTERN_LENGTH = 256
MAX_REGEX_MEMORY = 8 << 20  # RE2 max_mem: a pattern needing more does not compile
MAX_MATCH_TEXT = 16 << 20  # longer text is undecidable (strictest tier), never "no match"

_RULE_KEYS = frozenset({"field", "operator", "value"})
_TIER_KEYS = frozenset({"when", "approvals", "order"})


class ConditionError(ValueError):
    """Rules or tiers that do not validate. ``errors`` holds one message per problem."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


class Undecidable(Exception):
    """A condition cannot be decided on this value (non-finite number, a string common
    parsers read differently, a value over a size cap...). ``reason`` says why. Policy
    selection turns it into the policy's strictest tier; it never escapes ``select_policy_tier``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class RegexError(ValueError):
    """A pattern RE2 refuses (outside its syntax, too long or too large to compile)."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} at position {position}")


# =========================================================================== paths

_NAME_RE = re.compile(r"[A-Za-z0-9_\-]+")
_INDEX_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")

PathSegment = str | int


@functools.lru_cache(maxsize=1024)
def parse_path(text: str) -> tuple[PathSegment, ...]:
    """Parse a field path into keys (str) and list indexes (int); raise ``ValueError``.

    Cached: the gateway evaluates the same few paths on every call.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("field path is empty")
    if len(text) > MAX_PATH_LENGTH:
        raise ValueError(f"field path is longer than {MAX_PATH_LENGTH} characters")
    segments: list[PathSegment] = []
    pos = 0
    if text.startswith("$"):
        pos = 1
        if pos < len(text) and text[pos] not in ".[":
            raise ValueError("bad field path: '$' must be followed by '.' or '['")
    else:
        match = _NAME_RE.match(text, pos)
        if match is None and not text.startswith("["):
            raise ValueError(f"bad field path at position 0: expected a name, got {text[0]!r}")
        if match is not None:
            segments.append(match.group())
            pos = match.end()
    while pos < len(text):
        char = text[pos]
        if char == ".":
            match = _NAME_RE.match(text, pos + 1)
            if match is None:
                raise ValueError(f"bad field path at position {pos + 1}: expected a name after '.'")
            segments.append(match.group())
            pos = match.end()
        elif char == "[":
            end = text.find("]", pos)
            if end == -1:
                raise ValueError(f"bad field path at position {pos}: unclosed '['")
            inner = text[pos + 1 : end]
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                key = inner[1:-1]
                if not key or any(q in key for q in "'\"\\"):
                    raise ValueError(f"bad field path at position {pos}: bad quoted key")
                segments.append(key)
            elif _INDEX_RE.fullmatch(inner):
                segments.append(int(inner))
            else:
                raise ValueError(f'bad field path at position {pos}: expected [<index>] or ["<key>"], got [{inner}]')
            pos = end + 1
        else:
            raise ValueError(f"bad field path at position {pos}: unexpected {char!r}")
        if len(segments) > MAX_PATH_DEPTH:
            raise ValueError(f"field path is deeper than {MAX_PATH_DEPTH} levels")
    return tuple(segments)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def _lookup(arguments: Any, path: tuple[PathSegment, ...]) -> Any:
    current = arguments
    for segment in path:
        if isinstance(segment, int):
            if not isinstance(current, list | tuple) or not -len(current) <= segment < len(current):
                return MISSING
            current = current[segment]
        else:
            if not isinstance(current, Mapping) or segment not in current:
                return MISSING
            current = current[segment]
    return current


# =========================================================================== values
#
# Numbers. A rule value is a number (or a strict ASCII decimal string, checked when the
# rule is saved). An argument value is *read* the way the upstream might read it: JSON
# numbers as Python and a JavaScript double would; strings by every common parser
# (``_string_readings``). A condition is decided when every reading gives the same
# answer, otherwise it raises ``Undecidable`` and policy selection picks the strictest
# tier. So ``amount > 1000`` holds "٥٠٠٠", "0005000" and " 5000 " (every reader that
# sees a number sees one above 1000), and goes strict on "5000abc", "0x1388", "5,000" or
# "1_000_000" (some reader sees a number above 1000, another no number or a small one).

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


def _is_real_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _rule_number(value: Any) -> Decimal | None:
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


def _finite(number: Decimal | float | int, source: str | None = None) -> Decimal:
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


def _string_readings(text: str) -> list[Any]:
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
    readings: list[Any] = []

    def add(number: Decimal | float | int) -> None:
        value = _finite(number, source)
        if value not in readings:
            readings.append(value)

    # Python, the reference reading.
    try:
        add(Decimal(text))
    except (InvalidOperation, ValueError):
        readings.append(text)
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
    return readings


def _readings(value: Any, numeric: bool) -> list[Any]:
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
        return [_finite(value)]
    if not numeric:
        return [value]
    if isinstance(value, str):
        return _string_readings(value)
    if isinstance(value, list | tuple) and len(value) == 1 and isinstance(value[0], str | int | float | Decimal):
        return [value, *_readings(value[0], numeric)]
    return [value]


def _equals(reading: Any, item: Any, original: Any) -> bool | None:
    """JSON equality of one reading with a rule value; ``None`` when not comparable.
    Two strings compare as text (``"007"`` is not ``"7"``), whatever the readings."""
    if isinstance(original, str) and isinstance(item, str):
        return original == item
    if reading is None or item is None:
        return reading is None and item is None
    if isinstance(reading, Decimal) or _is_real_number(item):
        if not isinstance(reading, Decimal):
            return None
        number = _rule_number(item)
        return None if number is None else reading == number
    for kind in (str, bool, list, dict):
        if isinstance(reading, kind) and isinstance(item, kind):
            return bool(reading == item)
    if isinstance(reading, Mapping) and isinstance(item, Mapping):
        return dict(reading) == dict(item)
    return None


def _agree(outcomes: Iterable[bool], value: Any) -> bool:
    """The single answer every reading gives, or ``Undecidable``."""
    distinct = set(outcomes)
    if len(distinct) == 1:
        return distinct.pop()
    raise Undecidable(f"common parsers read {_short(value)} as numbers that decide it differently")


def _json_value_error(value: Any, depth: int = 0) -> str | None:
    if depth > MAX_VALUE_DEPTH:
        return "value is nested too deeply"
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "value must be a finite number"
    if isinstance(value, list):
        for item in value:
            error = _json_value_error(item, depth + 1)
            if error:
                return error
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return "object keys in value must be strings"
            error = _json_value_error(item, depth + 1)
            if error:
                return error
        return None
    return f"value of type {type(value).__name__} is not JSON"


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int) or (isinstance(value, float) and math.isfinite(value))


# =========================================================================== rules


@dataclass(frozen=True)
class Condition:
    """A validated rule, ready to evaluate (path parsed, regex compiled)."""

    field: str
    operator: str
    value: Any
    path: tuple[PathSegment, ...]
    regex: SafeRegex | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "operator": self.operator, "value": self.value}

    def describe(self) -> str:
        return f"{self.field} {self.operator} {self.value!r}"

    def decide(self, arguments: Any) -> bool | None:
        """``matches`` as three states: ``None`` when the value cannot be decided. Never raises."""
        return self.decide_with_reason(arguments)[0]

    def decide_with_reason(self, arguments: Any) -> tuple[bool | None, str]:
        """``(answer, reason)``; the reason names the condition when the answer is ``None``."""
        try:
            return bool(self.matches(arguments)), ""
        except Undecidable as exc:
            return None, f"condition {self.describe()} could not be decided: {exc.reason}"
        except Exception as exc:  # noqa: BLE001 - fail closed on anything unforeseen
            return None, f"condition {self.describe()} could not be decided ({type(exc).__name__})"

    @property
    def numeric(self) -> bool:
        """Whether the other side is a number, so argument strings are read as numbers."""
        if self.operator in _ORDERING:
            return True
        if self.operator in ("in", "not_in"):
            return any(_is_real_number(item) for item in self.value)
        return _is_real_number(self.value)

    def _holds(self, reading: Any, original: Any) -> bool:
        op = self.operator
        if op == "==":
            return _equals(reading, self.value, original) is True
        if op == "!=":
            return _equals(reading, self.value, original) is False
        if op in _ORDERING:
            number = _rule_number(self.value)
            if not isinstance(reading, Decimal) or number is None:
                return False
            return {">": reading > number, ">=": reading >= number, "<": reading < number,
                    "<=": reading <= number}[op]
        if op == "in":
            return any(_equals(reading, item, original) is True for item in self.value)
        results = [_equals(reading, item, original) for item in self.value]  # not_in
        return True not in results and False in results

    def matches(self, arguments: Any) -> bool:
        """Whether the rule holds; raises ``Undecidable`` when that depends on how the
        value is read (see ``_readings``) or the value is over a size cap."""
        actual = _lookup(arguments, self.path)
        op = self.operator
        if op == "exists":
            return (actual is not MISSING) == bool(self.value)
        if actual is MISSING:
            return False
        if op in ("==", "!=", "in", "not_in") or op in _ORDERING:
            numeric = self.numeric
            return _agree((self._holds(r, actual) for r in _readings(actual, numeric)), actual)
        if op == "contains":
            if isinstance(actual, str):
                return isinstance(self.value, str) and self.value in actual
            if isinstance(actual, list):
                undecided: Undecidable | None = None
                numeric = _is_real_number(self.value)
                for element in actual:
                    try:
                        outcomes = (_equals(r, self.value, element) is True for r in _readings(element, numeric))
                        if _agree(outcomes, element):
                            return True
                    except Undecidable as exc:
                        undecided = exc
                if undecided is not None:
                    raise undecided
                return False
            if isinstance(actual, Mapping):
                return isinstance(self.value, str) and self.value in actual
            return False
        if op == "matches":
            if isinstance(actual, float | Decimal):
                _finite(actual)
            return isinstance(actual, str) and self.regex is not None and self.regex.search(actual)
        raise AssertionError(f"unhandled operator {op}")  # pragma: no cover - guarded by validation


def _rule_errors(rule: Any) -> tuple[list[str], Condition | None]:
    if isinstance(rule, Condition):
        return [], rule
    if not isinstance(rule, Mapping):
        return ["rule must be an object with field, operator and value"], None
    errors: list[str] = []
    unknown = sorted(set(map(str, rule)) - _RULE_KEYS)
    if unknown:
        errors.append(f"unknown key(s) {', '.join(unknown)} (expected field, operator, value)")

    field = rule.get("field")
    path: tuple[PathSegment, ...] = ()
    if not isinstance(field, str) or not field:
        errors.append("field is required (a path such as amount or items[0].price)")
    else:
        try:
            path = parse_path(field)
        except ValueError as exc:
            errors.append(str(exc))

    op = rule.get("operator")
    if op not in OPERATORS:
        errors.append(f"unknown operator {op!r} (expected one of: {', '.join(OPERATORS)})")
        return errors, None

    regex: SafeRegex | None = None
    if "value" not in rule and op != "exists":
        errors.append(f"operator {op} needs a value")
        return errors, None
    value = rule.get("value", True)
    json_error = _json_value_error(value)
    if json_error:
        errors.append(json_error)
    elif op in _ORDERING:
        if _rule_number(value) is None:
            errors.append(f"operator {op} needs a number (or a decimal string), got {type(value).__name__}")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            errors.append(f"operator {op} needs a non-empty list of values")
        elif len(value) > MAX_IN_ITEMS:
            errors.append(f"operator {op} accepts at most {MAX_IN_ITEMS} values")
        elif not all(_is_scalar(item) for item in value):
            errors.append(f"operator {op} needs a list of strings, numbers, booleans or null")
    elif op == "contains":
        if not _is_scalar(value):
            errors.append("operator contains needs a string, number, boolean or null")
    elif op == "exists":
        if not isinstance(value, bool):
            errors.append("operator exists needs true or false")
    elif op == "matches":
        if not isinstance(value, str):
            errors.append("operator matches needs a regular expression string")
        else:
            try:
                regex = _cached_regex(value)
            except RegexError as exc:
                errors.append(f"invalid regular expression: {exc}")

    if errors:
        return errors, None
    return [], Condition(field=str(field), operator=str(op), value=value, path=path, regex=regex)


def validate_rule(rule: Any) -> list[str]:
    """Every problem with ``rule`` as a user-facing message; ``[]`` means valid.

    Used by the policy admin UI on save, so a broken rule never reaches the gateway.
    """
    return _rule_errors(rule)[0]


def compile_rule(rule: Mapping[str, Any] | Condition) -> Condition:
    """Validate and compile one rule; raise ``ConditionError`` listing the problems."""
    errors, condition = _rule_errors(rule)
    if errors or condition is None:
        raise ConditionError(errors)
    return condition


def _compile_rules(rules: Iterable[Mapping[str, Any] | Condition], prefix: str = "") -> tuple[Condition, ...]:
    compiled: list[Condition] = []
    errors: list[str] = []
    for i, rule in enumerate(rules, start=1):
        rule_errors, condition = _rule_errors(rule)
        errors.extend(f"{prefix}rule {i}: {e}" for e in rule_errors)
        if condition is not None:
            compiled.append(condition)
    if errors:
        raise ConditionError(errors)
    return tuple(compiled)


def evaluate(rules: Iterable[Mapping[str, Any] | Condition], arguments: Any) -> bool | None:
    """Three-valued AND of the rules on ``arguments``: ``True`` when every rule matches
    (vacuously for no rules), ``False`` when one definitely does not, ``None`` when the
    answer depends on a value that cannot be decided (see ``Undecidable``). Never raises
    on argument values.

    Invalid rules raise ``ConditionError`` rather than evaluating to false: a policy
    that cannot be read must stop the call (fail closed), not silently skip approval.
    """
    tier = Tier(approvals=0, order="any", when=_compile_rules(rules), index=0)
    return tier.decide(arguments)[0]


# =========================================================================== tiers


@dataclass(frozen=True)
class Tier:
    """One approval tier; ``index`` is its 0-based position in the policy."""

    approvals: int
    order: str
    when: tuple[Condition, ...]
    index: int
    undecided: tuple[str, ...] = ()  # set on the tier chosen because something was undecidable

    @property
    def is_default(self) -> bool:
        return not self.when

    def decide(self, arguments: Any) -> tuple[bool | None, list[str]]:
        """Three-valued AND of the conditions: ``False`` if one is definitely false,
        ``True`` if all are true, else ``None`` with the reasons."""
        reasons: list[str] = []
        for condition in self.when:
            result, reason = condition.decide_with_reason(arguments)
            if result is False:
                return False, []
            if result is None:
                reasons.append(reason)
        return (None, reasons) if reasons else (True, [])

    def matches(self, arguments: Any) -> bool:
        """Two-valued view (an undecidable tier does not "match"); policy selection uses
        ``decide`` through ``select_policy_tier``."""
        return self.decide(arguments)[0] is True


def _tier_errors(tiers: Any) -> tuple[list[str], tuple[Tier, ...]]:
    if not isinstance(tiers, list | tuple):
        return ["tiers must be a list"], ()
    if not tiers:
        return ["a policy needs at least one tier"], ()
    if len(tiers) > MAX_TIERS:
        return [f"a policy has at most {MAX_TIERS} tiers"], ()
    errors: list[str] = []
    compiled: list[Tier] = []
    default_seen_at: int | None = None
    for index, tier in enumerate(tiers):
        label = f"tier {index + 1}"
        if not isinstance(tier, Mapping):
            errors.append(f"{label}: must be an object with when, approvals and order")
            continue
        tier_errors: list[str] = []
        unknown = sorted(set(map(str, tier)) - _TIER_KEYS)
        if unknown:
            tier_errors.append(f"{label}: unknown key(s) {', '.join(unknown)} (expected when, approvals, order)")
        approvals = tier.get("approvals")
        if isinstance(approvals, bool) or not isinstance(approvals, int) or not 0 <= approvals <= MAX_APPROVALS:
            tier_errors.append(f"{label}: approvals must be a whole number from 0 to {MAX_APPROVALS}")
        order = tier.get("order", "any")
        if order not in ORDERS:
            tier_errors.append(f"{label}: order must be one of {', '.join(ORDERS)}")
        when = tier.get("when", [])
        conditions: tuple[Condition, ...] = ()
        if not isinstance(when, list | tuple):
            tier_errors.append(f"{label}: when must be a list of rules")
        elif len(when) > MAX_RULES_PER_TIER:
            tier_errors.append(f"{label}: at most {MAX_RULES_PER_TIER} rules")
        else:
            try:
                conditions = _compile_rules(when, prefix=f"{label}, ")
            except ConditionError as exc:
                tier_errors.extend(exc.errors)
        if not when and isinstance(when, list | tuple):
            if default_seen_at is not None:
                tier_errors.append(f"{label}: only one default tier (without conditions) is allowed")
            default_seen_at = index
        errors.extend(tier_errors)
        if not tier_errors:
            compiled.append(Tier(approvals=approvals, order=order, when=conditions, index=index))
    if default_seen_at is not None and default_seen_at != len(tiers) - 1:
        errors.append(f"tier {default_seen_at + 1}: the default tier (without conditions) must be last")
    return errors, tuple(compiled)


def validate_tiers(tiers: Any) -> list[str]:
    """Every problem with a tier list as user-facing messages; ``[]`` means valid."""
    return _tier_errors(tiers)[0]


def compile_tiers(tiers: Sequence[Mapping[str, Any]]) -> tuple[Tier, ...]:
    """Validate and compile tiers once (e.g. when a policy is loaded); raise ``ConditionError``."""
    errors, compiled = _tier_errors(tiers)
    if errors:
        raise ConditionError(errors)
    return compiled


def strictness(approvals: int, order: str) -> tuple[int, int]:
    """How strict an approval requirement is, as a sortable key (bigger = stricter).

    The single definition used everywhere the product must pick "the strictest": more
    approvals first; on a tie, ``sequential`` (approvers one after the other) beats ``any``.
    """
    return (int(approvals), 1 if order == "sequential" else 0)


def strictest(tiers: Iterable[Tier]) -> Tier | None:
    """The strictest of ``tiers`` by ``strictness`` (the earliest on a full tie)."""
    best: Tier | None = None
    for tier in tiers:
        if best is None or strictness(tier.approvals, tier.order) > strictness(best.approvals, best.order):
            best = tier
    return best


def select_policy_tier(tiers: Sequence[Mapping[str, Any]] | Sequence[Tier], arguments: Any) -> Tier | None:
    """The first tier whose conditions all match ``arguments``.

    Fail closed: if, walking the tiers in order, a tier's conditions cannot be decided
    (``Undecidable``, or anything unforeseen raising) before one matches, the policy's
    *strictest* tier (``strictest``) is returned, with ``undecided`` naming the reason.

    The default tier (no conditions, last) catches everything else; without one, ``None``
    means the policy does not apply to these arguments. Accepts raw tier dicts (validated
    here; invalid tiers raise ``ConditionError``, failing closed) or the result of
    ``compile_tiers`` (to validate once per policy load instead of once per call).
    """
    compiled: tuple[Tier, ...]
    if tiers and all(isinstance(tier, Tier) for tier in tiers):
        compiled = tuple(tier for tier in tiers if isinstance(tier, Tier))
    else:
        compiled = compile_tiers(tiers)  # type: ignore[arg-type]
    for tier in compiled:
        result, reasons = tier.decide(arguments)
        if result is True:
            return tier
        if result is None:
            chosen = strictest(compiled)
            assert chosen is not None  # compiled is non-empty: tier is in it
            return dataclasses.replace(chosen, undecided=tuple(reasons))
    return None


# =========================================================================== hashing


def canonical_arguments(args: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTF-8 (not ASCII-escaped).

    ``NaN``/``Infinity`` are refused (``ValueError``): they are not JSON and would make
    the "same" arguments hash differently across implementations. Note ``1`` and ``1.0``
    serialise differently on purpose: the approval binds the exact values the agent sent.
    """
    return json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def arguments_hash(args: Any) -> str:
    """SHA-256 hex digest of ``canonical_arguments(args)``."""
    return hashlib.sha256(canonical_arguments(args)).hexdigest()


# =========================================================================== regex (RE2)

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_REGEX_MEMORY  # bounds compilation and the DFA cache
    options.log_errors = False
    return options


class SafeRegex:
    """A ``matches`` pattern compiled by RE2 (google-re2): linear-time ``search``.

    Construct with a pattern (raises ``RegexError`` for a pattern RE2 refuses or one
    longer than ``MAX_PATTERN_LENGTH``); ``search(text)`` answers whether the pattern
    occurs anywhere in ``text``. Text of any length is searched; over ``MAX_MATCH_TEXT``
    characters it raises ``Undecidable`` (policy selection then picks the strictest tier).
    """

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str):
        if not isinstance(pattern, str):
            raise RegexError("pattern must be a string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise RegexError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
        if _SURROGATE_RE.search(pattern):
            raise RegexError("pattern contains an unpaired surrogate character")
        try:
            self._compiled = re2.compile(pattern, _re2_options())
        except re2.error as exc:
            detail = exc.args[0] if exc.args else "invalid pattern"
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise RegexError(f"{detail} (patterns use RE2 syntax: no backreferences or lookaround)") from None
        self.pattern = pattern

    def __repr__(self) -> str:
        return f"SafeRegex({self.pattern!r})"

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (RE2: linear in ``len(text)``)."""
        if len(text) > MAX_MATCH_TEXT:
            raise Undecidable(f"a {len(text)}-character text is over the {MAX_MATCH_TEXT}-character matching cap")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (valid JSON escapes): one code point each way
            data = _SURROGATE_RE.sub("\ufffd", text).encode("utf-8")
        # RE2 matches UTF-8 bytes; passing bytes skips the wrapper's str offset bookkeeping
        # (20 ms on 1 MB), and a yes/no answer needs no offsets.
        return self._compiled.search(data) is not None


@functools.lru_cache(maxsize=256)
def _cached_regex(pattern: str) -> SafeRegex:
    """Policies are re-read on every call; compile each pattern once (RE2 objects are
    immutable and thread-safe). ``lru_cache`` does not cache exceptions, so invalid
    patterns are re-checked each time (they never reach the gateway: validated on save)."""
    return SafeRegex(pattern)
