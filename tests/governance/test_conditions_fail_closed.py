"""Approval conditions fail closed (issue 16, items 1-3 and 5 for ``matches``).

Every case asserts the tier ``select_policy_tier`` picks (what the approval queue will
ask for): a value the policy cannot decide selects the policy's strictest tier, never
the lenient one and never an exception. No database.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.governance import condition_numbers, condition_regex, conditions
from apps.governance.conditions import select_policy_tier, strictest, strictness
from apps.governance.grants import Target, ToolRef
from apps.governance.policies import PolicyRef, requirement


def rule(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


# Two tiers: "held" means the 2-approval tier.
WIRE = [{"when": [rule("note", "matches", "(?i)wire|offshore")], "approvals": 2, "order": "sequential"},
        {"approvals": 1}]
AMOUNT = [{"when": [rule("amount", ">", 1000)], "approvals": 2, "order": "sequential"}, {"approvals": 1}]
# Three tiers tell "decided as the number" (index 1) from "undecidable: strictest" (index 0).
LADDER = [
    {"when": [rule("amount", ">", 100000)], "approvals": 3, "order": "sequential"},
    {"when": [rule("amount", ">", 1000)], "approvals": 2},
    {"approvals": 1},
]


def tier_for(tiers: list[dict[str, Any]], arguments: Any) -> conditions.Tier:
    tier = select_policy_tier(tiers, arguments)
    assert tier is not None
    return tier


# --------------------------------------------------------------------------- item 1: long text


@pytest.mark.parametrize(
    "note",
    [
        "wire",
        "wire" + " " * 4100,  # the reproduced bypass: over the old 4,096-character cap
        " " * 4100 + "WIRE",
        "x" * 1_000_000 + "offshore",  # 1 MB
        "offshore" + "\u00a0" * 1_000_000,
        "é" * 300_000 + "Wire",  # multi-byte text
    ],
    ids=["short", "wire+4100 spaces", "4100 spaces+WIRE", "1MB then offshore", "offshore then 1MB", "unicode"],
)
def test_matches_holds_text_of_any_length(note: str) -> None:
    tier = tier_for(WIRE, {"note": note})
    assert (tier.index, tier.approvals, tier.undecided) == (0, 2, ())


def test_long_text_without_the_word_is_decided_not_matched() -> None:
    tier = tier_for(WIRE, {"note": "x" * 1_000_000})
    assert (tier.index, tier.undecided) == (1, ())


def test_text_over_the_match_cap_is_strictest_never_no_match(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(condition_regex, "MAX_MATCH_TEXT", 10_000)
    tier = tier_for(WIRE, {"note": "x" * 10_001})  # no "wire" in it, but too long to decide
    assert (tier.index, tier.approvals) == (0, 2)
    assert "could not be decided" in tier.undecided[0] and "note matches" in tier.undecided[0]


def test_redos_pattern_on_100k_characters_returns_promptly() -> None:
    tiers = [{"when": [rule("q", "matches", "^(a+)+$")], "approvals": 2}, {"approvals": 1}]
    start = time.perf_counter()
    tier = tier_for(tiers, {"q": "a" * 100_000 + "!"})
    elapsed = time.perf_counter() - start
    assert tier.index == 1  # decided: no match
    assert elapsed < 2.0, elapsed  # backtracking `re` would not finish; RE2 takes milliseconds
    assert tier_for(tiers, {"q": "a" * 100_000}).index == 0


# --------------------------------------------------------------------------- items 2-3: numbers

HELD = [
    "0" * 101 + "5000",  # leading zeros, long
    "５０００",  # fullwidth
    "٥٠٠٠",  # Arabic-Indic
    "५०००",  # Devanagari
    "1_000_000",  # Python int()/Decimal() accept underscores
    " 5000 ",
    "\u00a05000",
    "\u20005000",
    "\t5000\n",
    "+5000",
    "5e3",
    "5E+3",
    "5000.0",
    "0x1388",  # int(x, 0) and JavaScript Number read 5000
    "0X1388",
    "5000abc",  # parseFloat reads 5000
    "5,000",  # locale
    "5.000,00",
    "5 000",
    "5'000",
    "5\u200b000",  # zero-width space
    "５,０００",
    "5e400",
    "1e400",
    "-inf",
    "Infinity",
    "NaN",
    "nan",
    "1" * 1_000_000,  # 1 MB of digits: over the parsing cap
    "9" * 5000,
    5000,
    5000.5,
    Decimal("5000"),
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal("NaN"),
    Decimal("Infinity"),
    10**400,  # a double reads it as Infinity
    [5000],  # JavaScript compares [5000] > 1000 as 5000 > 1000
    ["5000"],
]


@pytest.mark.parametrize("amount", HELD, ids=[repr(v)[:30] for v in HELD])
def test_amount_over_1000_in_any_form_is_held(amount: Any) -> None:
    tier = tier_for(AMOUNT, {"amount": amount})
    assert (tier.index, tier.approvals, tier.order) == (0, 2, "sequential")
    # nested, as the value of a path into an object, and inside a list
    assert tier_for([{**AMOUNT[0], "when": [rule("payout.amount", ">", 1000)]}, AMOUNT[1]],
                    {"payout": {"amount": amount}}).index == 0
    assert tier_for([{**AMOUNT[0], "when": [rule("items[0].amount", ">", 1000)]}, AMOUNT[1]],
                    {"items": [{"amount": amount}]}).index == 0


DECIDED_AS_5000 = ["0" * 101 + "5000", "５０００", "٥٠٠٠", "५०००", " 5000 ", "\u00a05000", "\u20005000", "+5000",
                   "5e3", "5E+3", "5000.0", "5000", 5000, 5000.0, Decimal("5000.00")]


@pytest.mark.parametrize("amount", DECIDED_AS_5000, ids=[repr(v)[:30] for v in DECIDED_AS_5000])
def test_numeric_strings_every_reader_agrees_on_compare_as_that_number(amount: Any) -> None:
    tier = tier_for(LADDER, {"amount": amount})
    assert (tier.index, tier.approvals, tier.undecided) == (1, 2, ())


UNDECIDABLE = ["1_000_000", "0x1388", "5000abc", "5,000", "5 000", "5e400", "-inf", "Infinity", "NaN",
               "1" * 1_000_000, float("nan"), float("inf"), Decimal("NaN"), 10**400, [5000]]


@pytest.mark.parametrize("amount", UNDECIDABLE, ids=[repr(v)[:30] for v in UNDECIDABLE])
def test_undecidable_values_select_the_strictest_tier_with_a_reason(amount: Any) -> None:
    tier = tier_for(LADDER, {"amount": amount})
    assert (tier.index, tier.approvals, tier.order) == (0, 3, "sequential")
    assert len(tier.undecided) == 1
    # the first tier's condition when its readings disagree; else the second's (every reading
    # is below 100000, so the first tier definitely does not apply)
    assert re.match(r"condition amount > 1000(00)? could not be decided: ", tier.undecided[0]), tier.undecided


NOT_NUMBERS = ["lots", "abc", "", "amount", "e", "..", True, False, None, {"v": 5000}, [], [1], ["lots"],
               {"amount": 5000}, "x" * 1_000_000]


@pytest.mark.parametrize("amount", NOT_NUMBERS, ids=[repr(v)[:30] for v in NOT_NUMBERS])
def test_values_no_parser_reads_above_1000_are_not_held(amount: Any) -> None:
    tier = tier_for(LADDER, {"amount": amount})
    assert (tier.index, tier.undecided) == (2, ())


def test_strictness_prefers_more_approvals_then_sequential() -> None:
    assert strictness(2, "any") > strictness(1, "sequential")
    assert strictness(2, "sequential") > strictness(2, "any")
    tiers = [
        {"when": [rule("amount", ">", 1000)], "approvals": 2, "order": "any"},
        {"when": [rule("currency", "==", "EUR")], "approvals": 2, "order": "sequential"},
        {"approvals": 1},
    ]
    chosen = tier_for(tiers, {"amount": "NaN", "currency": "EUR"})
    assert (chosen.index, chosen.order) == (1, "sequential")
    assert strictest(conditions.compile_tiers(tiers)).index == 1


def test_a_definitely_false_condition_in_the_same_tier_keeps_the_tier_decided() -> None:
    tiers = [{"when": [rule("amount", ">", 1000), rule("currency", "==", "USD")], "approvals": 2},
             {"approvals": 1}]
    # NaN cannot be decided, but the tier needs currency USD too: it definitely does not apply
    tier = tier_for(tiers, {"amount": "NaN", "currency": "EUR"})
    assert (tier.index, tier.undecided) == (1, ())
    assert tier_for(tiers, {"amount": "NaN", "currency": "USD"}).index == 0


def test_an_unforeseen_error_selects_the_strictest_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(value: Any, numeric: bool) -> list[Any]:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(condition_numbers, "readings", boom)
    tier = tier_for(LADDER, {"amount": 5})
    assert tier.index == 0 and "RuntimeError" in tier.undecided[0]


def test_a_unicode_minus_sign_is_read_as_a_minus() -> None:
    refunds = [{"when": [rule("amount", "<", -1000)], "approvals": 2}, {"approvals": 1}]
    assert tier_for(refunds, {"amount": "-5000"}).index == 0
    assert tier_for(refunds, {"amount": "\u22125000"}).index == 0  # no parser agrees: strictest
    assert tier_for(refunds, {"amount": "\u2212500"}).index == 1


def test_equality_and_membership_read_numeric_strings_too() -> None:
    eq = [{"when": [rule("amount", "==", 5000)], "approvals": 2}, {"approvals": 1}]
    assert tier_for(eq, {"amount": "٥٠٠٠"}).index == 0
    assert tier_for(eq, {"amount": "0x1388"}).undecided  # one reader says 5000, another "not a number"
    member = [{"when": [rule("amount", "in", [5000, 6000])], "approvals": 2}, {"approvals": 1}]
    assert tier_for(member, {"amount": "５０００"}).index == 0
    assert tier_for(member, {"amount": "lots"}).index == 1
    contains = [{"when": [rule("amounts", "contains", 5000)], "approvals": 2}, {"approvals": 1}]
    assert tier_for(contains, {"amounts": [1, "٥٠٠٠"]}).index == 0
    assert tier_for(contains, {"amounts": [1, "5000abc"]}).undecided
    # two strings still compare as text: "007" is not "7"
    assert conditions.evaluate([rule("id", "==", "7")], {"id": "007"}) is False


def test_requirement_reason_names_the_undecidable_condition() -> None:
    tool = ToolRef("POST /payouts", "billing", frozenset())
    ref = PolicyRef(id="p", label="Payouts", target=Target.names("POST /payouts"), kind="multi",
                    approvals_required=3, tiers=tuple(LADDER))
    need = requirement([ref], tool, "1", {"amount": "Infinity"})
    assert need.approvals_required == 3 and need.order == "sequential"
    assert need.reason.startswith("Payouts: strictest tier, because condition amount > 100000 could not be decided")
    # an undecidable value in a received document (e.g. the query string) is held too
    need = requirement([ref], tool, "1", {"amount": 5}, received=[{"amount": "1e400"}])
    assert need.approvals_required == 3 and "upstream receives" in need.reason


# --------------------------------------------------------------------------- property

UNICODE_DIGITS = ["0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "۰۱۲۳۴۵۶۷۸۹"]
SPACES = ["", " ", "\t", "\n", "\u00a0", "\u2000", "\u3000", "\u200b", "\ufeff"]


@st.composite
def numeric_strings(draw: st.DrawFn) -> str:
    digits = draw(st.sampled_from(UNICODE_DIGITS))
    def run(min_size: int) -> str:
        return "".join(digits[d] for d in draw(st.lists(st.integers(0, 9), min_size=min_size, max_size=8)))
    number = run(1)
    if draw(st.booleans()):
        number = draw(st.sampled_from(["_", ",", ".", "'", " "])).join([number, run(1)])
    if draw(st.booleans()):
        number += draw(st.sampled_from([".", ","])) + run(0)
    if draw(st.booleans()):
        number += draw(st.sampled_from(["e", "E"])) + draw(st.sampled_from(["", "+", "-"])) + str(
            draw(st.integers(0, 500)))
    prefix = draw(st.sampled_from(["", "+", "-", "0x", "0", "00", "０"]))
    suffix = draw(st.sampled_from(["", "abc", "€", " EUR", "%", "x"]))
    return draw(st.sampled_from(SPACES)) + prefix + number + suffix + draw(st.sampled_from(SPACES))


SCALARS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    numeric_strings(),
    st.sampled_from(["Infinity", "-Infinity", "NaN", "nan", "inf", "1e400", "-1e400", "5e-400", "", " ", "0x1388",
                     "0o17", "0b101", "1_000", "lots"]),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                            max_size=3), max_leaves=6)
OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
       "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def python_reading(value: Any) -> Decimal | str | None:
    """What Python makes of the value the upstream receives: the JSON number, or
    ``Decimal(text)`` of a string; ``"nonfinite"`` for NaN/infinities; ``None`` for no number."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, float):
        value = Decimal(repr(value)) if value == value and abs(value) != float("inf") else Decimal("NaN")
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except (InvalidOperation, ValueError):
            return None
    number = Decimal(value)
    return number if number.is_finite() else "nonfinite"


@settings(max_examples=1000, deadline=None)
@given(value=VALUES, op=st.sampled_from(sorted(OPS)), threshold=st.sampled_from([0, 1000, -5, 0.5]))
@example(value="0" * 101 + "5000", op=">", threshold=1000)
@example(value="٥٠٠٠", op=">", threshold=1000)
@example(value="1_000_000", op=">", threshold=1000)
@example(value="5000abc", op=">", threshold=1000)
@example(value=float("nan"), op="<", threshold=1000)
def test_evaluator_decides_as_python_reads_the_value_or_selects_the_strictest_tier(
        value: Any, op: str, threshold: float) -> None:
    # The conditional tier is the *lenient* one here, so "strictest" cannot hide a wrong answer
    # for the other branch: both outcomes are checked against the undecided marker.
    tiers = [{"when": [rule("amount", op, threshold)], "approvals": 1, "order": "any"},
             {"approvals": 2, "order": "sequential"}]
    tier = select_policy_tier(tiers, {"amount": value})  # never raises
    assert tier is not None
    if tier.undecided:
        assert (tier.index, tier.approvals) == (1, 2)  # the strictest tier
        return
    reference = python_reading(value)
    assert reference != "nonfinite", "a non-finite number was decided"
    if reference is None:
        expected = op == "!=" and value is None  # null differs from a number; nothing else is comparable
    else:
        expected = OPS[op](reference, Decimal(str(threshold)))
    assert tier.index == (0 if expected else 1), (value, op, threshold, reference)
