"""Redaction: secret keys and credential-like values are masked, and the cheap checks (cached key
verdicts, literal and length shortcuts) answer exactly as the plain per-pattern search did."""

import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.audit import redact as redact_module
from apps.audit.redact import MASK, redact


def test_secret_keys_are_masked_at_any_depth():
    data = {
        "password": "hunter2",
        "nested": {"Authorization": "Bearer abc.def", "api_key": "k", "apiKey": "x"},
        "list": [{"client_secret": "s"}, {"cookie": "c=1"}],
        "token_name": "laptop",
        "email": "a@b.c",
    }
    out = redact(data)
    assert out["password"] == MASK
    assert out["nested"] == {"Authorization": MASK, "api_key": MASK, "apiKey": MASK}
    assert out["list"] == [{"client_secret": MASK}, {"cookie": MASK}]
    assert out["token_name"] == "laptop"  # metadata about a token is not the token
    assert out["email"] == "a@b.c"


def test_values_that_look_like_credentials_are_masked_under_any_key():
    out = redact(
        {
            "note": "Bearer eyJhbGciOi.eyJzdWIiOi.sig",
            "x": "mcpf_abcdefghijklmnop",
            "y": "sk_live_1234567890abcdef",
            "z": "plain text",
        }
    )
    assert out == {"note": MASK, "x": MASK, "y": MASK, "z": "plain text"}


def test_deep_structures_are_cut_not_crashed():
    deep: dict = {}
    cur = deep
    for _ in range(100):
        cur["a"] = {}
        cur = cur["a"]
    out = redact(deep)
    depth = 0
    while isinstance(out, dict):
        out = out["a"]
        depth += 1
    assert out == "[TRUNCATED]" and depth <= 25


# --- the cheaper checks give the answers of the original ones ---------------------------------

# The value patterns as they were, each searched on its own: the reference.
REFERENCE_VALUE_RES = [
    re.compile(r"^\s*(bearer|basic|token|digest)\s+\S{6,}", re.IGNORECASE),
    re.compile(r"mcpf_[A-Za-z0-9_-]{8,}"),
    re.compile(r"^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*$"),
    re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"),
]


def reference_looks_secret(value: str) -> bool:
    return any(rx.search(value) for rx in REFERENCE_VALUE_RES)


def reference_is_secret_key(key: str) -> bool:
    return bool(redact_module.SECRET_KEY_RE.search(key)) and not redact_module.SAFE_KEY_RE.match(key)


def reference_redact(value: Any, depth: int = 0) -> Any:
    if depth > redact_module.MAX_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            skey = str(key)
            if reference_is_secret_key(skey) and item not in (None, "", [], {}):
                out[skey] = MASK
            else:
                out[skey] = reference_redact(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [reference_redact(item, depth + 1) for item in value]
    if isinstance(value, str) and reference_looks_secret(value):
        return MASK
    return value


# Pieces that make the patterns match, almost match, or sit at a word boundary, mixed with
# anything: case variants (the long s and the Kelvin sign fold to s and k), separators, newlines.
VENDOR_PREFIXES = (
    [f"{a}k_{b}_" for a in "srp" for b in ("live", "test")]
    + [f"gh{c}_" for c in "pousr"]
    + [f"xox{c}-" for c in "abpr"]
)
FRAGMENTS = [
    "Bearer ", "basic\t", "TOKEN  ", "diGest ", "bearer", " ", "\n", "\t", "\u00a0", "ſ", "\u212a", "ß",
    "mcpf_", "mcpf", "eyJ", ".", "eyJhbGciOi", "pk_live", "_test_", "k_live_", "AKIA", "ABCDEFGHIJKLMNOP",
    "ghx_", "xoxz-", "xox", "-", "_", "é", "0123456789", "abcdefgh", "ABCDEFGH", "a1B2c3D4e5", "監査", "🦄",
    *VENDOR_PREFIXES,
]
secretish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=14).map("".join)
KNOWN = [
    "Bearer abcdefg", " \tBASIC dXNlcjpw", "token\u00a0abcdef", "digest  123456 more", "bearer abcde",
    "mcpf_abcdefgh", "see mcpf_abcdefg", "eyJhbGciOi.eyJzdWIiOi.sig", "eyJhbGciOi.eyJzdWIiOi.sig\n",
    "eyJhbGciOi.eyJzdWIiOi.sig x", "key sk_live_12345678", "xsk_live_12345678", "AKIAABCDEFGHIJKLMNOP",
    "AKIAABCDEFGHIJKLMNOPQ", "ghp_" + "a" * 20, "ghp_" + "a" * 19, "xoxb-0123456789", "xoxb-012345678",
    "ſk_live_12345678", "to\u212aen abcdefgh", "BAſIC abcdefgh", "short", "", "AKIA0123456789ABCDEF",
    "x AKIAZZZZ0000ZZZZ0000 y", "mcpf_-_-_-_-", "eyJ-----._____.", "eyJ-----._____", "\n\n Token \u3000 zzzzzz",
    *(f"x {prefix}{'a1' * 10}" for prefix in VENDOR_PREFIXES), *(f"x{prefix}{'a1' * 10}" for prefix in VENDOR_PREFIXES),
]


def test_known_values_match_the_reference_both_ways():
    verdicts = [reference_looks_secret(value) for value in KNOWN]
    assert True in verdicts and False in verdicts
    assert [redact_module.looks_secret(value) for value in KNOWN] == verdicts


@given(value=secretish | st.text())
@example(value="eyJabcde.fghij.\n")
@settings(max_examples=3000, deadline=None)
def test_value_check_matches_the_reference(value):
    assert redact_module.looks_secret(value) == reference_looks_secret(value)


keys = st.sampled_from([
    "password", "Passwd", "api_key", "API-Key", "x-api-key", "pin", "PIN", "pin\n", "spin", "pinned", "otp",
    "token", "token_name", "token_prefix", "token_id", "tokens", "session", "session_id_hash", "expires_at",
    "secret_count", "has_secret", "grant_type", "Authorization", "cookie", "signature", "cvv", "email",
    "x" * 101 + "password", "x" * 101 + "_at", "x" * 101,
]) | st.text(max_size=12)
leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | secretish | st.just("")
trees = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(keys | st.integers(), inner,
                                                                                          max_size=5),
    max_leaves=30,
)


@given(value=trees)
@settings(max_examples=1000, deadline=None)
def test_redact_matches_the_reference(value):
    assert redact(value) == reference_redact(value)
    assert _typed(redact(value)) == _typed(reference_redact(value))  # == alone takes True for 1 and 1.0


def _typed(value: Any) -> Any:
    """``value`` with each leaf paired with its exact type, and the type of each container."""
    if isinstance(value, dict):
        return type(value), [(key, type(key), _typed(item)) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return type(value), [_typed(item) for item in value]
    return type(value), value


def test_the_patterns_are_the_reference_ones_and_the_shortcuts_are_sound():
    assert [(rx.pattern, rx.flags) for rx in redact_module.SECRET_VALUE_RES] == [
        (rx.pattern, rx.flags) for rx in REFERENCE_VALUE_RES]
    # no pattern matches fewer characters than the length below which none is searched
    assert min(re._parser.parse(rx.pattern, rx.flags).getwidth()[0]  # type: ignore[attr-defined]
               for rx in REFERENCE_VALUE_RES) == redact_module.MIN_SECRET_VALUE_LEN
    # a required literal is a sound shortcut only for a case-sensitive pattern
    for rx, literals in redact_module._SECRET_VALUE_PATTERNS:
        assert literals is None or not rx.flags & re.IGNORECASE


def test_depth_limit_is_the_reference_one():
    for depth in range(redact_module.MAX_DEPTH - 2, redact_module.MAX_DEPTH + 3):
        value: Any = ["mcpf_abcdefghij", {"password": "x"}, "plain"]
        for level in range(depth):
            value = {"a": value} if level % 2 else [value]
        assert redact(value) == reference_redact(value)


def test_key_verdicts_are_the_same_cached_or_not():
    for key in ["password", "token_name", "x" * 200 + "secret", "x" * 200 + "secret_at", "Pin", "pin\n"]:
        for _ in range(2):
            assert redact_module.is_secret_key(key) == reference_is_secret_key(key)
    assert redact_module._check_key_cached.cache_info().maxsize is not None  # bounded
