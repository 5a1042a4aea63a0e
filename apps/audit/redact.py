"""Mask secrets before anything reaches an audit payload. Pure: no Django import.

Keys that name a secret are masked whatever their value; values that look like a
credential (bearer/basic headers, our own mcpf_ tokens, JWTs, common vendor keys) are
masked wherever they appear.

Every gateway call redacts two payloads, so the checks are kept cheap: a key's verdict is
cached (payload keys are few and repeat), and a string is searched only by the patterns it
could match at all (long enough, and holding the literal text each pattern requires).
"""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "[REDACTED]"

SECRET_KEY_RE = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|authori[sz]ation|api[-_ ]?key|apikey|cookie|session|"
    r"private[-_]?key|credential|client[-_]?secret|signature|otp|totp|pin$|cvc|cvv|x-api-key)",
    re.IGNORECASE,
)
# Keys that contain a secret-ish word but are harmless metadata.
SAFE_KEY_RE = re.compile(r"^(token_(name|prefix|id)|.*_at|.*_count|.*_type|has_.*|session_id_hash)$", re.IGNORECASE)

# Each value pattern with the literals a string must contain (any one of them) for the pattern
# to match; None where there is no such literal (the case-insensitive one). Not one combined
# alternation: the re module then tries every branch at every position, where a pattern that
# starts with a literal is scanned for that literal first; on long strings that was slower.
_SECRET_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...] | None], ...] = (
    (re.compile(r"^\s*(bearer|basic|token|digest)\s+\S{6,}", re.IGNORECASE), None),
    (re.compile(r"mcpf_[A-Za-z0-9_-]{8,}"), ("mcpf_",)),
    (re.compile(r"^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*$"), ("eyJ",)),  # JWT
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"), ("k_live_", "k_test_")),  # Stripe-style
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), ("AKIA",)),  # AWS access key id
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), ("gh",)),  # GitHub tokens
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"), ("xox",)),  # Slack tokens
)
SECRET_VALUE_RES = [rx for rx, _ in _SECRET_VALUE_PATTERNS]
_ALWAYS_SEARCHED = tuple(rx for rx, literals in _SECRET_VALUE_PATTERNS if literals is None)
_BY_LITERAL = tuple((literal, rx) for rx, literals in _SECRET_VALUE_PATTERNS if literals for literal in literals)
# The fewest characters any of them matches ("token" + one space + six): a shorter string,
# like most payload values, is none of them.
MIN_SECRET_VALUE_LEN = 12

MAX_DEPTH = 20
_MAX_CACHED_KEY_LEN = 100  # longer keys (free-form argument names) are checked, not kept in the cache


def _check_key(key: str) -> bool:
    return bool(SECRET_KEY_RE.search(key)) and not SAFE_KEY_RE.match(key)


_check_key_cached = functools.lru_cache(maxsize=2048)(_check_key)


def is_secret_key(key: str) -> bool:
    return (_check_key_cached if len(key) <= _MAX_CACHED_KEY_LEN else _check_key)(key)


def looks_secret(value: str) -> bool:
    if len(value) < MIN_SECRET_VALUE_LEN:
        return False
    for rx in _ALWAYS_SEARCHED:
        if rx.search(value):
            return True
    for literal, rx in _BY_LITERAL:  # a substring test is far cheaper than a regex scan
        if literal in value and rx.search(value):
            return True
    return False


def redact(value: Any, *, _depth: int = 0) -> Any:
    """A copy of ``value`` with secrets masked; containers deeper than MAX_DEPTH are cut."""
    return _redact(value, _depth)


# What _redact gives back unchanged below MAX_DEPTH: the leaf types a dict's items are checked
# against directly, without a call (exact types; a subclass takes the general path).
_KEPT_TYPES = frozenset({int, float, bool, type(None)})
_SEQUENCES = (list, tuple)  # a tuple of types, not list | tuple: that union is built at every call


def _redact(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, str):
        return MASK if looks_secret(value) else value
    if isinstance(value, dict):
        # _redact(item, child) for each item, its two commonest cases inline (an audit payload
        # is mostly a flat dict of short strings and numbers).
        out = {}
        child = depth + 1
        for key, item in value.items():
            skey = key if type(key) is str else str(key)
            check_key = _check_key_cached if len(skey) <= _MAX_CACHED_KEY_LEN else _check_key  # is_secret_key
            if check_key(skey) and item not in (None, "", [], {}):
                out[skey] = MASK
            elif child > MAX_DEPTH:
                out[skey] = "[TRUNCATED]"
            elif type(item) is str:
                out[skey] = MASK if len(item) >= MIN_SECRET_VALUE_LEN and looks_secret(item) else item
            elif type(item) in _KEPT_TYPES:
                out[skey] = item
            else:
                out[skey] = _redact(item, child)
        return out
    if isinstance(value, _SEQUENCES):
        return [_redact(item, depth + 1) for item in value]
    return value
