"""Key-encryption keys (KEKs) as configured: 32 random bytes written as base64, shared by the
credentials' envelope encryption (apps/credentials/crypto.py, which re-exports these names) and
the audit chain key (apps/audit/keys.py). Pure: no Django, no other app."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

KEK_BYTES = 32
ENV_KEK = "MCPFORGE_KEK"

_GENERATE_HINT = (
    'generate one with: python -c "import base64, secrets; '
    'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
)


class CryptoError(Exception):
    """Base class. Messages are safe to log: they never contain plaintext or key bytes."""


class KeyConfigError(CryptoError):
    """The key configuration is unusable (the ImproperlyConfigured of this module).

    Raised at startup so a misconfigured deployment refuses to boot rather than failing
    one tool call at a time.
    """


def generate_kek() -> str:
    """A new random KEK in the format ``MCPFORGE_KEK`` expects."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEK_BYTES)).decode("ascii")


_B64_STD_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_B64_URL_RE = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def decode_kek(text: str, *, source: str = ENV_KEK) -> bytes:
    """Decode one KEK from standard or URL-safe base64 and insist on exactly 32 bytes.

    ``source`` only names where the value came from in error messages; the value itself
    is never echoed.
    """
    value = "".join(text.split())  # tolerate the newline a file or `echo` adds
    if not value:
        raise KeyConfigError(f"{source} is empty; {_GENERATE_HINT}")
    if _B64_STD_RE.fullmatch(value):
        altchars = None
    elif _B64_URL_RE.fullmatch(value):
        altchars = b"-_"
    else:
        raise KeyConfigError(f"{source} is not valid base64 (unexpected characters); {_GENERATE_HINT}")
    stripped = value.rstrip("=")
    if len(stripped) % 4 == 1:
        raise KeyConfigError(f"{source} is not valid base64 (truncated); {_GENERATE_HINT}")
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        raw = base64.b64decode(padded.encode("ascii"), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{source} is not valid base64; {_GENERATE_HINT}") from None
    if len(raw) != KEK_BYTES:
        hint = " (it looks like hex; the KEK must be base64)" if _HEX_RE.fullmatch(value) else ""
        raise KeyConfigError(
            f"{source} decodes to {len(raw)} bytes, a KEK must be exactly {KEK_BYTES} bytes{hint}; {_GENERATE_HINT}"
        )
    return raw
