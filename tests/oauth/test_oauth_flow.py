"""OAuth 2.1 for the MCP endpoint, end to end: the official mcp SDK discovers the
authorization server from the 401, registers (DCR; CIMD in test_sdk_cimd.py), a person consents in Chromium, the SDK
exchanges the code with PKCE and calls tools; refresh, revocation and audience."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import audit_events
from tests.oauth.conftest import Browser, MemoryStorage, oauth_provider, with_oauth

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


async def _list_and_call(client):
    tools = await client.list_tools()
    result = await client.call_tool("getInventory", {})
    return [t.name for t in tools.tools], result


def test_sdk_connects_with_oauth_consents_calls_refreshes_and_revocation_bites(oauth_world):
    from apps.accounts.models import ApiToken

    world = oauth_world
    member = world.people.by_role("member")
    endpoint = world.endpoint()
    browser, storage = Browser(email=member.email), MemoryStorage()

    names, result = with_oauth(endpoint, oauth_provider(endpoint, browser, storage), _list_and_call)

    # The consent page showed the client, its redirect URI, the environment and the tools.
    assert browser.seen["client"] == "Test Agent"
    assert browser.seen["redirect_uri"] == "http://127.0.0.1:53682/callback"
    assert world.project.name in browser.seen["environment"] and world.environment.name in browser.seen["environment"]
    assert "getInventory" in browser.seen["tools"]
    assert browser.seen["headers"]["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in browser.seen["headers"]["content-security-policy"]
    assert "iss=" in browser.redirect  # RFC 9207
    assert "getInventory" in names and "deletePet" not in names
    assert result.is_error is False
    access = storage.tokens.access_token
    assert access.startswith("mcpfo_")
    # Stored as digests only: neither DOT's table nor the mirror holds the token.
    from oauth2_provider.models import AccessToken, RefreshToken

    assert AccessToken.objects.filter(token=access).count() == 0
    assert AccessToken.objects.get(token_checksum=ApiToken.objects.get(name="OAuth · Test Agent").digest)
    assert RefreshToken.objects.filter(token=storage.tokens.refresh_token).count() == 0
    types = [e.event_type for e in audit_events(world.people.org)]
    assert "oauth.client_authorized" in types and "oauth.token_issued" in types and "tool.called" in types

    # Refresh (rotation): a new access token and refresh token; the old access token stops working.
    old_access, old_refresh = access, storage.tokens.refresh_token
    client_info = storage.client_info
    token_url = f"{world.url}/oauth/token/"
    refreshed = httpx.post(token_url, data={"grant_type": "refresh_token", "refresh_token": old_refresh,
                                            "client_id": client_info.client_id}).json()
    assert refreshed["access_token"] != old_access and refreshed["refresh_token"] != old_refresh
    assert _status(endpoint, old_access) == 401
    assert _status(endpoint, refreshed["access_token"]) == 200
    # The rotated-out refresh token is refused (reuse protection revokes the family).
    again = httpx.post(token_url, data={"grant_type": "refresh_token", "refresh_token": old_refresh,
                                        "client_id": client_info.client_id})
    assert again.status_code == 400
    assert _status(endpoint, refreshed["access_token"]) == 401  # family revoked on reuse

    # A fresh grant, then RFC 7009 revocation: refused on the very next call.
    browser2, storage2 = Browser(email=member.email), MemoryStorage()
    with_oauth(endpoint, oauth_provider(endpoint, browser2, storage2), _list_and_call)
    token = storage2.tokens.access_token
    assert _status(endpoint, token) == 200
    revoked = httpx.post(f"{world.url}/oauth/revoke/", data={"token": token,
                                                             "client_id": storage2.client_info.client_id})
    assert revoked.status_code == 200
    answer = _post(endpoint, token)
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
    assert "oauth.token_revoked" in [e.event_type for e in audit_events(world.people.org)]


def _post(endpoint: str, token: str) -> httpx.Response:
    return httpx.post(endpoint, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                         "Accept": "application/json, text/event-stream",
                                         "MCP-Protocol-Version": "2025-11-25"},
                      json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}, timeout=15)


def _status(endpoint: str, token: str) -> int:
    return _post(endpoint, token).status_code


def test_token_for_environment_a_is_refused_at_environment_b(oauth_world):
    world = oauth_world
    member = world.people.by_role("member")
    endpoint = world.endpoint()
    browser, storage = Browser(email=member.email), MemoryStorage()
    with_oauth(endpoint, oauth_provider(endpoint, browser, storage), _list_and_call)
    token = storage.tokens.access_token

    answer = _post(world.endpoint(world.staging), token)
    assert answer.status_code == 401
    assert "another MCP endpoint" in answer.json()["error"]["message"]
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert "gateway.request_refused" in [e.event_type for e in audit_events(world.people.org)]
    assert _status(endpoint, token) == 200  # still fine where it belongs


def test_401_points_to_protected_resource_metadata_and_the_metadata_documents(oauth_world):
    world = oauth_world
    endpoint = world.endpoint()
    answer = httpx.post(endpoint, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                        headers={"Accept": "application/json, text/event-stream"})
    assert answer.status_code == 401
    prm_url = (f"{world.url}/.well-known/oauth-protected-resource/mcp/{world.people.org.slug}/"
               f"{world.project.slug}/development/")
    assert f'resource_metadata="{prm_url}"' in answer.headers["www-authenticate"]
    prm = httpx.get(prm_url).json()
    assert prm["resource"] == endpoint and prm["authorization_servers"] == [world.url]
    meta = httpx.get(f"{world.url}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == world.url
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["registration_endpoint"] == f"{world.url}/oauth/register/"
    assert meta["client_id_metadata_document_supported"] is True  # the SDK registers by CIMD only if so
    assert httpx.get(f"{world.url}/.well-known/oauth-protected-resource/elsewhere").status_code == 404


def test_expired_and_malformed_access_tokens_are_refused_at_the_gateway(oauth_world):
    import hashlib
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    from apps.accounts.models import ApiToken
    from tests.oauth.test_oauth_guards import authorize_params, code_from, consent, exchange, pkce, register

    world = oauth_world
    browser = Client()
    browser.force_login(world.people.by_role("member"))
    client_id = register(browser)
    verifier, challenge = pkce()
    query = code_from(consent(browser, authorize_params(client_id, challenge, world.endpoint())))
    token = exchange(browser, client_id, query["code"], verifier).json()["access_token"]
    endpoint = world.endpoint()
    assert _status(endpoint, token) == 200

    past = timezone.now() - timedelta(seconds=1)
    digest = hashlib.sha256(token.encode()).hexdigest()
    AccessToken.objects.filter(token_checksum=digest).update(expires=past)
    ApiToken.objects.filter(digest=digest).update(expires_at=past)
    answer = _post(endpoint, token)
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]
    assert _status(endpoint, token[:-1] + ("A" if token[-1] != "A" else "B")) == 401  # unknown
    assert _status(endpoint, "mcpfo_short") == 401  # malformed
    # A personal token keeps working beside OAuth.
    assert _status(endpoint, world.tokens["member"]) == 200


def test_upstream_never_sees_the_oauth_token(oauth_world, weird):
    from django.test import Client

    from tests.gateway.conftest import call
    from tests.oauth.test_oauth_guards import authorize_params, code_from, consent, exchange, pkce, register

    browser = Client()
    browser.force_login(oauth_world.people.by_role("member"))
    client_id = register(browser)
    verifier, challenge = pkce()
    query = code_from(consent(browser, authorize_params(client_id, challenge, weird)))
    token = exchange(browser, client_id, query["code"], verifier).json()["access_token"]

    result = call(weird, token, "getEcho", {"thing": "x", "q": "y", "X-Trace": "t-2"})
    assert result.is_error is False
    seen = result.structured_content
    assert "authorization" not in seen["headers"] and token not in str(seen)
