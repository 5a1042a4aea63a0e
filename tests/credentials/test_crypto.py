"""Envelope encryption: round trips, binding, failure modes, key configuration, rotation, Vault.

Vault cannot be integration-tested here (no Vault server). ``VaultTransitKeyProvider`` is
covered twice: with a fake client object injected through the constructor, and with a
real ``hvac.Client`` whose HTTP session is served by an in-process fake of the two
transit endpoints -- the second proves we call hvac's real API with the right
arguments and parse its real responses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import replace
from typing import Any

import hvac
import pytest
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.credentials import crypto
from apps.credentials.crypto import (
    CANARY_AAD,
    DecryptionError,
    FallbackKeyProvider,
    KeyConfigError,
    KeyProvider,
    KeyProviderError,
    LocalKeyProvider,
    Sealed,
    UnknownKeyError,
    VaultTransitKeyProvider,
    credential_aad,
    decode_kek,
    decrypt_secret,
    encrypt_secret,
    generate_kek,
    kek_id_for,
    load_key_provider_from_env,
    mask_secret,
    needs_rewrap,
    rewrap,
    unknown_kek_ids,
    verify_canary,
)

SECRET = "sk_live_51HxQmP2eZvKYlo2C9s8d7f6g5h4j3k2l1"
AAD = credential_aad("7b0c2a52-5f0e-4f6a-9b0e-2f1b8a9d3c11", 1)


def raw_key(seed: int) -> bytes:
    return hashlib.sha256(f"test-kek-{seed}".encode()).digest()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


KEK_A, KEK_B, KEK_C = raw_key(1), raw_key(2), raw_key(3)


def env(**values: str) -> dict[str, str]:
    return dict(values)


@pytest.fixture
def ring() -> LocalKeyProvider:
    return LocalKeyProvider(KEK_A)


def assert_no_secret_material(text: str, *secrets: bytes | str) -> None:
    for secret in secrets:
        if isinstance(secret, bytes):
            for form in (secret.hex(), b64(secret), base64.urlsafe_b64encode(secret).decode()):
                assert form not in text
        else:
            assert secret not in text


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("plaintext", [SECRET, "", "x", "pässwörd-🔑-密钥", "a" * 10_000])
def test_roundtrip(ring: LocalKeyProvider, plaintext: str) -> None:
    sealed = encrypt_secret(plaintext, aad=AAD, provider=ring)
    assert decrypt_secret(sealed, aad=AAD, provider=ring) == plaintext


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_roundtrip_any_text(plaintext: str) -> None:
    provider = LocalKeyProvider(KEK_A)
    assert decrypt_secret(encrypt_secret(plaintext, aad=AAD, provider=provider), aad=AAD, provider=provider) == (
        plaintext
    )


def test_sealed_shape_is_db_friendly(ring: LocalKeyProvider) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    assert isinstance(sealed.ciphertext, bytes) and isinstance(sealed.nonce, bytes)
    assert isinstance(sealed.wrapped_dek, bytes) and isinstance(sealed.kek_id, str)
    assert len(sealed.nonce) == 12
    assert len(sealed.ciphertext) == len(SECRET.encode()) + 16  # GCM tag appended
    assert len(sealed.wrapped_dek) == 61
    assert sealed.kek_id == kek_id_for(KEK_A) == hashlib.sha256(KEK_A).hexdigest()[:8]
    assert len(sealed.kek_id) <= crypto.MAX_KEK_ID_LENGTH


def test_ciphertext_contains_no_plaintext(ring: LocalKeyProvider) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    blob = sealed.ciphertext + sealed.nonce + sealed.wrapped_dek + sealed.kek_id.encode()
    assert SECRET.encode() not in blob
    for window in range(0, len(SECRET) - 8):
        assert SECRET[window : window + 8].encode() not in blob
    assert SECRET not in json.dumps(sealed.to_dict())
    assert KEK_A not in blob and SECRET not in repr(sealed)


def test_every_encryption_uses_fresh_dek_and_nonce(ring: LocalKeyProvider) -> None:
    one = encrypt_secret(SECRET, aad=AAD, provider=ring)
    two = encrypt_secret(SECRET, aad=AAD, provider=ring)
    assert one.ciphertext != two.ciphertext
    assert one.nonce != two.nonce
    assert one.wrapped_dek != two.wrapped_dek


def test_to_dict_from_dict_roundtrip(ring: LocalKeyProvider) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    restored = Sealed.from_dict(json.loads(json.dumps(sealed.to_dict())))
    assert restored == sealed
    assert decrypt_secret(restored, aad=AAD, provider=ring) == SECRET


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"ciphertext": "!!", "nonce": "", "wrapped_dek": "", "kek_id": "x"},
        {"ciphertext": "QUJD", "nonce": "QUJD", "wrapped_dek": "é", "kek_id": "x"},
        {"ciphertext": 1, "nonce": "", "wrapped_dek": "", "kek_id": "x"},
        {"ciphertext": "", "nonce": "", "wrapped_dek": "", "kek_id": 5},
        {"ciphertext": "", "nonce": "", "wrapped_dek": ""},
    ],
)
def test_from_dict_rejects_malformed(data: dict[str, Any]) -> None:
    with pytest.raises(DecryptionError, match="malformed"):
        Sealed.from_dict(data)


def test_credential_aad_format() -> None:
    assert credential_aad("abc", 3) == b"mcpforge:credential:abc:v3"
    with pytest.raises(ValueError):
        credential_aad("abc", -1)


def test_encrypt_requires_aad_and_text(ring: LocalKeyProvider) -> None:
    with pytest.raises(ValueError, match="aad"):
        encrypt_secret(SECRET, aad=b"", provider=ring)
    with pytest.raises(TypeError):
        encrypt_secret(SECRET.encode(), aad=AAD, provider=ring)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- binding and tampering


@pytest.mark.parametrize(
    "other_aad",
    [
        credential_aad("7b0c2a52-5f0e-4f6a-9b0e-2f1b8a9d3c11", 2),  # replay into a newer version
        credential_aad("00000000-0000-0000-0000-000000000000", 1),  # another row
        b"",
    ],
)
def test_aad_mismatch_fails(ring: LocalKeyProvider, other_aad: bytes) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    with pytest.raises(DecryptionError) as excinfo:
        decrypt_secret(sealed, aad=other_aad, provider=ring)
    assert_no_secret_material(str(excinfo.value), SECRET, KEK_A)


def test_rows_cannot_be_swapped(ring: LocalKeyProvider) -> None:
    aad_tenant_a, aad_tenant_b = credential_aad("tenant-a-cred", 1), credential_aad("tenant-b-cred", 1)
    sealed_a = encrypt_secret("secret-of-tenant-a", aad=aad_tenant_a, provider=ring)
    encrypt_secret("secret-of-tenant-b", aad=aad_tenant_b, provider=ring)
    with pytest.raises(DecryptionError):
        decrypt_secret(sealed_a, aad=aad_tenant_b, provider=ring)  # row B now holds A's columns


def flip(data: bytes, index: int = -1) -> bytes:
    mutable = bytearray(data)
    mutable[index] ^= 0x01
    return bytes(mutable)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: replace(s, ciphertext=flip(s.ciphertext)),
        lambda s: replace(s, ciphertext=flip(s.ciphertext, 0)),
        lambda s: replace(s, nonce=flip(s.nonce)),
        lambda s: replace(s, wrapped_dek=flip(s.wrapped_dek)),
        lambda s: replace(s, wrapped_dek=s.wrapped_dek[:-1]),
        lambda s: replace(s, nonce=s.nonce[:8]),
        lambda s: replace(s, ciphertext=b""),
        lambda s: replace(s, wrapped_dek=b"\x02" + s.wrapped_dek[1:]),
    ],
)
def test_tampering_fails(ring: LocalKeyProvider, tamper: Any) -> None:
    sealed = tamper(encrypt_secret(SECRET, aad=AAD, provider=ring))
    with pytest.raises(DecryptionError) as excinfo:
        decrypt_secret(sealed, aad=AAD, provider=ring)
    assert_no_secret_material(str(excinfo.value), SECRET, KEK_A)


def test_dek_wrap_is_bound_to_kek_id(ring: LocalKeyProvider) -> None:
    """Relabelling a wrapped DEK with another id in the ring must not unwrap."""
    both = LocalKeyProvider(KEK_A, [KEK_B])
    sealed = encrypt_secret(SECRET, aad=AAD, provider=both)
    with pytest.raises(DecryptionError):
        decrypt_secret(replace(sealed, kek_id=kek_id_for(KEK_B)), aad=AAD, provider=both)


def test_wrong_kek_at_call_time_is_unknown_key(ring: LocalKeyProvider) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    with pytest.raises(UnknownKeyError) as excinfo:
        decrypt_secret(sealed, aad=AAD, provider=LocalKeyProvider(KEK_B))
    message = str(excinfo.value)
    assert kek_id_for(KEK_A) in message and "MCPFORGE_KEK_PREVIOUS" in message
    assert_no_secret_material(message, SECRET, KEK_A, KEK_B)


def test_non_utf8_plaintext_is_a_decryption_error(ring: LocalKeyProvider) -> None:
    """A sealed value produced outside encrypt_secret (bytes that are not UTF-8)."""
    dek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    wrapped = ring.wrap_dek(dek)
    sealed = Sealed(AESGCM(dek).encrypt(nonce, b"\xff\xfe", AAD), nonce, wrapped.wrapped, wrapped.kek_id)
    with pytest.raises(DecryptionError, match="UTF-8"):
        decrypt_secret(sealed, aad=AAD, provider=ring)


def test_provider_repr_hides_keys() -> None:
    provider = LocalKeyProvider(KEK_A, [KEK_B])
    assert_no_secret_material(repr(provider), KEK_A, KEK_B)
    assert kek_id_for(KEK_A) in repr(provider)
    assert isinstance(provider, KeyProvider)


# --------------------------------------------------------------------------- environment


def test_load_from_env_standard_and_urlsafe_base64() -> None:
    for text in (
        base64.b64encode(KEK_A).decode(),
        base64.urlsafe_b64encode(KEK_A).decode(),
        base64.urlsafe_b64encode(KEK_A).decode().rstrip("="),
        f"  {base64.b64encode(KEK_A).decode()}\n",
    ):
        provider = load_key_provider_from_env(env(MCPFORGE_KEK=text))
        assert provider.active_kek_id == kek_id_for(KEK_A)


def test_load_from_kek_file(tmp_path: Any) -> None:
    key_file = tmp_path / "kek"
    key_file.write_text(b64(KEK_A) + "\n")
    prev_file = tmp_path / "previous"
    prev_file.write_text(f"{b64(KEK_B)}\n{b64(KEK_C)}\n")
    provider = load_key_provider_from_env(
        env(MCPFORGE_KEK_FILE=str(key_file), MCPFORGE_KEK_PREVIOUS_FILE=str(prev_file))
    )
    assert isinstance(provider, LocalKeyProvider)
    assert provider.kek_ids == (kek_id_for(KEK_A), kek_id_for(KEK_B), kek_id_for(KEK_C))


def test_generate_kek_is_loadable() -> None:
    text = generate_kek()
    assert len(decode_kek(text)) == 32
    assert load_key_provider_from_env(env(MCPFORGE_KEK=text)).active_kek_id == kek_id_for(decode_kek(text))


def test_load_uses_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MCPFORGE_KEK_FILE", "MCPFORGE_KEK_PREVIOUS", "MCPFORGE_KEK_PREVIOUS_FILE", "VAULT_ADDR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MCPFORGE_KEK", b64(KEK_C))
    assert load_key_provider_from_env().active_kek_id == kek_id_for(KEK_C)


BAD_ENVS = [
    pytest.param({}, "no key-encryption key configured", id="missing"),
    pytest.param({"MCPFORGE_KEK": "   "}, "no key-encryption key configured", id="blank"),
    pytest.param({"MCPFORGE_KEK": "not base64 at all!"}, "not valid base64", id="not-base64"),
    pytest.param({"MCPFORGE_KEK": "abc+def_ghi"}, "not valid base64", id="mixed-alphabets"),
    pytest.param({"MCPFORGE_KEK": "QUJDRA=A"}, "not valid base64", id="bad-padding"),
    pytest.param({"MCPFORGE_KEK": "QUJDR"}, "truncated", id="truncated"),
    pytest.param({"MCPFORGE_KEK": b64(os.urandom(16))}, "16 bytes", id="too-short"),
    pytest.param({"MCPFORGE_KEK": b64(os.urandom(64))}, "64 bytes", id="too-long"),
    pytest.param({"MCPFORGE_KEK": KEK_A.hex()}, "looks like hex", id="hex"),
    pytest.param({"MCPFORGE_KEK": f"{b64(KEK_A)},{b64(KEK_B)}"}, "exactly one key", id="comma-list"),
    pytest.param({"MCPFORGE_KEK": b64(KEK_A), "MCPFORGE_KEK_FILE": "/x"}, "not both", id="both"),
    pytest.param({"MCPFORGE_KEK_FILE": "/nonexistent/kek"}, "does not exist", id="missing-file"),
    pytest.param({"MCPFORGE_KEK_PREVIOUS": b64(KEK_B)}, "no active", id="previous-only"),
    pytest.param(
        {"MCPFORGE_KEK": b64(KEK_A), "MCPFORGE_KEK_PREVIOUS": f"{b64(KEK_B)},garbage!"},
        "MCPFORGE_KEK_PREVIOUS entry 2 is not valid base64",
        id="bad-previous",
    ),
    pytest.param(
        {"MCPFORGE_KEK": b64(KEK_A), "MCPFORGE_KEK_PREVIOUS": b64(KEK_A)},
        "configured more than once",
        id="duplicate",
    ),
]


@pytest.mark.parametrize(("environ", "expected"), BAD_ENVS)
def test_bad_env_fails_loudly(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(KeyConfigError, match=expected) as excinfo:
        load_key_provider_from_env(environ)
    message = str(excinfo.value)
    for value in environ.values():  # never echo the configured value back
        if len(value) > 10 and not value.startswith("/"):
            assert value not in message
    assert_no_secret_material(message, KEK_A, KEK_B)


def test_unreadable_key_file(tmp_path: Any) -> None:
    with pytest.raises(KeyConfigError, match="cannot be read"):
        load_key_provider_from_env(env(MCPFORGE_KEK_FILE=str(tmp_path)))  # a directory


def test_error_hints_how_to_generate() -> None:
    with pytest.raises(KeyConfigError, match="token_bytes"):
        load_key_provider_from_env({})


# --------------------------------------------------------------------------- canary


def test_canary_first_start_then_verify() -> None:
    provider = load_key_provider_from_env(env(MCPFORGE_KEK=b64(KEK_A)))
    canary = verify_canary(provider, None)
    assert canary.kek_id == kek_id_for(KEK_A)
    assert verify_canary(provider, canary) is canary
    assert load_key_provider_from_env(env(MCPFORGE_KEK=b64(KEK_A)), canary=canary, check_canary=True)


def test_wrong_kek_fails_at_startup_not_at_call_time() -> None:
    canary = verify_canary(LocalKeyProvider(KEK_A), None)
    with pytest.raises(KeyConfigError, match="Wrong MCPFORGE_KEK") as excinfo:
        load_key_provider_from_env(env(MCPFORGE_KEK=b64(KEK_B)), canary=canary, check_canary=True)
    assert kek_id_for(KEK_A) in str(excinfo.value)
    assert_no_secret_material(str(excinfo.value), KEK_A, KEK_B)


def test_tampered_canary_fails_loudly() -> None:
    provider = LocalKeyProvider(KEK_A)
    canary = verify_canary(provider, None)
    with pytest.raises(KeyConfigError, match="cannot open the stored KEK canary"):
        verify_canary(provider, replace(canary, ciphertext=flip(canary.ciphertext)))


def test_canary_with_unexpected_content_fails() -> None:
    provider = LocalKeyProvider(KEK_A)
    forged = encrypt_secret("something else", aad=CANARY_AAD, provider=provider)
    with pytest.raises(KeyConfigError, match="unexpected value"):
        verify_canary(provider, forged)


def test_canary_self_test_failure_is_key_config_error() -> None:
    class BrokenProvider(LocalKeyProvider):
        def unwrap_dek(self, wrapped: bytes, kek_id: str) -> bytes:
            raise DecryptionError("nope")

    with pytest.raises(KeyConfigError, match="self-test failed"):
        verify_canary(BrokenProvider(KEK_A), None)


# --------------------------------------------------------------------------- rotation


def test_rotation_end_to_end() -> None:
    old_env = env(MCPFORGE_KEK=b64(KEK_A))
    old = load_key_provider_from_env(old_env)
    canary = verify_canary(old, None)
    rows = {f"cred-{i}": (f"secret-number-{i}-abcdef", credential_aad(f"cred-{i}", 1)) for i in range(5)}
    stored = {rid: encrypt_secret(text, aad=aad, provider=old) for rid, (text, aad) in rows.items()}

    # Step 2: deploy new key, old key as previous. Startup passes, new writes use the new key.
    ring = load_key_provider_from_env(
        env(MCPFORGE_KEK=b64(KEK_B), MCPFORGE_KEK_PREVIOUS=b64(KEK_A)), canary=canary, check_canary=True
    )
    assert ring.active_kek_id == kek_id_for(KEK_B)
    assert all(needs_rewrap(s, ring) for s in stored.values())
    assert unknown_kek_ids(ring, [s.kek_id for s in stored.values()]) == []
    assert decrypt_secret(stored["cred-0"], aad=rows["cred-0"][1], provider=ring) == rows["cred-0"][0]

    # Step 3: the rotation job, interrupted half way and resumed.
    for rid in list(stored)[:2]:
        stored[rid] = rewrap(stored[rid], old_provider=ring, new_provider=ring, aad=rows[rid][1])
    for rid in stored:
        before = stored[rid]
        stored[rid] = rewrap(before, old_provider=ring, new_provider=ring)
        assert stored[rid].ciphertext == before.ciphertext and stored[rid].nonce == before.nonce
    canary = rewrap(canary, old_provider=ring, new_provider=ring, aad=CANARY_AAD)
    assert not any(needs_rewrap(s, ring) for s in [*stored.values(), canary])

    # Step 4: remove the old key; everything still opens, the old key is no longer needed.
    new_only = load_key_provider_from_env(env(MCPFORGE_KEK=b64(KEK_B)), canary=canary, check_canary=True)
    for rid, (text, aad) in rows.items():
        assert decrypt_secret(stored[rid], aad=aad, provider=new_only) == text
        with pytest.raises(UnknownKeyError):
            decrypt_secret(stored[rid], aad=aad, provider=old)


def test_removing_previous_key_before_rotation_is_caught_at_startup() -> None:
    canary = verify_canary(LocalKeyProvider(KEK_A), None)
    with pytest.raises(KeyConfigError, match="MCPFORGE_KEK_PREVIOUS"):
        load_key_provider_from_env(env(MCPFORGE_KEK=b64(KEK_B)), canary=canary, check_canary=True)


def test_rewrap_is_idempotent_and_force_rewraps(ring: LocalKeyProvider) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    assert rewrap(sealed, old_provider=ring, new_provider=ring) is sealed
    forced = rewrap(sealed, old_provider=ring, new_provider=ring, force=True)
    assert forced.wrapped_dek != sealed.wrapped_dek and forced.ciphertext == sealed.ciphertext
    assert decrypt_secret(forced, aad=AAD, provider=ring) == SECRET


def test_rewrap_with_separate_providers() -> None:
    old, new = LocalKeyProvider(KEK_A), LocalKeyProvider(KEK_B)
    sealed = encrypt_secret(SECRET, aad=AAD, provider=old)
    moved = rewrap(sealed, old_provider=old, new_provider=new)
    assert moved.kek_id == kek_id_for(KEK_B)
    assert decrypt_secret(moved, aad=AAD, provider=new) == SECRET


def test_rewrap_with_aad_refuses_corrupt_rows(ring: LocalKeyProvider) -> None:
    sealed = encrypt_secret(SECRET, aad=AAD, provider=ring)
    new = LocalKeyProvider(KEK_B)
    with pytest.raises(DecryptionError):
        rewrap(replace(sealed, ciphertext=flip(sealed.ciphertext)), old_provider=ring, new_provider=new, aad=AAD)
    with pytest.raises(DecryptionError):
        rewrap(sealed, old_provider=ring, new_provider=new, aad=b"mcpforge:credential:other:v1")


def test_unknown_kek_ids_preflight() -> None:
    ring = LocalKeyProvider(KEK_A, [KEK_B])
    ids = [kek_id_for(KEK_A), kek_id_for(KEK_C), kek_id_for(KEK_C), "vault:transit/x"]
    assert unknown_kek_ids(ring, ids) == sorted({kek_id_for(KEK_C), "vault:transit/x"})


# --------------------------------------------------------------------------- mask


@pytest.mark.parametrize(
    ("plaintext", "masked"),
    [
        ("sk_live_abcdef1234", "••••1234"),
        ("123456789012", "••••9012"),
        ("12345678901", "••••••••"),  # short: fully masked
        ("abcd", "••••••••"),
        ("a", "••••••••"),
        ("", ""),
        ("x" * 500 + "tail", "••••tail"),
    ],
)
def test_mask_secret(plaintext: str, masked: str) -> None:
    assert mask_secret(plaintext) == masked


# --------------------------------------------------------------------------- Vault (fake client)


class FakeTransit:
    """Mimics hvac's ``client.secrets.transit`` for ``encrypt_data``/``decrypt_data``.

    Keeps real AES-GCM keys per (mount, name, version) and returns Vault-shaped responses,
    so the provider's base64 handling and version prefix parsing are exercised.
    """

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], list[bytes]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: Exception | None = None

    def _versions(self, mount_point: str, name: str) -> list[bytes]:
        return self.keys.setdefault((mount_point, name), [os.urandom(32)])

    def rotate(self, name: str, mount_point: str = "transit") -> None:
        self._versions(mount_point, name).append(os.urandom(32))

    def encrypt_data(self, name: str, plaintext: str, mount_point: str = "transit", **kw: Any) -> dict[str, Any]:
        self.calls.append(("encrypt", {"name": name, "mount_point": mount_point, **kw}))
        if self.fail_with:
            raise self.fail_with
        versions = self._versions(mount_point, name)
        nonce = os.urandom(12)
        body = AESGCM(versions[-1]).encrypt(nonce, base64.b64decode(plaintext), None)
        return {
            "data": {
                "ciphertext": f"vault:v{len(versions)}:{b64(nonce + body)}",
                "key_version": len(versions),
            }
        }

    def decrypt_data(self, name: str, ciphertext: str, mount_point: str = "transit", **kw: Any) -> dict[str, Any]:
        self.calls.append(("decrypt", {"name": name, "mount_point": mount_point, **kw}))
        if self.fail_with:
            raise self.fail_with
        _, version, payload = ciphertext.split(":", 2)
        raw = base64.b64decode(payload)
        try:
            key = self._versions(mount_point, name)[int(version[1:]) - 1]
            plain = AESGCM(key).decrypt(raw[:12], raw[12:], None)
        except Exception:
            raise hvac.exceptions.InvalidRequest("cipher: message authentication failed") from None
        return {"data": {"plaintext": b64(plain)}}


class FakeSecrets:
    def __init__(self, transit: FakeTransit) -> None:
        self.transit = transit


class FakeHvacClient:
    def __init__(self, authenticated: bool = True, down: bool = False) -> None:
        self.secrets = FakeSecrets(FakeTransit())
        self.authenticated = authenticated
        self.down = down

    def is_authenticated(self) -> bool:
        if self.down:
            raise requests.exceptions.ConnectionError("connection refused")
        return self.authenticated


def test_vault_provider_roundtrip_with_fake_client() -> None:
    client = FakeHvacClient()
    provider = VaultTransitKeyProvider(client, key_name="creds", mount_point="transit-prod")
    sealed = encrypt_secret(SECRET, aad=AAD, provider=provider)
    assert sealed.kek_id == "vault:transit-prod/creds"
    assert sealed.wrapped_dek.startswith(b"vault:v1:")
    assert decrypt_secret(sealed, aad=AAD, provider=provider) == SECRET
    encrypt_call, decrypt_call = client.secrets.transit.calls
    assert encrypt_call[1] == {"name": "creds", "mount_point": "transit-prod"}
    assert decrypt_call[1] == {"name": "creds", "mount_point": "transit-prod"}
    assert "vault" in repr(provider)


def test_vault_key_version_rotation_and_forced_rewrap() -> None:
    client = FakeHvacClient()
    provider = VaultTransitKeyProvider(client)
    sealed = encrypt_secret(SECRET, aad=AAD, provider=provider)
    client.secrets.transit.rotate("mcpforge")
    assert not needs_rewrap(sealed, provider)  # same kek_id: Vault tracks versions itself
    assert decrypt_secret(sealed, aad=AAD, provider=provider) == SECRET  # old version still decrypts
    moved = rewrap(sealed, old_provider=provider, new_provider=provider, force=True)
    assert moved.wrapped_dek.startswith(b"vault:v2:") and moved.ciphertext == sealed.ciphertext


def test_vault_errors_are_mapped() -> None:
    client = FakeHvacClient()
    provider = VaultTransitKeyProvider(client)
    sealed = encrypt_secret(SECRET, aad=AAD, provider=provider)

    with pytest.raises(DecryptionError, match="refused"):
        decrypt_secret(
            replace(sealed, wrapped_dek=b"vault:v1:" + b64(os.urandom(60)).encode()),
            aad=AAD,
            provider=provider,
        )
    with pytest.raises(DecryptionError, match="not a Vault transit ciphertext"):
        decrypt_secret(replace(sealed, wrapped_dek=b"\x01abc"), aad=AAD, provider=provider)
    with pytest.raises(DecryptionError, match="malformed"):
        decrypt_secret(replace(sealed, wrapped_dek=b"\xff\xfe"), aad=AAD, provider=provider)
    with pytest.raises(UnknownKeyError):
        decrypt_secret(replace(sealed, kek_id="vault:transit/other"), aad=AAD, provider=provider)

    client.secrets.transit.fail_with = hvac.exceptions.Forbidden("permission denied on transit/encrypt/x")
    with pytest.raises(KeyProviderError, match="Forbidden") as excinfo:
        encrypt_secret(SECRET, aad=AAD, provider=provider)
    assert "permission denied" not in str(excinfo.value)  # hvac detail (URLs, bodies) not echoed
    client.secrets.transit.fail_with = hvac.exceptions.VaultDown("sealed")
    with pytest.raises(KeyProviderError, match="VaultDown"):
        decrypt_secret(sealed, aad=AAD, provider=provider)


def test_vault_bad_responses() -> None:
    class Weird(FakeTransit):
        def encrypt_data(self, name: str, plaintext: str, mount_point: str = "transit", **kw: Any) -> Any:
            return {"data": {"ciphertext": 42}}

        def decrypt_data(self, name: str, ciphertext: str, mount_point: str = "transit", **kw: Any) -> Any:
            return {"data": {"plaintext": b64(b"short")}}

    client = FakeHvacClient()
    client.secrets = FakeSecrets(Weird())
    provider = VaultTransitKeyProvider(client)
    with pytest.raises(KeyProviderError, match="unexpected response"):
        provider.wrap_dek(os.urandom(32))
    with pytest.raises(DecryptionError, match="wrong size"):
        provider.unwrap_dek(b"vault:v1:abc", provider.active_kek_id)


def test_vault_provider_validates_names() -> None:
    with pytest.raises(KeyConfigError):
        VaultTransitKeyProvider(FakeHvacClient(), key_name="")
    with pytest.raises(KeyConfigError, match="too long"):
        VaultTransitKeyProvider(FakeHvacClient(), key_name="k" * 80)


def test_env_with_vault_uses_injected_client_and_checks_connection() -> None:
    client = FakeHvacClient()
    provider = load_key_provider_from_env(
        env(VAULT_ADDR="https://vault.internal:8200", MCPFORGE_VAULT_TRANSIT_KEY="creds"),
        vault_client_factory=lambda _env: client,
        check_canary=True,
    )
    assert provider.active_kek_id == "vault:transit/creds"
    canary = verify_canary(provider, None)
    assert canary.kek_id == "vault:transit/creds"

    with pytest.raises(KeyConfigError, match="rejected the token"):
        load_key_provider_from_env(
            env(VAULT_ADDR="https://v"), vault_client_factory=lambda _env: FakeHvacClient(authenticated=False)
        )
    with pytest.raises(KeyConfigError, match="cannot reach Vault.*ConnectionError"):
        load_key_provider_from_env(
            env(VAULT_ADDR="https://v"), vault_client_factory=lambda _env: FakeHvacClient(down=True)
        )

    def broken_factory(_env: Any) -> Any:
        raise RuntimeError("boom")

    with pytest.raises(KeyConfigError, match="cannot create the Vault client"):
        load_key_provider_from_env(env(VAULT_ADDR="https://v"), vault_client_factory=broken_factory)


def test_migration_from_local_kek_to_vault_is_online() -> None:
    local = LocalKeyProvider(KEK_A)
    legacy = encrypt_secret(SECRET, aad=AAD, provider=local)
    canary = verify_canary(local, None)
    client = FakeHvacClient()
    provider = load_key_provider_from_env(
        env(VAULT_ADDR="https://vault.internal:8200", MCPFORGE_KEK=b64(KEK_A)),
        vault_client_factory=lambda _env: client,
        canary=canary,
        check_canary=True,
    )
    assert isinstance(provider, FallbackKeyProvider)
    assert provider.active_kek_id == "vault:transit/mcpforge"
    assert decrypt_secret(legacy, aad=AAD, provider=provider) == SECRET  # old rows still readable
    fresh = encrypt_secret("new-secret-value", aad=AAD, provider=provider)
    assert fresh.kek_id == "vault:transit/mcpforge"  # new rows go to Vault

    moved = rewrap(legacy, old_provider=provider, new_provider=provider)
    canary = rewrap(canary, old_provider=provider, new_provider=provider)
    vault_only = load_key_provider_from_env(
        env(VAULT_ADDR="https://vault.internal:8200"),
        vault_client_factory=lambda _env: client,
        canary=canary,
        check_canary=True,
    )
    assert decrypt_secret(moved, aad=AAD, provider=vault_only) == SECRET
    with pytest.raises(UnknownKeyError):
        provider.unwrap_dek(b"x", "deadbeef")


# --------------------------------------------------------------------------- Vault (real hvac.Client)


class FakeVaultHTTP(requests.adapters.BaseAdapter):
    """Serves the transit HTTP API in-process so a real ``hvac.Client`` can be used."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.key = os.urandom(32)
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = json.loads(request.body) if request.body else None
        path = request.path_url
        self.requests.append((request.method or "", path, body))
        if request.headers.get("X-Vault-Token") != self.token:
            return self._reply(request, 403, {"errors": ["permission denied"]})
        if path == "/v1/auth/token/lookup-self":
            return self._reply(request, 200, {"data": {"id": "redacted"}})
        if path.startswith("/v1/transit/encrypt/"):
            nonce = os.urandom(12)
            sealed = nonce + AESGCM(self.key).encrypt(nonce, base64.b64decode(body["plaintext"]), None)
            return self._reply(request, 200, {"data": {"ciphertext": "vault:v1:" + b64(sealed)}})
        if path.startswith("/v1/transit/decrypt/"):
            raw = base64.b64decode(body["ciphertext"].split(":", 2)[2])
            try:
                plain = AESGCM(self.key).decrypt(raw[:12], raw[12:], None)
            except Exception:
                return self._reply(request, 400, {"errors": ["cipher: message authentication failed"]})
            return self._reply(request, 200, {"data": {"plaintext": b64(plain)}})
        return self._reply(request, 404, {"errors": []})

    @staticmethod
    def _reply(request: requests.PreparedRequest, status: int, payload: dict[str, Any]) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_vault_provider_with_real_hvac_client_over_fake_http() -> None:
    fake = FakeVaultHTTP(token="s.test-token")
    session = requests.Session()
    session.mount("https://vault.test:8200", fake)

    def factory(environ: Any) -> hvac.Client:
        return hvac.Client(url=environ["VAULT_ADDR"], token=environ["VAULT_TOKEN"], session=session)

    provider = load_key_provider_from_env(
        env(VAULT_ADDR="https://vault.test:8200", VAULT_TOKEN="s.test-token"), vault_client_factory=factory
    )
    sealed = encrypt_secret(SECRET, aad=AAD, provider=provider)
    assert decrypt_secret(sealed, aad=AAD, provider=provider) == SECRET
    paths = [(method, path) for method, path, _ in fake.requests]
    assert paths == [
        ("GET", "/v1/auth/token/lookup-self"),
        ("POST", "/v1/transit/encrypt/mcpforge"),
        ("POST", "/v1/transit/decrypt/mcpforge"),
    ]
    encrypt_body = fake.requests[1][2]
    assert encrypt_body is not None and len(base64.b64decode(encrypt_body["plaintext"])) == 32  # the DEK
    assert SECRET not in json.dumps([body for _, _, body in fake.requests])  # only the DEK goes to Vault

    with pytest.raises(DecryptionError, match="refused"):
        decrypt_secret(
            replace(sealed, wrapped_dek=b"vault:v1:" + b64(os.urandom(60)).encode()),
            aad=AAD,
            provider=provider,
        )
    with pytest.raises(KeyConfigError, match="rejected the token"):
        load_key_provider_from_env(
            env(VAULT_ADDR="https://vault.test:8200", VAULT_TOKEN="wrong"), vault_client_factory=factory
        )


def test_default_vault_client_is_a_real_hvac_client() -> None:
    client = crypto._default_vault_client(
        env(VAULT_ADDR="https://vault.test:8200", VAULT_TOKEN="t", VAULT_NAMESPACE="team-a")
    )
    assert isinstance(client, hvac.Client)
    assert client.url == "https://vault.test:8200"
