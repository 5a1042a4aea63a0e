"""Approval conditions: paths, validation, evaluation, tiers, hashing and the RE2 ``matches``.

The fail-closed cases (undecidable values, numeric strings, long text, ReDoS) are in
test_conditions_fail_closed.py."""

from __future__ import annotations

import hashlib
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.governance.conditions import (
    ConditionError,
    RegexError,
    SafeRegex,
    arguments_hash,
    canonical_arguments,
    compile_rule,
    compile_tiers,
    evaluate,
    parse_path,
    select_policy_tier,
    validate_rule,
    validate_tiers,
)

ARGS: dict[str, Any] = {
    "amount": 12500,
    "price": "99.90",
    "currency": "EUR",
    "reason": "Customer requested REFUND for order #1234",
    "customer": {"id": "cus_42", "email": "ana@example.com", "vip": True},
    "items": [{"sku": "A-1", "price": 10.5}, {"sku": "B-2", "price": "20"}],
    "tags": ["urgent", "manual", 7],
    "metadata": {"kind": "chargeback", "x-source": "api", "note": None},
    "flag": False,
    "ratio": 0.1,
}


def rule(field: str, operator: str, value: Any = ..., **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"field": field, "operator": operator, **extra}
    if value is not ...:
        data["value"] = value
    return data


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("amount", ("amount",)),
        ("amount.value", ("amount", "value")),
        ("items[0].price", ("items", 0, "price")),
        ("items[-1]", ("items", -1)),
        ("$.metadata.kind", ("metadata", "kind")),
        ("$", ()),
        ('$["x-source"]', ("x-source",)),
        ("metadata['a b.c']", ("metadata", "a b.c")),
        ('["weird key"].x', ("weird key", "x")),
        ("metadata.x-source", ("metadata", "x-source")),
        ("a[0][1]", ("a", 0, 1)),
    ],
)
def test_parse_path(path: str, segments: tuple[Any, ...]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".amount",
        "amount.",
        "amount..x",
        "items[",
        "items[x]",
        "items[01]",
        "items[]",
        "a b",
        "$x",
        "a[0]b",
        "a['']",
        "a[\"x']",
        "$$",
        "a" * 300,
        ".".join(["a"] * 40),
    ],
)
def test_parse_path_rejects(path: str) -> None:
    with pytest.raises(ValueError):
        parse_path(path)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (rule("amount", "~", 1), "unknown operator '~'"),
        (rule("amount", "gt", 1), "unknown operator 'gt'"),
        (rule("items[0.price", "==", 1), "unclosed '['"),
        (rule("", "==", 1), "field is required"),
        ({"operator": "==", "value": 1}, "field is required"),
        (rule("amount", ">", "abc"), "operator > needs a number"),
        (rule("amount", ">", True), "operator > needs a number"),
        (rule("amount", "<=", None), "operator <= needs a number"),
        (rule("amount", ">", [1]), "operator > needs a number"),
        (rule("amount", ">"), "operator > needs a value"),
        (rule("currency", "in", "EUR"), "non-empty list"),
        (rule("currency", "in", []), "non-empty list"),
        (rule("currency", "not_in", [["EUR"]]), "list of strings, numbers"),
        (rule("currency", "in", list(range(1001))), "at most 1000"),
        (rule("tags", "contains", {"a": 1}), "contains needs a string"),
        (rule("amount", "exists", "yes"), "exists needs true or false"),
        (rule("reason", "matches", 5), "needs a regular expression"),
        (rule("reason", "matches", "(refund"), "invalid regular expression: missing ): (refund"),
        (rule("reason", "matches", "[a-"), "missing ]"),
        (rule("reason", "matches", "*refund"), "no argument for repetition operator"),
        (rule("reason", "matches", r"(a)\1"), "invalid escape sequence: \\1"),
        (rule("reason", "matches", r"(?=a)"), "invalid perl operator: (?="),
        (rule("reason", "matches", r"(?=a)"), "RE2 syntax"),
        (rule("reason", "matches", "a" * 300), "longer than 256"),
        (rule("reason", "matches", "a{1001}"), "invalid repetition size"),
        (rule("reason", "matches", "(a{100}){11}"), "invalid repetition size"),
        (rule("reason", "matches", r"((\pL|\pN){1000})"), "pattern too large"),
        (rule("amount", "==", float("nan")), "finite number"),
        (rule("amount", "==", object()), "is not JSON"),
        (rule("amount", "==", 1, op="=="), "unknown key(s) op"),
        ("amount > 5", "rule must be an object"),
    ],
)
def test_validate_rule_errors(candidate: Any, expected: str) -> None:
    errors = validate_rule(candidate)
    assert any(expected in e for e in errors), errors


def test_validate_rule_reports_several_problems() -> None:
    errors = validate_rule({"field": "a[", "operator": ">", "value": "x", "extra": 1})
    assert len(errors) == 3, errors


@pytest.mark.parametrize(
    "candidate",
    [
        rule("amount", ">", 10000),
        rule("amount", ">=", "10000.50"),
        rule("amount", "<", 1.5),
        rule("currency", "in", ["EUR", "USD"]),
        rule("currency", "not_in", ["GBP", 3, None, True]),
        rule("tags", "contains", "urgent"),
        rule("amount", "exists"),
        rule("amount", "exists", False),
        rule("reason", "matches", r"(?i)\brefund\b"),
        rule("customer", "==", {"id": "cus_42"}),
        rule("metadata.note", "==", None),
    ],
)
def test_valid_rules(candidate: dict[str, Any]) -> None:
    assert validate_rule(candidate) == []
    assert compile_rule(candidate).to_dict()["operator"] == candidate["operator"]


def test_compile_rule_raises_with_all_errors() -> None:
    with pytest.raises(ConditionError) as excinfo:
        compile_rule(rule("a[", ">", "x"))
    assert len(excinfo.value.errors) == 2


# --------------------------------------------------------------------------- evaluation

EVAL_CASES = [
    # ordering, numeric coercion
    (rule("amount", ">", 10000), True),
    (rule("amount", ">", "10000"), True),
    (rule("amount", ">", 12500), False),
    (rule("amount", ">=", 12500.0), True),
    (rule("amount", "<", "1.25e4"), False),
    (rule("amount", "<=", "1.25e4"), True),
    (rule("price", ">", 99.89), True),  # decimal string argument
    (rule("price", "==", 99.9), True),
    (rule("price", "==", "99.9"), False),  # two strings compare as strings
    (rule("items[0].price", "==", "10.50"), True),
    (rule("items[1].price", ">", 19), True),
    (rule("items[-1].sku", "==", "B-2"), True),
    (rule("ratio", "==", "0.1"), True),  # float 0.1 equals decimal 0.1 (repr-based)
    # type mismatch never matches, whatever the operator
    (rule("currency", ">", 5), False),
    (rule("currency", "<", 5), False),
    (rule("currency", "==", 5), False),
    (rule("currency", "!=", 5), False),
    (rule("flag", "==", 0), False),  # booleans are not numbers
    (rule("flag", "<", 1), False),
    (rule("customer", ">", 1), False),
    (rule("items", "==", "x"), False),
    # equality
    (rule("currency", "==", "EUR"), True),
    (rule("currency", "!=", "USD"), True),
    (rule("currency", "!=", "EUR"), False),
    (rule("flag", "==", False), True),
    (rule("customer.vip", "!=", False), True),
    (rule("metadata.note", "==", None), True),
    (rule("currency", "!=", None), True),
    (rule("customer", "==", {"id": "cus_42", "email": "ana@example.com", "vip": True}), True),
    (rule("tags", "==", ["urgent", "manual", 7]), True),
    # in / not_in
    (rule("currency", "in", ["USD", "EUR"]), True),
    (rule("currency", "in", ["USD", "GBP"]), False),
    (rule("amount", "in", ["12500", 1]), True),
    (rule("currency", "not_in", ["USD", "GBP"]), True),
    (rule("currency", "not_in", ["EUR"]), False),
    (rule("amount", "not_in", ["USD", "GBP"]), False),  # nothing comparable: mismatch
    (rule("currency", "not_in", [1, "USD"]), True),  # mixed list: comparable element decides
    # contains
    (rule("reason", "contains", "REFUND"), True),
    (rule("reason", "contains", "refund"), False),
    (rule("tags", "contains", "manual"), True),
    (rule("tags", "contains", "7"), True),  # element equality coerces a decimal string against a number
    (rule("tags", "contains", 7.0), True),
    (rule("metadata", "contains", "x-source"), True),
    (rule("amount", "contains", 1), False),
    (rule("reason", "contains", 1), False),
    # exists
    (rule("metadata.note", "exists"), True),  # null exists
    (rule("metadata.missing", "exists"), False),
    (rule("metadata.missing", "exists", False), True),
    (rule("amount", "exists", False), False),
    # matches
    (rule("reason", "matches", r"(?i)\brefund\b"), True),
    (rule("reason", "matches", r"^Customer"), True),
    (rule("reason", "matches", r"^customer"), False),
    (rule("customer.email", "matches", r"@example\.com$"), True),
    (rule("reason", "matches", r"#\d{4}$"), True),
    (rule("amount", "matches", r"\d+"), False),  # only strings match
    # missing fields never match (except exists false)
    (rule("missing", "==", None), False),
    (rule("missing", "!=", 1), False),
    (rule("missing", "not_in", ["a"]), False),
    (rule("items[5].price", ">", 0), False),
    (rule("amount.value", ">", 0), False),  # traversing into a number
    (rule("items.price", ">", 0), False),  # name on a list
    (rule("customer[0]", "exists"), False),  # index on an object
]


@pytest.mark.parametrize(
    ("candidate", "expected"),
    EVAL_CASES,
    ids=[f"{r['field']} {r['operator']} {r.get('value')!r}" for r, _ in EVAL_CASES],
)
def test_evaluate_single_rule(candidate: dict[str, Any], expected: bool) -> None:
    assert evaluate([candidate], ARGS) is expected


def test_evaluate_all_rules_must_match() -> None:
    assert evaluate([], ARGS) is True
    assert evaluate([rule("amount", ">", 1), rule("currency", "==", "EUR")], ARGS) is True
    assert evaluate([rule("amount", ">", 1), rule("currency", "==", "USD")], ARGS) is False
    compiled = [compile_rule(rule("amount", ">", 1))]
    assert evaluate(compiled, ARGS) is True


def test_evaluate_invalid_rule_fails_closed() -> None:
    with pytest.raises(ConditionError, match="rule 2: unknown operator"):
        evaluate([rule("amount", ">", 1), rule("amount", "≈", 1)], ARGS)


@pytest.mark.parametrize("value", ["abc", ".", "e5", "x1", True, [], {}, {"v": 5}, [True], ["a"]])
def test_non_numbers_are_not_comparable(value: Any) -> None:
    args = {"amount": value}
    for op in (">", ">=", "<", "<=", "==", "!="):
        assert evaluate([rule("amount", op, 10)], args) is False


@pytest.mark.parametrize(
    "value",
    ["", " ", "1_000", "0x10", "NaN", "Infinity", "-inf", "9" * 2000, float("nan"), float("inf"), Decimal("NaN"),
     Decimal("-Infinity"), "10abc", "1,5", [20], "1e", "1.2.3"],
)
def test_values_read_differently_are_undecidable_for_some_operator(value: Any) -> None:
    """Never an exception; at least one comparison with 10 cannot be decided, because
    some common parser reads a number (or a non-finite one) that decides it differently."""
    args = {"amount": value}
    results = {op: evaluate([rule("amount", op, 10)], args) for op in (">", ">=", "<", "<=", "==", "!=")}
    assert None in results.values(), results


def test_null_is_comparable_but_never_ordered() -> None:
    args = {"amount": None}
    assert evaluate([rule("amount", "!=", 10)], args) is True  # documented: null differs from 10
    assert evaluate([rule("amount", "==", 10)], args) is False
    for op in (">", ">=", "<", "<="):
        assert evaluate([rule("amount", op, 10)], args) is False


@pytest.mark.parametrize(
    ("value", "bigger_than_10000"),
    [
        (10001, True),
        (10000, False),
        (10000.0001, True),
        ("10000.0001", True),
        (" 10001 ", True),
        ("+1e5", True),
        ("-20000", False),
        (Decimal("10000.5"), True),
        (2**80, True),
        ("1e999999", None),  # a double reads Infinity: undecidable (the strictest tier)
        ("-1e-999999", False),
    ],
)
def test_numeric_forms(value: Any, bigger_than_10000: bool | None) -> None:
    assert evaluate([rule("amount", ">", 10000)], {"amount": value}) is bigger_than_10000


def test_arguments_that_are_not_objects() -> None:
    assert evaluate([rule("$", "==", [1, 2])], [1, 2]) is True
    assert evaluate([rule("$[0]", ">", 0)], [1, 2]) is True
    assert evaluate([rule("amount", "exists")], None) is False
    assert evaluate([rule("amount", "exists", False)], "text") is True


# --------------------------------------------------------------------------- tiers

REFUND_TIERS = [
    {"when": [rule("amount", ">", 10000)], "approvals": 2, "order": "sequential"},
    {"approvals": 1},
]


@pytest.mark.parametrize(
    ("arguments", "approvals", "order", "index"),
    [
        ({"amount": 10001}, 2, "sequential", 0),
        ({"amount": "25000.00"}, 2, "sequential", 0),
        ({"amount": 10000}, 1, "any", 1),
        ({"amount": 50}, 1, "any", 1),
        ({"amount": "a lot"}, 1, "any", 1),  # mismatch: no match, falls to default
        ({}, 1, "any", 1),
    ],
)
def test_refund_tiers(arguments: dict[str, Any], approvals: int, order: str, index: int) -> None:
    tier = select_policy_tier(REFUND_TIERS, arguments)
    assert tier is not None
    assert (tier.approvals, tier.order, tier.index) == (approvals, order, index)
    assert tier.is_default is (index == 1)


def test_first_matching_tier_wins_and_no_default_means_none() -> None:
    tiers = [
        {"when": [rule("amount", ">", 100000)], "approvals": 3, "order": "sequential"},
        {"when": [rule("amount", ">", 10000)], "approvals": 2},
        {"when": [rule("currency", "!=", "EUR")], "approvals": 1},
    ]
    assert select_policy_tier(tiers, {"amount": 200000, "currency": "USD"}).approvals == 3
    assert select_policy_tier(tiers, {"amount": 20000, "currency": "USD"}).approvals == 2
    assert select_policy_tier(tiers, {"amount": 20, "currency": "USD"}).approvals == 1
    assert select_policy_tier(tiers, {"amount": 20, "currency": "EUR"}) is None


def test_compiled_tiers_are_reusable() -> None:
    compiled = compile_tiers(REFUND_TIERS)
    assert select_policy_tier(compiled, {"amount": 20000}).approvals == 2
    assert select_policy_tier(list(compiled), {"amount": 1}).approvals == 1
    assert compile_tiers([{"when": [], "approvals": 0}])[0].is_default


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        ("x", "tiers must be a list"),
        ([], "at least one tier"),
        ([{"approvals": 1}] * 21, "at most 20 tiers"),
        (["x"], "tier 1: must be an object"),
        ([{"approvals": 1}, {"when": [rule("a", "exists")], "approvals": 2}], "tier 1: the default tier"),
        ([{"approvals": 1}, {"approvals": 2}], "tier 2: only one default tier"),
        ([{"approvals": 11}], "approvals must be a whole number from 0 to 10"),
        ([{"approvals": -1}], "approvals must be"),
        ([{"approvals": True}], "approvals must be"),
        ([{"approvals": "2"}], "approvals must be"),
        ([{}], "approvals must be"),
        ([{"approvals": 1, "order": "random"}], "order must be one of any, sequential"),
        ([{"approvals": 1, "when": {"field": "a"}}], "when must be a list"),
        ([{"approvals": 1, "when": [rule("a", "exists")] * 51}], "at most 50 rules"),
        ([{"approvals": 1, "when": [rule("a", ">", "x")]}], "tier 1, rule 1: operator > needs a number"),
        ([{"approvals": 1, "if": []}], "unknown key(s) if"),
    ],
)
def test_validate_tiers(tiers: Any, expected: str) -> None:
    errors = validate_tiers(tiers)
    assert any(expected in e for e in errors), errors
    with pytest.raises(ConditionError):
        select_policy_tier(tiers, {"a": 1})


def test_valid_tiers_have_no_errors() -> None:
    assert validate_tiers(REFUND_TIERS) == []


# --------------------------------------------------------------------------- hashing


def test_canonical_arguments() -> None:
    args = {"b": 1, "a": {"z": [1, 2.5, None, True], "é": "ü"}}
    assert canonical_arguments(args) == '{"a":{"z":[1,2.5,null,true],"é":"ü"},"b":1}'.encode()
    assert canonical_arguments(args) == canonical_arguments({"a": {"é": "ü", "z": [1, 2.5, None, True]}, "b": 1})
    assert arguments_hash(args) == hashlib.sha256(canonical_arguments(args)).hexdigest()
    assert len(arguments_hash(args)) == 64


def test_hash_changes_with_any_value() -> None:
    base = {"amount": 10, "currency": "EUR"}
    assert arguments_hash(base) != arguments_hash({"amount": 10000, "currency": "EUR"})
    assert arguments_hash(base) != arguments_hash({"amount": "10", "currency": "EUR"})
    assert arguments_hash(base) != arguments_hash({**base, "extra": None})


def test_canonical_refuses_nan() -> None:
    with pytest.raises(ValueError):
        canonical_arguments({"x": float("nan")})


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    )
)
def test_hash_is_stable_under_key_order(value: Any) -> None:
    def reorder(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reorder(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reorder(x) for x in v]
        return v

    assert arguments_hash(value) == arguments_hash(reorder(value))


# --------------------------------------------------------------------------- RE2 matches


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("refund", "please refund me", True),
        ("^refund$", "refund", True),
        ("^refund$", "refund\n", False),  # RE2: $ is the end of the text (Python: also before a final \n)
        ("(?m)^refund$", "x\nrefund\ny", True),
        (r"^refund\z", "refund\n", False),
        (r"\Arefund", "xrefund", False),
        ("(?i)REFUND", "Refund", True),
        ("(?i:RE)FUND", "reFUND", True),
        ("(?s)a.b", "a\nb", True),
        ("a.b", "a\nb", False),
        (r"\bcat\b", "concat", False),
        (r"\Bcat\b", "concat", True),
        ("colou?r", "color", True),
        ("(ab|cd){2}", "xxabcdxx", True),
        ("(ab|cd){3}", "xxabcdxx", False),
        (r"[^\d\s]+", "123 456", False),
        (r"\d", "\u0665", False),  # RE2: \d is ASCII; \p{Nd} is every decimal digit
        (r"\p{Nd}", "\u0665", True),
        (r"[\w.+-]+@[\w-]+\.[a-z]{2,}", "mail: ana.b+x@ex-ample.org", True),
        (r"\x41\x{e9}€", "Aé€", True),
        ("(?P<name>ab)c", "abc", True),
        ("a*?b", "aaab", True),
        ("wire", "\ud800wire", True),  # a lone surrogate (valid JSON escape) does not crash
    ],
)
def test_matches_uses_re2_syntax(pattern: str, text: str, expected: bool) -> None:
    assert SafeRegex(pattern).search(text) is expected
    assert evaluate([rule("note", "matches", pattern)], {"note": text}) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a)\1", "invalid escape sequence"),
        (r"(?P<x>a)(?P=x)", "invalid perl operator"),
        (r"(?=a)", "invalid perl operator"),
        (r"(?<!a)b", "invalid perl operator"),
        (r"(?>a+)", "invalid perl operator"),
        (r"a++", "bad repetition operator"),
        (r"\Z", "invalid escape sequence"),
        ("a{3,2}", "invalid repetition size"),
        ("a{1001}", "invalid repetition size"),
        ("[z-a]", "invalid character class range"),
        ("(a", "missing )"),
        ("a)", "unexpected )"),
        ("[a", "missing ]"),
        ("\\", "trailing \\"),
        ("\ud800", "unpaired surrogate"),
        ("a" * 257, "longer than 256"),
        (r"((\pL|\pN){1000})", "pattern too large"),
        (5, "must be a string"),
    ],
)
def test_patterns_re2_cannot_compile_are_refused(pattern: Any, message: str) -> None:
    with pytest.raises(RegexError, match=re.escape(message)):
        SafeRegex(pattern)


ADVERSARIAL = [
    (r"(a+)+$", "a" * 100_000 + "!"),  # catastrophic in re: exponential
    (r"(a|aa)*b", "a" * 100_000),
    (r"(.*a){20}!", "a" * 100_000),
    (r".*.*.*x", "a" * 100_000),  # O(n^4) in re
    (r"\w+\d+@", "1" * 100_000),  # > 1 s in re on 1 KB
    (r"a[ab]{99}c", "ab" * 50_000),
    (r"[ab]{0,100}a.{100}a.{100}c", "ab" * 50_000),
]


@pytest.mark.parametrize(("pattern", "text"), ADVERSARIAL, ids=[p for p, _ in ADVERSARIAL])
def test_adversarial_inputs_run_in_linear_time(pattern: str, text: str) -> None:
    regex = SafeRegex(pattern)
    start = time.perf_counter()
    assert regex.search(text) is False
    # RE2 is linear: each takes milliseconds; the bound leaves room for a loaded CI box.
    assert time.perf_counter() - start < 2.0


REGEX_ATOMS = [
    "a", "b", ".", r"\d", r"\w", r"\s", r"\W", "[ab]", "[^a]", "[a-c]", "(a|b)", "(?:ab|c)", "^", "$",
    r"\b", r"\B", r"\A", "x", "1", " ", r"\.", "(a*)", "()", r"[\d_]", "(|a)", "[a-]", "(?P<g>a|)", r"[\w-]", "K",
]
REGEX_QUANTIFIERS = ["", "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?", "??", "{0}"]


@st.composite
def regex_patterns(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(st.tuples(st.sampled_from(REGEX_ATOMS), st.sampled_from(REGEX_QUANTIFIERS)), min_size=1, max_size=5)
    )
    pattern = "".join(a + q for a, q in parts)
    if draw(st.booleans()):
        pattern += "|" + draw(st.sampled_from(REGEX_ATOMS))
    return draw(st.sampled_from(["", "(?i)", "(?s)"])) + pattern


@settings(max_examples=400, deadline=None)
@given(regex_patterns(), st.lists(st.text(alphabet="abcAB1x. _{}kK-", min_size=1, max_size=10), min_size=1, max_size=8))
def test_re2_agrees_with_python_re_on_the_shared_dialect(pattern: str, texts: list[str]) -> None:
    """On non-empty ASCII text without newlines (``re``'s ``\\B`` never matches ""; its
    ``$`` also matches before a final newline), the common syntax means the same in RE2 and ``re``
    (where ``re`` itself accepts the pattern), so policies written for ``re`` keep working."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return
    try:
        safe = SafeRegex(pattern)
    except RegexError:  # e.g. an empty-width repeat RE2 refuses; never a silent mismatch
        return
    for text in texts:
        assert safe.search(text) is (compiled.search(text) is not None), (pattern, text)
