"""Envelope encryption for upstream API credentials. Pure: no Django import.

Why envelope encryption
-----------------------
Every credential secret gets its own random 256-bit data key (DEK). The secret is
encrypted with the DEK (AES-256-GCM, random 96-bit nonce), and the DEK itself is
*wrapped* by a key-encryption key (KEK) that never touches the database. Rotating the
KEK therefore only re-wraps 60-byte DEKs (``rewrap``); the credential ciphertexts stay
byte-for-byte unchanged, so a rotation can run online, row by row, and be resumed.

The GCM associated data (AAD) binds a ciphertext to its owner row, e.g.
``b"mcpforge:credential:<uuid>:v<version>"`` (see ``credential_aad``). Copying the
sealed columns of one credential into another row makes decryption fail instead of
silently handing tenant A's API key to tenant B.

Key providers
-------------
``KeyProvider`` is the small protocol the rest of the code depends on:

* ``LocalKeyProvider``: a key ring of one *active* KEK (wraps new DEKs) plus any number of
  *previous* KEKs (unwrap only). Wrapping uses AES-256-GCM with the KEK, not RFC 3394
  AES key wrap: GCM lets us bind the wrapped DEK to the KEK id as associated data, uses
  the same primitive as the data layer (one thing to audit) and its random nonce makes
  two wraps of the same DEK unlinkable. The wrapped format is
  ``0x01 || nonce(12) || AESGCM(KEK, nonce, DEK, aad=b"mcpforge:dek:<kek_id>")`` (61 bytes).
* ``VaultTransitKeyProvider``: HashiCorp Vault transit (``encrypt_data``/``decrypt_data``);
  the KEK never leaves Vault.
* ``FallbackKeyProvider``: wraps with a primary provider and unwraps with whichever
  provider owns the stored ``kek_id``; used to migrate from a local KEK to Vault online.

KEK ids are short, non-secret labels stored next to each row: ``sha256(kek)[:8]`` in hex
for local keys (an operator can compute it with ``base64 -d | sha256sum``), and
``vault:<mount>/<key>`` for Vault.

Environment (``load_key_provider_from_env``)
--------------------------------------------
``MCPFORGE_KEK``
    The active KEK: standard or URL-safe base64 (padding optional) of exactly 32 bytes.
    Exactly one key; a comma is rejected so "new,old" cannot be misread.
``MCPFORGE_KEK_FILE``
    Path of a file holding the active KEK (Docker/Kubernetes secrets). Setting both this
    and ``MCPFORGE_KEK`` is an error: we refuse to guess which one is meant.
``MCPFORGE_KEK_PREVIOUS`` / ``MCPFORGE_KEK_PREVIOUS_FILE``
    Retired KEKs, comma- or newline-separated, accepted for unwrapping only. They exist
    only during a rotation window.
``VAULT_ADDR`` (+ ``VAULT_TOKEN``, ``VAULT_NAMESPACE``, ``VAULT_CACERT``,
``MCPFORGE_VAULT_TRANSIT_KEY`` default ``mcpforge``, ``MCPFORGE_VAULT_TRANSIT_MOUNT``
default ``transit``)
    When set, new DEKs are wrapped by Vault transit. If a local KEK is configured as well,
    it stays available for unwrapping rows written before the switch.

Rotation procedure (local KEK)
------------------------------
1. Generate a key: ``python -c "from apps.credentials.crypto import generate_kek; print(generate_kek())"``.
2. Deploy with ``MCPFORGE_KEK=<new>`` and ``MCPFORGE_KEK_PREVIOUS=<old>`` (rolling restart is
   fine: every process can read both generations, new rows are wrapped with the new key).
3. Run the rotation job: for each row, ``rewrap(sealed, old_provider=ring, new_provider=ring)``
   (it skips rows already on the active key, so it can be resumed), then re-wrap the
   stored canary last.
4. When ``needs_rewrap`` is false for every row and the canary, remove
   ``MCPFORGE_KEK_PREVIOUS`` and restart. Forgetting step 3 is caught at startup: the canary
   (or a row) still names the old kek_id and ``verify_canary`` refuses to start.

Startup check
-------------
``verify_canary`` decrypts a known value stored at first start. A wrong or missing KEK
therefore stops the process at boot with ``KeyConfigError`` instead of surfacing later
as a failed tool call in production.

Nothing in this module logs, and no exception message contains plaintext, DEKs or KEKs.
Python cannot reliably zero memory, so key bytes live as ordinary ``bytes`` objects for
the lifetime of the provider.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The KEK format and its errors are shared with the audit chain key: defined in apps/core/kek.py
from apps.core.kek import (
    _GENERATE_HINT,
    ENV_KEK,
    KEK_BYTES,
    CryptoError,
    KeyConfigError,
    decode_kek,
    generate_kek,
)

__all__ = [
    "CANARY_AAD",
    "CryptoError",
    "DecryptionError",
    "FallbackKeyProvider",
    "KeyConfigError",
    "KeyProvider",
    "KeyProviderError",
    "LocalKeyProvider",
    "Sealed",
    "UnknownKeyError",
    "VaultTransitKeyProvider",
    "credential_aad",
    "decode_kek",
    "decrypt_secret",
    "encrypt_secret",
    "generate_kek",
    "kek_id_for",
    "load_key_provider_from_env",
    "mask_secret",
    "needs_rewrap",
    "rewrap",
    "unknown_kek_ids",
    "verify_canary",
]

DEK_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KEK_ID_LENGTH = 64  # size the kek_id DB column to this

_LOCAL_WRAP_VERSION = b"\x01"
_LOCAL_WRAPPED_LEN = 1 + NONCE_BYTES + DEK_BYTES + TAG_BYTES

CANARY_AAD = b"mcpforge:kek-canary:v1"
_CANARY_PLAINTEXT = "mcpforge kek canary v1"

MASK_CHAR = "\u2022"  # bullet
MASK_PREFIX = MASK_CHAR * 4
MASK_FULL = MASK_CHAR * 8
MASK_MIN_LENGTH = 12  # shorter secrets are fully masked: 4 of 8 characters is half the secret

ENV_KEK_FILE = "MCPFORGE_KEK_FILE"
ENV_KEK_PREVIOUS = "MCPFORGE_KEK_PREVIOUS"
ENV_KEK_PREVIOUS_FILE = "MCPFORGE_KEK_PREVIOUS_FILE"
ENV_VAULT_ADDR = "VAULT_ADDR"
ENV_VAULT_TOKEN = "VAULT_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_VAULT_NAMESPACE = "VAULT_NAMESPACE"
ENV_VAULT_CACERT = "VAULT_CACERT"
ENV_VAULT_KEY = "MCPFORGE_VAULT_TRANSIT_KEY"
ENV_VAULT_MOUNT = "MCPFORGE_VAULT_TRANSIT_MOUNT"

# --------------------------------------------------------------------------- errors


class DecryptionError(CryptoError):
    """A sealed value could not be opened: wrong key, wrong AAD, or tampered/corrupt data."""


class UnknownKeyError(DecryptionError):
    """The sealed value names a kek_id this provider does not hold."""


class KeyProviderError(CryptoError):
    """The key provider (e.g. Vault) failed for an operational reason."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Sealed:
    """An encrypted secret, shaped for four DB columns.

    ``ciphertext`` is the AES-256-GCM output (tag appended), ``nonce`` its 12-byte nonce,
    ``wrapped_dek`` the provider-specific wrapped data key and ``kek_id`` names the KEK
    that wrapped it (at most ``MAX_KEK_ID_LENGTH`` characters). None of it is secret
    without the KEK, but it is only meaningful together with the owner's AAD.
    """

    ciphertext: bytes
    nonce: bytes
    wrapped_dek: bytes
    kek_id: str

    def to_dict(self) -> dict[str, str]:
        """Text form (URL-safe base64) for JSON fields or settings rows."""
        return {
            "ciphertext": _b64(self.ciphertext),
            "nonce": _b64(self.nonce),
            "wrapped_dek": _b64(self.wrapped_dek),
            "kek_id": self.kek_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sealed:
        """Inverse of ``to_dict``; raises ``DecryptionError`` on malformed input."""
        try:
            kek_id = data["kek_id"]
            fields = {name: _unb64(data[name]) for name in ("ciphertext", "nonce", "wrapped_dek")}
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise DecryptionError(f"malformed sealed value ({type(exc).__name__})") from None
        if not isinstance(kek_id, str):
            raise DecryptionError("malformed sealed value (kek_id is not a string)")
        return cls(kek_id=kek_id, **fields)


@dataclass(frozen=True)
class WrappedKey:
    """A DEK wrapped by a provider, and the id of the KEK that did it."""

    wrapped: bytes
    kek_id: str


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps and unwraps data keys. Implementations must be safe to share between threads."""

    @property
    def active_kek_id(self) -> str:
        """The kek_id new wraps are made with."""
        ...

    def can_unwrap(self, kek_id: str) -> bool:
        """Whether ``unwrap_dek`` can handle values wrapped under ``kek_id``."""
        ...

    def wrap_dek(self, dek: bytes) -> WrappedKey:
        """Wrap a fresh DEK with the active KEK."""
        ...

    def unwrap_dek(self, wrapped: bytes, kek_id: str) -> bytes:
        """Return the DEK; raise ``UnknownKeyError``/``DecryptionError``/``KeyProviderError``."""
        ...


# --------------------------------------------------------------------------- helpers


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected str")
    return base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)


def credential_aad(credential_id: object, version: int) -> bytes:
    """Associated data for a credential row: ``b"mcpforge:credential:<id>:v<version>"``.

    Including the version means an old ciphertext cannot be replayed into a row after the
    secret was replaced (the row's version moved on).
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError("version must be a non-negative int")
    return f"mcpforge:credential:{credential_id}:v{version}".encode()


def kek_id_for(kek: bytes) -> str:
    """Short public id of a local KEK: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(kek).hexdigest()[:8]


def mask_secret(plaintext: str) -> str:
    """Display form of a secret: ``"••••abcd"`` (last 4 characters only).

    Secrets shorter than 12 characters are fully masked (``"••••••••"``): showing 4 of
    them would reveal too much. The mask prefix has a fixed length so the display does not
    leak the secret's length either. An empty secret masks to ``""`` so the UI can tell
    "not set" from "set".
    """
    if not plaintext:
        return ""
    if len(plaintext) < MASK_MIN_LENGTH:
        return MASK_FULL
    return MASK_PREFIX + plaintext[-4:]


# --------------------------------------------------------------------------- providers


class LocalKeyProvider:
    """A key ring of local KEKs: one active (wraps), any number of previous (unwrap only)."""

    def __init__(self, active: bytes, previous: Iterable[bytes] = ()):
        keys = [active, *previous]
        for key in keys:
            if not isinstance(key, bytes | bytearray) or len(key) != KEK_BYTES:
                raise KeyConfigError(f"a KEK must be exactly {KEK_BYTES} bytes")
        self._ring: dict[str, AESGCM] = {}
        for key in keys:
            kek_id = kek_id_for(bytes(key))
            if kek_id in self._ring:
                # Either the same key listed twice (harmless but a sign of a botched
                # rotation) or a 32-bit id collision; both deserve a human look.
                raise KeyConfigError(f"KEK {kek_id} is configured more than once")
            self._ring[kek_id] = AESGCM(bytes(key))
        self._active_id = kek_id_for(bytes(active))

    def __repr__(self) -> str:  # never show key bytes
        return f"LocalKeyProvider(active={self._active_id!r}, kek_ids={self.kek_ids!r})"

    @property
    def active_kek_id(self) -> str:
        return self._active_id

    @property
    def kek_ids(self) -> tuple[str, ...]:
        """All ids in the ring, active first."""
        return tuple(self._ring)

    def can_unwrap(self, kek_id: str) -> bool:
        return kek_id in self._ring

    def wrap_dek(self, dek: bytes) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        body = self._ring[self._active_id].encrypt(nonce, dek, _dek_aad(self._active_id))
        return WrappedKey(wrapped=_LOCAL_WRAP_VERSION + nonce + body, kek_id=self._active_id)

    def unwrap_dek(self, wrapped: bytes, kek_id: str) -> bytes:
        aes = self._ring.get(kek_id)
        if aes is None:
            raise UnknownKeyError(
                f"data key was wrapped by KEK {kek_id!r}, which is not configured "
                f"(configured: {', '.join(self._ring)}); add it to {ENV_KEK_PREVIOUS}"
            )
        if len(wrapped) != _LOCAL_WRAPPED_LEN or wrapped[:1] != _LOCAL_WRAP_VERSION:
            raise DecryptionError("wrapped data key is malformed")
        nonce, body = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        try:
            return aes.decrypt(nonce, body, _dek_aad(kek_id))
        except InvalidTag:
            raise DecryptionError(f"wrapped data key failed authentication under KEK {kek_id}") from None


def _dek_aad(kek_id: str) -> bytes:
    return f"mcpforge:dek:{kek_id}".encode()


class VaultTransitKeyProvider:
    """Wrap DEKs with a HashiCorp Vault transit key; the KEK never leaves Vault.

    ``client`` is an ``hvac.Client`` (or anything with the same
    ``client.secrets.transit.encrypt_data/decrypt_data`` surface, which is how the tests
    inject a fake: there is no Vault server in CI). Vault's own key versions are kept
    inside its ciphertext (``vault:v3:...``), so after ``vault write -f
    transit/keys/<key>/rotate`` old rows keep decrypting; ``rewrap(..., force=True)``
    moves them to the newest version.
    """

    def __init__(self, client: Any, *, key_name: str = "mcpforge", mount_point: str = "transit"):
        if not key_name or not mount_point:
            raise KeyConfigError("Vault transit key name and mount point must not be empty")
        kek_id = f"vault:{mount_point.strip('/')}/{key_name}"
        if len(kek_id) > MAX_KEK_ID_LENGTH:
            raise KeyConfigError(f"Vault transit mount/key name too long for a kek_id ({MAX_KEK_ID_LENGTH})")
        self._client = client
        self._key_name = key_name
        self._mount_point = mount_point.strip("/")
        self._kek_id = kek_id

    def __repr__(self) -> str:
        return f"VaultTransitKeyProvider(kek_id={self._kek_id!r})"

    @property
    def active_kek_id(self) -> str:
        return self._kek_id

    def can_unwrap(self, kek_id: str) -> bool:
        return kek_id == self._kek_id

    def wrap_dek(self, dek: bytes) -> WrappedKey:
        try:
            response = self._client.secrets.transit.encrypt_data(
                name=self._key_name,
                plaintext=base64.b64encode(dek).decode("ascii"),
                mount_point=self._mount_point,
            )
            ciphertext = response["data"]["ciphertext"]
        except Exception as exc:  # hvac and requests raise many unrelated types
            raise KeyProviderError(f"Vault transit encrypt with {self._kek_id} failed: {_describe(exc)}") from None
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:"):
            raise KeyProviderError("Vault transit encrypt returned an unexpected response")
        return WrappedKey(wrapped=ciphertext.encode("ascii"), kek_id=self._kek_id)

    def unwrap_dek(self, wrapped: bytes, kek_id: str) -> bytes:
        if kek_id != self._kek_id:
            raise UnknownKeyError(f"data key was wrapped by {kek_id!r}, this provider is {self._kek_id!r}")
        try:
            ciphertext = wrapped.decode("ascii")
        except UnicodeDecodeError:
            raise DecryptionError("wrapped data key is malformed") from None
        if not ciphertext.startswith("vault:"):
            raise DecryptionError("wrapped data key is not a Vault transit ciphertext")
        try:
            response = self._client.secrets.transit.decrypt_data(
                name=self._key_name,
                ciphertext=ciphertext,
                mount_point=self._mount_point,
            )
            plaintext_b64 = response["data"]["plaintext"]
        except Exception as exc:
            if _is_vault_invalid_request(exc):
                # 400 from transit decrypt = authentication failure / bad ciphertext.
                raise DecryptionError(f"Vault transit refused to decrypt the data key ({self._kek_id})") from None
            raise KeyProviderError(f"Vault transit decrypt with {self._kek_id} failed: {_describe(exc)}") from None
        try:
            dek = base64.b64decode(plaintext_b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise DecryptionError("Vault transit returned a malformed data key") from None
        if len(dek) != DEK_BYTES:
            raise DecryptionError("Vault transit returned a data key of the wrong size")
        return dek

    def check_connection(self) -> None:
        """Fail fast at startup when Vault is unreachable or the token is not valid."""
        try:
            authenticated = self._client.is_authenticated()
        except Exception as exc:
            raise KeyConfigError(f"cannot reach Vault for {self._kek_id}: {_describe(exc)}") from None
        if not authenticated:
            raise KeyConfigError(f"Vault rejected the token ({ENV_VAULT_TOKEN}) for {self._kek_id}")


def _describe(exc: BaseException) -> str:
    """Exception class only: hvac messages can include URLs and response bodies."""
    return type(exc).__name__


def _is_vault_invalid_request(exc: BaseException) -> bool:
    try:
        from hvac.exceptions import InvalidRequest
    except ImportError:  # pragma: no cover - hvac is a hard dependency
        return False
    return isinstance(exc, InvalidRequest)


class FallbackKeyProvider:
    """Wrap with ``primary``; unwrap with whichever provider holds the stored kek_id.

    This is what makes a provider migration (local KEK -> Vault) online: new rows go to
    the primary while old rows stay readable until ``rewrap`` has moved them.
    """

    def __init__(self, primary: KeyProvider, *fallbacks: KeyProvider):
        self._providers: tuple[KeyProvider, ...] = (primary, *fallbacks)

    def __repr__(self) -> str:
        return f"FallbackKeyProvider({', '.join(map(repr, self._providers))})"

    @property
    def active_kek_id(self) -> str:
        return self._providers[0].active_kek_id

    def can_unwrap(self, kek_id: str) -> bool:
        return any(p.can_unwrap(kek_id) for p in self._providers)

    def wrap_dek(self, dek: bytes) -> WrappedKey:
        return self._providers[0].wrap_dek(dek)

    def unwrap_dek(self, wrapped: bytes, kek_id: str) -> bytes:
        for provider in self._providers:
            if provider.can_unwrap(kek_id):
                return provider.unwrap_dek(wrapped, kek_id)
        raise UnknownKeyError(f"data key was wrapped by {kek_id!r}, which no configured provider holds")


# --------------------------------------------------------------------------- seal / open


def encrypt_secret(plaintext: str, *, aad: bytes, provider: KeyProvider) -> Sealed:
    """Encrypt ``plaintext`` under a fresh DEK, bound to ``aad``, DEK wrapped by ``provider``."""
    if not isinstance(plaintext, str):
        raise TypeError("plaintext must be a str")
    if not isinstance(aad, bytes) or not aad:
        raise ValueError("aad must be non-empty bytes identifying the owner (see credential_aad)")
    dek = AESGCM.generate_key(bit_length=DEK_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(dek).encrypt(nonce, plaintext.encode("utf-8"), aad)
    wrapped = provider.wrap_dek(dek)
    return Sealed(ciphertext=ciphertext, nonce=nonce, wrapped_dek=wrapped.wrapped, kek_id=wrapped.kek_id)


def decrypt_secret(sealed: Sealed, *, aad: bytes, provider: KeyProvider) -> str:
    """Open a ``Sealed``; raise ``DecryptionError`` (never containing secret bytes) on any failure."""
    dek = _unwrap_checked(sealed, provider)
    return _open_with_dek(sealed, dek, aad).decode("utf-8")


def _unwrap_checked(sealed: Sealed, provider: KeyProvider) -> bytes:
    if len(sealed.nonce) != NONCE_BYTES or len(sealed.ciphertext) < TAG_BYTES:
        raise DecryptionError("sealed value is malformed")
    dek = provider.unwrap_dek(sealed.wrapped_dek, sealed.kek_id)
    if len(dek) != DEK_BYTES:
        raise DecryptionError("unwrapped data key has the wrong size")
    return dek


def _open_with_dek(sealed: Sealed, dek: bytes, aad: bytes) -> bytes:
    try:
        raw = AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, aad)
    except InvalidTag:
        raise DecryptionError(
            "secret failed authentication: wrong owner (associated data) or tampered ciphertext"
        ) from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("secret is not valid UTF-8") from None
    return raw


def needs_rewrap(sealed: Sealed, provider: KeyProvider) -> bool:
    """True when ``sealed`` is not wrapped by ``provider``'s active KEK (rotation work left)."""
    return sealed.kek_id != provider.active_kek_id


def rewrap(
    sealed: Sealed,
    *,
    old_provider: KeyProvider,
    new_provider: KeyProvider,
    aad: bytes | None = None,
    force: bool = False,
) -> Sealed:
    """Re-wrap only the DEK under ``new_provider``'s active KEK; the ciphertext is unchanged.

    Idempotent: a value already on the new active KEK is returned as is (unless ``force``,
    used after a Vault-internal key version rotation), so a rotation job can be re-run
    after a crash. ``old_provider`` and ``new_provider`` may be the same key ring. When
    ``aad`` is given the DEK is first proven to open the ciphertext, so a corrupt row is
    reported instead of being re-wrapped into a different corrupt row.
    """
    if not force and not needs_rewrap(sealed, new_provider):
        return sealed
    dek = _unwrap_checked(sealed, old_provider)
    if aad is not None:
        _open_with_dek(sealed, dek, aad)
    wrapped = new_provider.wrap_dek(dek)
    return Sealed(
        ciphertext=sealed.ciphertext,
        nonce=sealed.nonce,
        wrapped_dek=wrapped.wrapped,
        kek_id=wrapped.kek_id,
    )


# --------------------------------------------------------------------------- startup


def verify_canary(provider: KeyProvider, canary: Sealed | None) -> Sealed:
    """Prove at startup that ``provider`` holds the keys the database was written with.

    * ``canary is None`` (first start): seal a known value, open it again (which also
      proves a Vault token may both encrypt and decrypt) and return it; the caller stores
      it.
    * otherwise: open the stored canary and return it unchanged. Any failure raises
      ``KeyConfigError`` so the process refuses to start with a wrong KEK.

    The canary is deliberately *not* re-wrapped here: it must keep naming the oldest key
    generation still needed until the rotation job re-wraps it as its last step.
    """
    if canary is None:
        try:
            fresh = encrypt_secret(_CANARY_PLAINTEXT, aad=CANARY_AAD, provider=provider)
            ok = decrypt_secret(fresh, aad=CANARY_AAD, provider=provider) == _CANARY_PLAINTEXT
        except CryptoError as exc:
            raise KeyConfigError(f"key provider self-test failed: {exc}") from None
        if not ok:
            raise KeyConfigError("key provider self-test failed: round trip mismatch")
        return fresh
    if not provider.can_unwrap(canary.kek_id):
        raise KeyConfigError(
            f"the stored KEK canary was wrapped by {canary.kek_id!r}, which is not configured "
            f"(active: {provider.active_kek_id!r}). Wrong {ENV_KEK}? During a rotation, keep the "
            f"old key in {ENV_KEK_PREVIOUS} until the rotation job has finished."
        )
    try:
        opened = decrypt_secret(canary, aad=CANARY_AAD, provider=provider)
    except CryptoError as exc:
        raise KeyConfigError(f"the configured key cannot open the stored KEK canary: {exc}") from None
    if opened != _CANARY_PLAINTEXT:
        raise KeyConfigError("the stored KEK canary decrypted to an unexpected value")
    return canary


def _read_file(path_text: str, var: str) -> str:
    path = Path(path_text)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyConfigError(f"{var} points to {path_text!r}, which does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyConfigError(f"{var} points to {path_text!r}, which cannot be read ({type(exc).__name__})") from None


def _split_keys(text: str) -> list[str]:
    return [part for part in re.split(r"[,\s]+", text) if part]


def _load_local(environ: Mapping[str, str]) -> LocalKeyProvider | None:
    inline = environ.get(ENV_KEK, "").strip()
    file_path = environ.get(ENV_KEK_FILE, "").strip()
    if inline and file_path:
        raise KeyConfigError(f"set either {ENV_KEK} or {ENV_KEK_FILE}, not both")
    if file_path:
        active_text, source = _read_file(file_path, ENV_KEK_FILE), f"{ENV_KEK_FILE} ({file_path})"
    else:
        active_text, source = inline, ENV_KEK
    previous: list[tuple[str, str]] = []
    prev_inline = environ.get(ENV_KEK_PREVIOUS, "")
    prev_file = environ.get(ENV_KEK_PREVIOUS_FILE, "").strip()
    for i, part in enumerate(_split_keys(prev_inline), start=1):
        previous.append((part, f"{ENV_KEK_PREVIOUS} entry {i}"))
    if prev_file:
        for i, part in enumerate(_split_keys(_read_file(prev_file, ENV_KEK_PREVIOUS_FILE)), start=1):
            previous.append((part, f"{ENV_KEK_PREVIOUS_FILE} entry {i}"))

    if not active_text.strip():
        if previous:
            raise KeyConfigError(f"{ENV_KEK_PREVIOUS} is set but there is no active {ENV_KEK}")
        return None
    if "," in active_text.strip():
        raise KeyConfigError(f"{source} must contain exactly one key; put retired keys in {ENV_KEK_PREVIOUS}")
    active = decode_kek(active_text, source=source)
    return LocalKeyProvider(active, [decode_kek(text, source=src) for text, src in previous])


def _default_vault_client(environ: Mapping[str, str]) -> Any:
    import hvac

    verify: bool | str = environ.get(ENV_VAULT_CACERT) or True
    return hvac.Client(
        url=environ[ENV_VAULT_ADDR],
        token=environ.get(ENV_VAULT_TOKEN) or None,
        namespace=environ.get(ENV_VAULT_NAMESPACE) or None,
        verify=verify,
        timeout=10,
    )


def load_key_provider_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    canary: Sealed | None = None,
    check_canary: bool = False,
    vault_client_factory: Callable[[Mapping[str, str]], Any] | None = None,
) -> KeyProvider:
    """Build the provider described by the environment, or raise ``KeyConfigError``.

    Missing KEK, a value that is not base64, not 32 bytes, a duplicate, an unreadable key
    file, an unreachable Vault or a rejected token all fail here, loudly. With
    ``check_canary=True`` the stored ``canary`` (``None`` on first start) is verified too;
    call ``verify_canary`` yourself when you need the freshly created canary to store it.
    ``vault_client_factory`` exists for tests and for callers that build their own
    ``hvac.Client`` (e.g. AppRole login).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    local = _load_local(env)
    provider: KeyProvider
    if env.get(ENV_VAULT_ADDR, "").strip():
        factory = vault_client_factory or _default_vault_client
        try:
            client = factory(env)
        except KeyConfigError:
            raise
        except Exception as exc:
            raise KeyConfigError(f"cannot create the Vault client ({_describe(exc)})") from None
        vault = VaultTransitKeyProvider(
            client,
            key_name=env.get(ENV_VAULT_KEY, "").strip() or "mcpforge",
            mount_point=env.get(ENV_VAULT_MOUNT, "").strip() or "transit",
        )
        vault.check_connection()
        provider = FallbackKeyProvider(vault, local) if local is not None else vault
    elif local is not None:
        provider = local
    else:
        raise KeyConfigError(
            f"no key-encryption key configured: set {ENV_KEK} (or {ENV_KEK_FILE}), or {ENV_VAULT_ADDR} "
            f"for Vault transit; {_GENERATE_HINT}"
        )
    if check_canary:
        verify_canary(provider, canary)
    return provider


def unknown_kek_ids(provider: KeyProvider, kek_ids: Iterable[str]) -> list[str]:
    """The stored kek_ids ``provider`` cannot unwrap, sorted and deduplicated.

    Feed it ``SELECT DISTINCT kek_id`` before removing a previous KEK: a non-empty answer
    means rows would become unreadable.
    """
    return sorted({kek_id for kek_id in kek_ids if not provider.can_unwrap(kek_id)})
