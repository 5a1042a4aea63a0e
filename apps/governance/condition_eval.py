"""Evaluating compiled conditions and tiers against tool-call arguments. Pure: no Django import.

Three-valued and fail closed: a condition is ``True``, ``False`` or, when the answer
depends on how a value is read (``condition_numbers``) or a value is over a size cap,
undecided; ``select_policy_tier`` then returns the policy's strictest tier with the reason,
never "no match". Rules and tiers come from ``condition_language`` (``compile_*``); the
raw-dict entry points here compile them first, so an invalid policy raises
``ConditionError`` (fails closed) instead of skipping approval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from . import condition_numbers as numbers
from .condition_language import ORDERING, Condition, PathSegment, Tier, compile_rules, compile_tiers
from .condition_numbers import Undecidable


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


# =========================================================================== conditions


def _holds(condition: Condition, reading: Any, original: Any) -> bool:
    op, value = condition.operator, condition.value
    if op == "==":
        return numbers.equals(reading, value, original) is True
    if op == "!=":
        return numbers.equals(reading, value, original) is False
    if op in ORDERING:
        number = numbers.rule_number(value)
        if not isinstance(reading, Decimal) or number is None:
            return False
        return {">": reading > number, ">=": reading >= number, "<": reading < number,
                "<=": reading <= number}[op]
    if op == "in":
        return any(numbers.equals(reading, item, original) is True for item in value)
    results = [numbers.equals(reading, item, original) for item in value]  # not_in
    return True not in results and False in results


def condition_matches(condition: Condition, arguments: Any) -> bool:
    """Whether the rule holds; raises ``Undecidable`` when that depends on how the
    value is read (see ``condition_numbers.readings``) or the value is over a size cap."""
    actual = _lookup(arguments, condition.path)
    op = condition.operator
    if op == "exists":
        return (actual is not MISSING) == bool(condition.value)
    if actual is MISSING:
        return False
    if op in ("==", "!=", "in", "not_in") or op in ORDERING:
        numeric = condition.numeric
        return numbers.agree((_holds(condition, r, actual) for r in numbers.readings(actual, numeric)), actual)
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(condition.value, str) and condition.value in actual
        if isinstance(actual, list):
            undecided: Undecidable | None = None
            numeric = numbers.is_real_number(condition.value)
            for element in actual:
                try:
                    outcomes = (numbers.equals(r, condition.value, element) is True
                                for r in numbers.readings(element, numeric))
                    if numbers.agree(outcomes, element):
                        return True
                except Undecidable as exc:
                    undecided = exc
            if undecided is not None:
                raise undecided
            return False
        if isinstance(actual, Mapping):
            return isinstance(condition.value, str) and condition.value in actual
        return False
    if op == "matches":
        if isinstance(actual, float | Decimal):
            numbers.finite_decimal(actual)
        return isinstance(actual, str) and condition.regex is not None and condition.regex.search(actual)
    raise AssertionError(f"unhandled operator {op}")  # pragma: no cover - guarded by validation


def decide_condition(condition: Condition, arguments: Any) -> tuple[bool | None, str]:
    """``(answer, reason)``, ``None`` when the value cannot be decided, the reason naming
    the condition. Never raises."""
    try:
        return bool(condition_matches(condition, arguments)), ""
    except Undecidable as exc:
        return None, f"condition {condition.describe()} could not be decided: {exc.reason}"
    except Exception as exc:  # noqa: BLE001 - fail closed on anything unforeseen
        return None, f"condition {condition.describe()} could not be decided ({type(exc).__name__})"


def decide_tier(tier: Tier, arguments: Any) -> tuple[bool | None, list[str]]:
    """Three-valued AND of the tier's conditions: ``False`` if one is definitely false,
    ``True`` if all are true, else ``None`` with the reasons."""
    reasons: list[str] = []
    for condition in tier.when:
        result, reason = decide_condition(condition, arguments)
        if result is False:
            return False, []
        if result is None:
            reasons.append(reason)
    return (None, reasons) if reasons else (True, [])


def evaluate(rules: Iterable[Mapping[str, Any] | Condition], arguments: Any) -> bool | None:
    """Three-valued AND of the rules on ``arguments``: ``True`` when every rule matches
    (vacuously for no rules), ``False`` when one definitely does not, ``None`` when the
    answer depends on a value that cannot be decided (see ``Undecidable``). Never raises
    on argument values.

    Invalid rules raise ``ConditionError`` rather than evaluating to false: a policy
    that cannot be read must stop the call (fail closed), not silently skip approval.
    """
    tier = Tier(approvals=0, order="any", when=compile_rules(rules), index=0)
    return decide_tier(tier, arguments)[0]


# =========================================================================== tiers


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
        result, reasons = decide_tier(tier, arguments)
        if result is True:
            return tier
        if result is None:
            chosen = strictest(compiled)
            assert chosen is not None  # compiled is non-empty: tier is in it
            return dataclasses.replace(chosen, undecided=tuple(reasons))
    return None
