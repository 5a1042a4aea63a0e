"""Machine-token format. Pure: no Django import.

A token is ``mcpf_`` + 43 URL-safe characters (256 bits). Only its SHA-256 digest is stored;
the prefix lets a user recognise it in a list and lets secret scanners recognise a leak.
"""

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "mcpf_"  # noqa: S105 - a public prefix, not a secret
DISPLAY_PREFIX_LEN = len(TOKEN_PREFIX) + 6


def generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX) and 20 <= len(raw) <= 100


def matches(raw: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(raw), stored_digest)
