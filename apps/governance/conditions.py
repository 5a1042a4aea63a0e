"""Approval-policy conditions over tool-call arguments. Pure: no Django import.

A *rule* is a small dict an admin builds in the policy UI::

    {"field": "amount", "operator": ">", "value": 10000}

``field`` is a path into the call arguments: ``amount``, ``amount.value``,
``items[0].price``, ``items[-1]``, ``$.metadata.kind``, ``["x-request-id"]`` (bracket
quotes for keys that are not plain ``[A-Za-z0-9_-]`` names), or ``$`` for the whole
argument object. ``operator`` is one of ``== != > >= < <= in not_in contains exists
matches``.

Semantics (chosen so that a policy never crashes the gateway and never matches by
accident):

* ``evaluate(rules, arguments)`` is true when *all* rules match (an empty list matches).
* A missing field never matches, except ``exists`` with value ``false``. A field present
  with JSON ``null`` exists.
* Numbers compare as ``Decimal``: ints, finite floats and decimal strings (``"10000.50"``,
  ``"1e4"``) are all numbers, so ``amount > 10000`` works whether the agent sent a number
  or a string. Booleans are never numbers. For ``==``/``!=``/``in`` a decimal string counts
  as a number only when the other side is a number; two strings compare as text (so ids
  like ``"007"`` and ``"7"`` stay different).
* Values of incompatible types never match, whatever the operator: ``amount > 10000`` with
  ``amount="lots"`` is false, and so is ``amount != 5`` (we do not claim "lots" differs
  from 5 -- it is simply not comparable). ``null`` is comparable with everything, so
  ``field != null`` means "set to something".
* ``in``/``not_in`` take a non-empty list; ``not_in`` matches when the value equals no
  element and at least one element is of a comparable type.
* ``contains``: substring for strings, element for lists, key for objects.
* ``exists``: value ``true`` (default) or ``false``.
* ``matches``: *search* semantics (use ``^``/``$`` to anchor) with a safe regex dialect,
  see below.

Why our own regex matcher
-------------------------
Python's ``re`` backtracks: ``(a+)+$`` hangs on 30 characters and even ``\\w+\\d+@`` takes
over a second on a 1 KB argument. Call arguments are attacker-controlled (they come from
an AI agent that may be prompt-injected), and ``re`` has no timeout, so ``matches`` uses
a small Thompson-NFA matcher that runs in O(len(text) × states) with no backtracking.
It accepts a subset of Python's syntax -- literals, ``.``, classes ``[...]``, ``\\d \\w \\s``
(and negations), ``\\b \\B ^ $ \\A \\Z``, groups ``(...)``, ``(?:...)``, ``(?P<name>...)``,
alternation, ``* + ? {m} {m,} {m,n}`` (lazy variants accepted: for a yes/no answer they
mean the same), global flags ``(?i)``/``(?s)`` at the start -- and rejects backreferences,
lookaround, atomic groups, possessive quantifiers and scoped flags, which are the
features that cannot be matched in linear time. For every pattern it accepts, the
answer equals ``re.search(pattern, text) is not None`` (property-tested). Caps:
pattern <= 256 characters, repeat bounds <= 100, compiled program <= 500 states, and
text longer than 4096 characters never matches.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

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
MAX_NUMBER_STRING = 100
MAX_APPROVALS = 10
MAX_TIERS = 20
MAX_RULES_PER_TIER = 50

MAX_PATTERN_LENGTH = 256
MAX_REPEAT = 100
MAX_STATES = 500
MAX_MATCH_TEXT = 4096

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
    """A pattern outside the safe dialect, or not a valid regex at all."""

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

_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")


def _is_real_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _as_number(value: Any) -> Decimal | None:
    """Decimal for ints, finite floats and decimal strings; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Undecidable(f"non-finite number {value!r}")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Undecidable(f"non-finite number {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_STRING or not _DECIMAL_RE.fullmatch(text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex only admits valid literals
            return None
    return None


def _equals(left: Any, right: Any) -> bool | None:
    """JSON equality with numeric coercion; ``None`` when the types are not comparable."""
    if left is None or right is None:
        return left is None and right is None
    if _is_real_number(left) or _is_real_number(right):
        a, b = _as_number(left), _as_number(right)
        if a is None or b is None:
            return None
        return a == b
    for kind in (str, bool, list, dict):
        if isinstance(left, kind) and isinstance(right, kind):
            return bool(left == right)
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return dict(left) == dict(right)
    return None


def _compare(left: Any, right: Any) -> int | None:
    a, b = _as_number(left), _as_number(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


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
        """``matches`` as three states: ``None`` when the value cannot be decided (the
        reason is in ``undecided_reason``). Never raises."""
        return self.decide_with_reason(arguments)[0]

    def decide_with_reason(self, arguments: Any) -> tuple[bool | None, str]:
        try:
            return bool(self.matches(arguments)), ""
        except Undecidable as exc:
            return None, f"condition {self.describe()} could not be decided ({exc.reason})"
        except Exception as exc:  # noqa: BLE001 - fail closed on anything unforeseen
            return None, f"condition {self.describe()} could not be decided ({type(exc).__name__})"

    def matches(self, arguments: Any) -> bool:
        actual = _lookup(arguments, self.path)
        op = self.operator
        if op == "exists":
            return (actual is not MISSING) == bool(self.value)
        if actual is MISSING:
            return False
        if op == "==":
            return _equals(actual, self.value) is True
        if op == "!=":
            return _equals(actual, self.value) is False
        if op in _ORDERING:
            cmp = _compare(actual, self.value)
            if cmp is None:
                return False
            return {">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0, "<=": cmp <= 0}[op]
        if op == "in":
            return any(_equals(actual, item) is True for item in self.value)
        if op == "not_in":
            results = [_equals(actual, item) for item in self.value]
            return True not in results and False in results
        if op == "contains":
            if isinstance(actual, str):
                return isinstance(self.value, str) and self.value in actual
            if isinstance(actual, list):
                return any(_equals(item, self.value) is True for item in actual)
            if isinstance(actual, Mapping):
                return isinstance(self.value, str) and self.value in actual
            return False
        if op == "matches":
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
        if _as_number(value) is None:
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


# =========================================================================== safe regex
#
# Parser -> AST -> Thompson NFA -> set simulation. The AST is tuples:
#   ("char", matcher) ("empty",) ("cat", [nodes]) ("alt", [nodes])
#   ("repeat", node, min, max|None) ("assert", kind)
# Assertion kinds: bol (^, \A), eol ($: end, or before a final newline), eos (\Z),
# word (\b), nonword (\B).

Matcher = Callable[[str], bool]


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


_CATEGORIES: dict[str, Matcher] = {
    "d": str.isdecimal,
    "D": lambda c: not c.isdecimal(),
    "w": _is_word,
    "W": lambda c: not _is_word(c),
    "s": str.isspace,
    "S": lambda c: not c.isspace(),
}
_BRACE_QUANTIFIER_RE = re.compile(r"\{([0-9]*)(,?)([0-9]*)\}")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}


def _literal_matcher(char: str, ignorecase: bool) -> Matcher:
    if not ignorecase:
        return char.__eq__
    lower, upper = char.lower(), char.upper()
    return lambda c: c == char or c.lower() == lower or c.upper() == upper


def _class_matcher(
    negate: bool,
    chars: set[str],
    ranges: list[tuple[str, str]],
    categories: list[Matcher],
    ignorecase: bool,
) -> Matcher:
    frozen = frozenset(chars)

    def base(c: str) -> bool:
        if c in frozen:
            return True
        if any(lo <= c <= hi for lo, hi in ranges):
            return True
        return any(cat(c) for cat in categories)

    if ignorecase:

        def member(c: str) -> bool:
            return base(c) or base(c.lower()) or base(c.upper())
    else:
        member = base
    if negate:
        return lambda c: not member(c)
    return member


class _Parser:
    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0
        self.ignorecase = False
        self.dotall = False

    def error(self, message: str, position: int | None = None) -> RegexError:
        return RegexError(message, self.i if position is None else position)

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.p[j] if j < len(self.p) else ""

    def parse(self) -> tuple:
        self._leading_flags()
        node = self._alternation()
        if self.i < len(self.p):
            raise self.error("unbalanced parenthesis")
        return node

    def _leading_flags(self) -> None:
        while self.p.startswith("(?", self.i) and self.i + 2 < len(self.p) and self.p[self.i + 2].isalpha():
            end = self.p.find(")", self.i)
            flags = self.p[self.i + 2 : end] if end != -1 else ""
            if end == -1 or not flags.isalpha():
                return  # scoped flags (?i:...) or garbage: reported by _group
            for flag in flags:
                if flag == "i":
                    self.ignorecase = True
                elif flag == "s":
                    self.dotall = True
                elif flag != "u":
                    raise self.error(f"flag {flag!r} is not supported (only i, s)")
            self.i = end + 1

    def _alternation(self) -> tuple:
        branches = [self._concatenation()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self._concatenation())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def _concatenation(self) -> tuple:
        items: list[tuple] = []
        while self.i < len(self.p) and self.peek() not in "|)":
            atom_start = self.i
            atom = self._atom()
            items.append(self._quantified(atom, atom_start))
        if not items:
            return ("empty",)
        return items[0] if len(items) == 1 else ("cat", items)

    def _quantifier(self) -> tuple[int, int | None] | None:
        char = self.peek()
        if char == "*":
            self.i += 1
            return 0, None
        if char == "+":
            self.i += 1
            return 1, None
        if char == "?":
            self.i += 1
            return 0, 1
        if char == "{":
            match = _BRACE_QUANTIFIER_RE.match(self.p, self.i)
            if match is None or (not match.group(1) and not match.group(2)):
                return None  # Python treats such a '{' as a literal
            lo_text, comma, hi_text = match.groups()
            lo = int(lo_text) if lo_text else 0
            hi = (int(hi_text) if hi_text else None) if comma else lo
            if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
                raise self.error(f"repeat bounds above {MAX_REPEAT} are not supported")
            if hi is not None and lo > hi:
                raise self.error("min repeat greater than max repeat")
            self.i = match.end()
            return lo, hi
        return None

    def _quantified(self, atom: tuple, atom_start: int) -> tuple:
        bounds = self._quantifier()
        if bounds is None:
            return atom
        if atom[0] == "assert":
            raise self.error("nothing to repeat", atom_start)
        if self.peek() == "?":
            self.i += 1  # lazy: same yes/no answer
        elif self.peek() == "+":
            raise self.error("possessive quantifiers are not supported")
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._looks_like_quantifier()):
            raise self.error("multiple repeat")
        lo, hi = bounds
        return ("repeat", atom, lo, hi)

    def _looks_like_quantifier(self) -> bool:
        saved = self.i
        try:
            return self._quantifier() is not None
        except RegexError:
            return True
        finally:
            self.i = saved

    def _atom(self) -> tuple:
        char = self.peek()
        if char in ("*", "+", "?") or (char == "{" and self._looks_like_quantifier()):
            raise self.error("nothing to repeat")
        if char == "(":
            return self._group()
        if char == "[":
            return ("char", self._class())
        if char == ".":
            self.i += 1
            if self.dotall:
                return ("char", lambda c: True)
            return ("char", lambda c: c != "\n")
        if char == "^":
            self.i += 1
            return ("assert", "bol")
        if char == "$":
            self.i += 1
            return ("assert", "eol")
        if char == "\\":
            return self._escape()
        self.i += 1
        return ("char", _literal_matcher(char, self.ignorecase))

    def _group(self) -> tuple:
        open_at = self.i
        self.i += 1
        if self.peek() == "?":
            kind = self.peek(1)
            if kind == ":":
                self.i += 2
            elif kind == "P" and self.peek(2) == "<":
                end = self.p.find(">", self.i)
                name = self.p[self.i + 3 : end] if end != -1 else ""
                if end == -1 or not name.isidentifier():
                    raise self.error("bad group name")
                self.i = end + 1
            elif kind == "#":
                end = self.p.find(")", self.i)
                if end == -1:
                    raise self.error("missing ), unterminated comment")
                self.i = end + 1
                return ("empty",)
            elif kind in ("=", "!") or (kind == "<" and self.peek(2) in ("=", "!")):
                raise self.error("lookahead/lookbehind is not supported")
            elif kind == "P" and self.peek(2) == "=":
                raise self.error("backreferences are not supported")
            elif kind == ">":
                raise self.error("atomic groups are not supported")
            elif kind == "(":
                raise self.error("conditional groups are not supported")
            elif kind.isalpha() or kind == "-":
                raise self.error("flags are only supported as (?i) or (?s) at the start of the pattern")
            else:
                raise self.error("unknown extension")
        node = self._alternation()
        if self.peek() != ")":
            raise self.error("missing ), unterminated subpattern", open_at)
        self.i += 1
        return node

    def _escape_char(self, in_class: bool) -> str | Matcher:
        """After a backslash: a literal character or a category matcher."""
        at = self.i
        self.i += 1  # the backslash
        char = self.peek()
        if not char:
            raise self.error("bad escape (end of pattern)", at)
        self.i += 1
        if char in _CATEGORIES:
            return _CATEGORIES[char]
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char]
        if in_class and char == "b":
            return "\b"
        if char in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[char]
            digits = self.p[self.i : self.i + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise self.error(f"incomplete escape \\{char}{digits}", at)
            self.i += width
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise self.error(f"bad escape \\{char}{digits}", at)
            return chr(code)
        if char == "N":
            end = self.p.find("}", self.i)
            if self.peek() != "{" or end == -1:
                raise self.error("missing {name} after \\N", at)
            try:
                literal = unicodedata.lookup(self.p[self.i + 1 : end])
            except KeyError:
                raise self.error("undefined character name", at) from None
            self.i = end + 1
            return literal
        if char == "0":
            if self.peek() in "01234567" and self.peek():
                raise self.error("octal escapes are not supported", at)
            return "\0"
        if char.isdigit():
            raise self.error("backreferences are not supported", at)
        if char.isascii() and char.isalpha():
            raise self.error(f"bad escape \\{char}", at)
        return char

    def _escape(self) -> tuple:
        nxt = self.peek(1)
        if nxt in ("b", "B", "A", "Z"):
            self.i += 2
            return ("assert", {"b": "word", "B": "nonword", "A": "bol", "Z": "eos"}[nxt])
        value = self._escape_char(in_class=False)
        if isinstance(value, str):
            return ("char", _literal_matcher(value, self.ignorecase))
        return ("char", value)

    def _class(self) -> Matcher:
        open_at = self.i
        self.i += 1
        negate = False
        if self.peek() == "^":
            negate = True
            self.i += 1
        chars: set[str] = set()
        ranges: list[tuple[str, str]] = []
        categories: list[Matcher] = []
        first = True
        while True:
            char = self.peek()
            if not char:
                raise self.error("unterminated character set", open_at)
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            item_at = self.i
            if char == "\\":
                if self.peek(1) in ("A", "Z", "B"):
                    raise self.error(f"bad escape \\{self.peek(1)}", item_at)
                lo: str | Matcher = self._escape_char(in_class=True)
            else:
                self.i += 1
                lo = char
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                if self.peek() == "\\":
                    hi: str | Matcher = self._escape_char(in_class=True)
                else:
                    hi = self.peek()
                    self.i += 1
                if not isinstance(lo, str) or not isinstance(hi, str) or lo > hi:
                    raise self.error("bad character range", item_at)
                ranges.append((lo, hi))
            elif isinstance(lo, str):
                chars.add(lo)
            else:
                categories.append(lo)
        return _class_matcher(negate, chars, ranges, categories, self.ignorecase)


@functools.lru_cache(maxsize=256)
def _cached_regex(pattern: str) -> SafeRegex:
    """Policies are re-read on every call; compile each pattern once. ``SafeRegex`` is
    immutable after construction (``search`` keeps its caches local), so sharing is safe.
    ``lru_cache`` does not cache exceptions, so invalid patterns are re-checked each time."""
    return SafeRegex(pattern)


# NFA opcodes
_CHAR, _SPLIT, _JUMP, _ASSERT, _MATCH = range(5)


class SafeRegex:
    """A regex compiled to a Thompson NFA: linear-time ``search``, no backtracking.

    Construct with a pattern (raises ``RegexError``); ``search(text)`` answers whether
    the pattern occurs anywhere in ``text``, exactly as ``re.search`` would.
    """

    __slots__ = ("pattern", "_op", "_arg", "_out1", "_out2", "_start", "_has_asserts")

    def __init__(self, pattern: str):
        if not isinstance(pattern, str):
            raise RegexError("pattern must be a string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise RegexError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
        ast = _Parser(pattern).parse()
        # Belt and braces: our dialect is a subset of Python's, so anything Python rejects
        # is a bug in our parser, reported as an invalid pattern rather than a mismatch.
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RegexError(f"invalid pattern: {exc.msg}", exc.pos) from None
        self.pattern = pattern
        self._op: list[int] = []
        self._arg: list[Any] = []
        self._out1: list[int] = []
        self._out2: list[int] = []
        match_state = self._new(_MATCH)
        self._start = self._compile(ast, match_state)
        self._has_asserts = _ASSERT in self._op

    def __repr__(self) -> str:
        return f"SafeRegex({self.pattern!r})"

    # -- construction (backwards: each node is compiled knowing its successor state)

    def _new(self, op: int, arg: Any = None, out1: int = -1, out2: int = -1) -> int:
        if len(self._op) >= MAX_STATES:
            raise RegexError(f"pattern is too complex (more than {MAX_STATES} states after expanding repeats)")
        self._op.append(op)
        self._arg.append(arg)
        self._out1.append(out1)
        self._out2.append(out2)
        return len(self._op) - 1

    def _compile(self, node: tuple, nxt: int) -> int:
        kind = node[0]
        if kind == "empty":
            return nxt
        if kind == "char":
            return self._new(_CHAR, node[1], nxt)
        if kind == "assert":
            return self._new(_ASSERT, node[1], nxt)
        if kind == "cat":
            for child in reversed(node[1]):
                nxt = self._compile(child, nxt)
            return nxt
        if kind == "alt":
            entries = [self._compile(child, nxt) for child in node[1]]
            entry = entries[-1]
            for other in reversed(entries[:-1]):
                entry = self._new(_SPLIT, None, other, entry)
            return entry
        if kind == "repeat":
            _, child, lo, hi = node
            cur = nxt
            if hi is None:
                loop = self._new(_SPLIT, None, -1, nxt)
                self._out1[loop] = self._compile(child, loop)
                cur = loop
            else:
                for _ in range(hi - lo):
                    cur = self._new(_SPLIT, None, self._compile(child, cur), nxt)
            for _ in range(lo):
                cur = self._compile(child, cur)
            return cur
        raise AssertionError(f"unknown node {kind}")  # pragma: no cover

    # -- simulation

    def _closure(self, seeds: Iterable[int], text: str, pos: int) -> tuple[tuple[int, ...], bool]:
        """Char-consuming states reachable from ``seeds`` by epsilon moves at ``pos``,
        and whether the match state is among them."""
        op, out1, out2, arg = self._op, self._out1, self._out2, self._arg
        seen: set[int] = set()
        result: list[int] = []
        matched = False
        stack = list(seeds)
        n = len(text)
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            code = op[state]
            if code == _CHAR:
                result.append(state)
            elif code == _SPLIT:
                stack.append(out2[state])
                stack.append(out1[state])
            elif code == _ASSERT:
                if self._assert_holds(arg[state], text, pos, n):
                    stack.append(out1[state])
            elif code == _MATCH:
                matched = True
        result.sort()
        return tuple(result), matched

    @staticmethod
    def _assert_holds(kind: str, text: str, pos: int, n: int) -> bool:
        if kind == "bol":
            return pos == 0
        if kind == "eos":
            return pos == n
        if kind == "eol":
            return pos == n or (pos == n - 1 and text[pos] == "\n")
        before = pos > 0 and _is_word(text[pos - 1])
        after = pos < n and _is_word(text[pos])
        if kind == "word":
            return before != after
        return n > 0 and before == after  # Python's \B never matches in an empty string

    def _context(self, text: str, pos: int, n: int) -> tuple[bool, ...] | None:
        if not self._has_asserts:
            return None
        return (
            pos == 0,
            pos == n,
            pos == n - 1 and text[pos] == "\n",
            pos > 0 and _is_word(text[pos - 1]),
            pos < n and _is_word(text[pos]),
        )

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``; over-long text never matches.

        Runs in O(len(text) × states): each step advances the whole set of NFA states at
        once. State sets are interned and transitions memoised (a lazy DFA), so the
        repetitive inputs typical of attacks mostly cost one dict lookup per character.
        """
        n = len(text)
        if n > MAX_MATCH_TEXT:
            return False
        start = self._start
        op, out1, arg = self._op, self._out1, self._arg
        ids: dict[tuple[tuple[int, ...], bool], int] = {}
        sets: list[tuple[int, ...]] = []
        accepting: list[bool] = []

        def intern(states: tuple[int, ...], matched: bool) -> int:
            known = ids.get((states, matched))
            if known is None:
                known = ids[(states, matched)] = len(sets)
                sets.append(states)
                accepting.append(matched)
            return known

        transitions: dict[tuple[int, str, tuple[bool, ...] | None], int] = {}
        current = intern(*self._closure((start,), text, 0))
        if accepting[current]:
            return True
        for pos, char in enumerate(text):
            key = (current, char, self._context(text, pos + 1, n))
            nxt = transitions.get(key)
            if nxt is None:
                seeds = [out1[s] for s in sets[current] if op[s] == _CHAR and arg[s](char)]
                seeds.append(start)  # search: a match may begin at any position
                nxt = transitions[key] = intern(*self._closure(seeds, text, pos + 1))
            if accepting[nxt]:
                return True
            current = nxt
        return False
