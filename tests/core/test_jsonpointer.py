"""apps.core.jsonpointer: RFC 6901 escaping, splitting and resolution, and local $ref fragments."""

from __future__ import annotations

import pytest

from apps.core import jsonpointer
from apps.core.jsonpointer import PointerError

# RFC 6901 section 5's example document
RFC_DOC = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}


@pytest.mark.parametrize(
    ("token", "escaped"),
    [("a/b", "a~1b"), ("m~n", "m~0n"), ("~1", "~01"), ("/~", "~1~0"), ("", ""), ("plain", "plain"), (0, "0")],
)
def test_escape_and_unescape_are_inverse(token, escaped):
    assert jsonpointer.escape(token) == escaped
    assert jsonpointer.unescape(escaped) == str(token)


def test_unescape_replaces_tilde_one_first():
    assert jsonpointer.unescape("~01") == "~1"  # never "/"
    assert jsonpointer.unescape("~10") == "/0"


def test_join_and_split():
    assert jsonpointer.join(["paths", "/pets/{id}", "get", 0]) == "/paths/~1pets~1{id}/get/0"
    assert jsonpointer.split("/paths/~1pets~1{id}/get/0") == ["paths", "/pets/{id}", "get", "0"]
    assert jsonpointer.join([]) == "" and jsonpointer.split("") == []
    assert jsonpointer.split("/") == [""]  # the key "", not the whole document
    assert jsonpointer.split("/a//b") == ["a", "", "b"]
    with pytest.raises(PointerError, match="must start with '/'"):
        jsonpointer.split("a/b")


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("", RFC_DOC),
        ("/foo", ["bar", "baz"]),
        ("/foo/0", "bar"),
        ("/", 0),
        ("/a~1b", 1),
        ("/c%d", 2),
        ("/e^f", 3),
        ("/g|h", 4),
        ("/i\\j", 5),
        ('/k"l', 6),
        ("/ ", 7),
        ("/m~0n", 8),
    ],
)
def test_rfc_6901_examples(pointer, expected):
    assert jsonpointer.resolve(RFC_DOC, jsonpointer.split(pointer)) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("#", RFC_DOC),
        ("#/foo", ["bar", "baz"]),
        ("#/foo/0", "bar"),
        ("#/", 0),
        ("#/a~1b", 1),
        ("#/c%25d", 2),
        ("#/e%5Ef", 3),
        ("#/g%7Ch", 4),
        ("#/i%5Cj", 5),
        ("#/k%22l", 6),
        ("#/%20", 7),
        ("#/m~0n", 8),
    ],
)
def test_rfc_6901_uri_fragment_examples(ref, expected):
    assert jsonpointer.resolve_ref(RFC_DOC, ref) == expected


def test_fragment_tokens_are_percent_decoded_before_unescaping():
    assert jsonpointer.ref_tokens("#/paths/~1a~1%7Bb%7D/get") == ["paths", "/a/{b}", "get"]
    assert jsonpointer.ref_tokens("#/%7E1") == ["/"]  # %7E is "~": decoded first, then unescaped
    # a percent-encoded "/" stays inside its token (the $ref checks always read refs so)
    assert jsonpointer.ref_tokens("#/a%2Fb") == ["a/b"]
    assert jsonpointer.resolve_ref({"a/b": 1}, "#/a%2Fb") == 1
    assert jsonpointer.ref_tokens("#/100%") == ["100%"]  # not an escape: kept as written


@pytest.mark.parametrize("ref", ["other.yaml#/a", "https://example.com/spec#/a", "", "a/b", "#a", "#Foo"])
def test_non_local_refs_are_refused(ref):
    with pytest.raises(PointerError, match="not a local JSON pointer"):
        jsonpointer.ref_tokens(ref)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["missing"], "'missing' does not exist"),
        (["foo", "2"], "index '2' is out of range"),
        (["foo", "-"], "index '-' is out of range"),  # one past the end: never a value
        (["foo", "01"], "index '01' is out of range"),  # leading zero: not an array index
        (["foo", "-1"], "index '-1' is out of range"),
        (["foo", "²"], "index '²' is out of range"),  # str.isdigit() but not a number
        (["foo", "١"], "index '١' is out of range"),  # non-ASCII digits are not indices
        (["foo", " 1"], "index ' 1' is out of range"),
        (["foo", "x"], "index 'x' is out of range"),
        (["foo", "0", "x"], "cannot descend into a string with 'x'"),
        (["", "x"], "cannot descend into a int with 'x'"),
        (["a~1b"], "'a~1b' does not exist"),  # tokens given to resolve are already unescaped
    ],
)
def test_missing_targets_raise_pointer_error_naming_the_token(tokens, message):
    with pytest.raises(PointerError) as caught:
        jsonpointer.resolve(RFC_DOC, tokens)
    assert caught.value.args[0] == message
    assert str(caught.value) == message  # a sentence, not KeyError's repr
    assert isinstance(caught.value, KeyError)


def test_null_values_and_empty_containers():
    doc = {"a": None, "b": [], "c": {}}
    assert jsonpointer.resolve(doc, ["a"]) is None
    with pytest.raises(PointerError, match="cannot descend into null"):
        jsonpointer.resolve(doc, ["a", "x"])
    with pytest.raises(PointerError, match="index '0' is out of range"):
        jsonpointer.resolve(doc, ["b", "0"])
    with pytest.raises(PointerError, match="'x' does not exist"):
        jsonpointer.resolve(doc, ["c", "x"])


def test_large_index_and_nested_lists():
    doc = {"x": [[0, 1], list(range(12))]}
    assert jsonpointer.resolve_ref(doc, "#/x/0/1") == 1
    assert jsonpointer.resolve_ref(doc, "#/x/1/10") == 10
    with pytest.raises(PointerError):
        jsonpointer.resolve_ref(doc, "#/x/99999999999999999999")
