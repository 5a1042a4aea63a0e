"""Mask secrets before anything reaches an audit payload. Pure: no Django import.

Keys that name a secret are masked whatever their value; values that look like a
credential (bearer/basic headers, our own mcpf_ tokens, JWTs, common vendor keys) are
masked wherever they appear.
"""

from __future__ import annotations

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

SECRET_VALUE_RES = [
    re.compile(r"^\s*(bearer|basic|token|digest)\s+\S{6,}", re.IGNORECASE),
    re.compile(r"mcpf_[A-Za-z0-9_-]{8,}"),
    re.compile(r"^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*$"),  # JWT
    re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"),  # Stripe-style
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"),  # Slack tokens
]

MAX_DEPTH = 20


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_RE.search(key)) and not SAFE_KEY_RE.match(key)


def looks_secret(value: str) -> bool:
    return any(rx.search(value) for rx in SECRET_VALUE_RES)


def redact(value: Any, *, _depth: int = 0) -> Any:
    """A copy of ``value`` with secrets masked; containers deeper than MAX_DEPTH are cut."""
    if _depth > MAX_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            skey = str(key)
            if is_secret_key(skey) and item not in (None, "", [], {}):
                out[skey] = MASK
            else:
                out[skey] = redact(item, _depth=_depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [redact(item, _depth=_depth + 1) for item in value]
    if isinstance(value, str) and looks_secret(value):
        return MASK
    return value
