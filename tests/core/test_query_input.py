"""apps/core/query.py: the one set of rules for filter and paging values. Pure."""

from __future__ import annotations

import pytest

from apps.core.query import MAX_NUMBER, QueryError, QueryInput


@pytest.mark.parametrize("value", ["\x00", "ab\x00cd", "a\x1bb", "\x7f", "line\nbreak", "tab\there", "\ud800"])
def test_text_with_control_characters_is_refused(value):
    params = QueryInput({"q": value})
    assert params.text("q", label="search") == ""
    assert params.errors and "control character" in params.errors[0] and params.fields == ["q"]


def test_text_length_limit_and_plain_text_passes():
    params = QueryInput({"q": "x" * 100_000, "ok": "  café ٣  "})
    assert params.text("q") == ""
    assert "too long (100000 characters; at most 200)" in params.errors[0]
    assert params.text("ok") == "café ٣"
    assert len(params.errors) == 1


@pytest.mark.parametrize("value,message", [
    ("1" * 30, "too large"),
    ("9" * 100_000, "too large"),
    ("-1", "must not be negative"),
    ("-99999999999999999999", "must not be negative"),
    ("abc", "digits 0-9"),
    ("1e3", "digits 0-9"),
    ("٣", "digits 0-9"),  # ARABIC-INDIC DIGIT THREE: int() would accept it
    ("１２", "digits 0-9"),  # fullwidth digits
    ("\x00", "control character"),
    ("1\x00", "control character"),
    ("1.5", "digits 0-9"),
])
def test_bad_numbers_are_refused_with_a_message(value, message):
    params = QueryInput({"limit": value})
    assert params.number("limit", default=50, minimum=1) == 50
    assert message in params.message()
    with pytest.raises(QueryError) as refused:
        params.raise_for_errors()
    assert refused.value.status_code == 400 and refused.value.field == "limit"


def test_good_numbers_and_bounds():
    params = QueryInput({"a": "007", "b": str(MAX_NUMBER), "c": "", "d": "0", "e": "+3"})
    assert params.number("a") == 7
    assert params.number("b") == MAX_NUMBER
    assert params.number("c", default=4) == 4
    assert params.number("missing", default=9) == 9
    assert params.number("e") == 3
    assert params.ok
    assert params.number("d", minimum=1) is None and "at least 1" in params.message()


def test_page_defaults_to_one_and_refuses_zero():
    assert QueryInput({}).page() == 1
    params = QueryInput({"page": "0"})
    assert params.page() == 1 and not params.ok


def test_choice():
    params = QueryInput({"category": "critical", "risk": "extreme"})
    assert params.choice("category", ["critical", "read_only"]) == "critical"
    assert params.choice("risk", ["low", "high"], label="risk level") == ""
    assert params.errors == ["Unknown risk level 'extreme'; use one of low, high."]
