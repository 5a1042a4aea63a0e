"""The approval-condition rule language: operators, field paths, rules and tiers, and
their validation. Pure: no Django import.

A rule is ``{"field", "operator", "value"}``, a tier ``{"when", "approvals", "order"}``
(the language is described in ``apps.governance.conditions``). ``validate_*`` return the
problems as user-facing messages (the policy UI on save); ``compile_*`` raise
``ConditionError`` or return ``Condition``/``Tier`` values, which
``apps.governance.condition_eval`` evaluates against call arguments.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .condition_numbers import is_real_number, rule_number
from .condition_regex import RegexError, SafeRegex, cached_regex

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
ORDERING = frozenset({">", ">=", "<", "<="})
ORDERS: tuple[str, ...] = ("any", "sequential")

MAX_PATH_LENGTH = 256
MAX_PATH_DEPTH = 32
MAX_IN_ITEMS = 1000
MAX_VALUE_DEPTH = 32
MAX_APPROVALS = 10
MAX_TIERS = 20
MAX_RULES_PER_TIER = 50

_RULE_KEYS = frozenset({"field", "operator", "value"})
_TIER_KEYS = frozenset({"when", "approvals", "order"})


class ConditionError(ValueError):
    """Rules or tiers that do not validate. ``errors`` holds one message per problem."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


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

    @property
    def numeric(self) -> bool:
        """Whether the other side is a number, so argument strings are read as numbers."""
        if self.operator in ORDERING:
            return True
        if self.operator in ("in", "not_in"):
            return any(is_real_number(item) for item in self.value)
        return is_real_number(self.value)


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
    elif op in ORDERING:
        if rule_number(value) is None:
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
                regex = cached_regex(value)
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


def compile_rules(rules: Iterable[Mapping[str, Any] | Condition], prefix: str = "") -> tuple[Condition, ...]:
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
                conditions = compile_rules(when, prefix=f"{label}, ")
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

