"""The sealed requestState of held calls (apps/gateway/held.py), without a server: what it
binds, that it is opaque, and key rotation through SECRET_KEY_FALLBACKS."""

from __future__ import annotations

import time

import pytest

from apps.gateway import held

KEY, OLD = b"k" * 32, b"o" * 32
BINDING = held.Binding(organization=1, environment=2, principal="token:3/user:4", tool="deletePet",
                       arguments_sha256=held.arguments_digest({"petId": 10, "note": "é"}))


def sealed(keys=(KEY,), **kwargs) -> str:
    now = time.time()
    return held.seal(BINDING, request_id="r-1", now=now, expires_at=kwargs.get("exp", now + 60), keys=list(keys))


def test_round_trip_binds_every_claim_and_hides_them():
    state = sealed()
    assert "deletePet" not in state and "token:3" not in state  # encrypted, not merely signed
    claims = held.verify(state, BINDING, now=time.time(), keys=[KEY])
    assert claims["r"] == "r-1" and claims["a"] == BINDING.arguments_sha256
    # canonical arguments: key order does not matter, values do
    assert held.arguments_digest({"note": "é", "petId": 10}) == BINDING.arguments_sha256
    assert held.arguments_digest({"petId": 10.0, "note": "é"}) != BINDING.arguments_sha256
    assert held.arguments_digest({"x": float("nan")}) == ""


@pytest.mark.parametrize(("change", "detail"), [
    ({"organization": 9}, "other_endpoint"), ({"environment": 9}, "other_endpoint"),
    ({"principal": "oauth-client:3/user:4"}, "other_principal"), ({"tool": "addPet"}, "other_tool"),
    ({"arguments_sha256": held.arguments_digest({"petId": 11})}, "other_arguments"),
    ({"arguments_sha256": ""}, "other_arguments"),
])
def test_any_other_binding_is_refused(change, detail):
    other = held.Binding(**{**BINDING.__dict__, **change})
    with pytest.raises(held.StateRefused) as refused:
        held.verify(sealed(), other, now=time.time(), keys=[KEY])
    assert refused.value.detail == detail and refused.value.request_id == "r-1"


@pytest.mark.parametrize("state", ["", "v1.", "v1.AAAA", "x" * 5000, None, 42, {"r": "r-1"}])
def test_malformed_states_are_tampered(state):
    with pytest.raises(held.StateRefused) as refused:
        held.verify(state, BINDING, now=time.time(), keys=[KEY])
    assert refused.value.detail == "tampered"


def test_expiry_and_keys():
    with pytest.raises(held.StateRefused) as refused:
        held.verify(sealed(exp=time.time() - 1), BINDING, now=time.time(), keys=[KEY])
    assert refused.value.detail == "expired"
    with pytest.raises(held.StateRefused) as refused:
        held.verify(sealed(keys=[OLD]), BINDING, now=time.time(), keys=[KEY])  # a key this server lacks
    assert refused.value.detail == "tampered"
    # after a rotation the old key still opens what it sealed; the new one seals
    assert held.verify(sealed(keys=[OLD]), BINDING, now=time.time(), keys=[KEY, OLD])["r"] == "r-1"
