"""Where an API key may go (pure): header and cookie names must be HTTP tokens, and a key may
not replace a header the gateway sets or that frames the request."""

from __future__ import annotations

import pytest

from apps.credentials.schemes import API_KEY, SchemeError, apply_credential, describe_scheme


def api_key(location: str, name: str) -> dict:
    return {"type": "apiKey", "in": location, "name": name}


@pytest.mark.parametrize(("location", "name"), [
    ("header", "X-API-Key"), ("header", "api_key"), ("header", "Authorization"), ("header", "x-tenant.key~1"),
    ("cookie", "session_id"), ("query", "api key"), ("query", "clé"),
])
def test_usable_places_take_an_api_key(location, name):
    info = describe_scheme("key", api_key(location, name))
    assert info.supported and info.kinds == (API_KEY,)
    assert info.config == {"in": location, "param": name}
    auth = apply_credential(API_KEY, info.config, {"value": "secret-1"})
    assert {"header": auth.headers, "query": auth.query, "cookie": auth.cookies}[location] == {name: "secret-1"}


@pytest.mark.parametrize(("location", "name", "reason"), [
    ("header", "Host", "the Host header, which the gateway sets itself"),
    ("header", "content-length", "the content-length header, which the gateway sets itself"),
    ("header", "Transfer-Encoding", "the Transfer-Encoding header, which the gateway sets itself"),
    ("header", "Connection", "the Connection header"),
    ("header", "Content-Type", "the Content-Type header"),
    ("header", "Cookie", "a cookie credential needs `in: cookie`"),
    ("header", "X Api Key", "'X Api Key' is not a valid HTTP header name"),
    ("header", "X-Key:", "'X-Key:' is not a valid HTTP header name"),
    ("header", "X-Clé", "'X-Clé' is not a valid HTTP header name"),
    ("cookie", "session id", "'session id' is not a valid HTTP cookie name"),
    ("cookie", "a=b", "'a=b' is not a valid HTTP cookie name"),
])
def test_a_place_http_cannot_carry_makes_the_scheme_unusable_with_the_reason(location, name, reason):
    info = describe_scheme("legacy_key", api_key(location, name))
    assert not info.supported and info.kinds == () and info.config == {}
    assert info.note.startswith("Scheme 'legacy_key' cannot be used: ")
    assert reason in info.note
    assert "(unusable)" in info.placement


def test_a_stored_credential_in_such_a_place_is_refused_when_applied_and_the_value_never_shows():
    with pytest.raises(SchemeError, match="the Host header") as refused:
        apply_credential(API_KEY, {"in": "header", "param": "Host"}, {"value": "pk_live_do_not_leak"})
    assert "pk_live_do_not_leak" not in str(refused.value)


def test_a_long_bad_name_is_cut_in_the_message():
    info = describe_scheme("k", api_key("header", "X " * 500))
    assert not info.supported and len(info.note) < 300
