"""The official mcp SDK registering by CIMD (Client ID Metadata Document), end to end.

The SDK's OAuthClientProvider is given ``client_metadata_url``: a document served over real TLS
by ``metadata_server`` (a local HTTPS server with a certificate from a CA made in the test,
trusted through ``SSL_CERT_FILE``; ``localhost`` listed in ``OAUTH_CIMD_PRIVATE_HOSTS``). Our
RFC 8414 document advertises ``client_id_metadata_document_supported``, so the SDK uses that URL
as its client_id and never posts to the registration endpoint; the server fetches the document,
a person consents in Chromium, the SDK exchanges the code with PKCE, lists and calls tools, and
the registration is audited with method "cimd".

Fail closed: the same SDK flow with the host not listed stops at an error page, before the
document is fetched, and nothing is registered, issued or called.
"""

from __future__ import annotations

import httpx
import pytest

from apps.audit.models import AuditEvent
from tests.oauth.conftest import CALLBACK, Browser, MemoryStorage, oauth_provider, with_oauth
from tests.oauth.test_registration_audit import metadata_server  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


async def _list_and_call(client):
    tools = await client.list_tools()
    result = await client.call_tool("getInventory", {})
    return [t.name for t in tools.tools], result


def test_sdk_registers_by_cimd_consents_and_calls_tools(oauth_world, metadata_server, settings,  # noqa: F811
                                                         monkeypatch):
    from oauth2_provider.models import Application

    from apps.oauth.models import ClientRegistration

    monkeypatch.setenv("SSL_CERT_FILE", metadata_server.ca)
    settings.OAUTH_CIMD_PRIVATE_HOSTS = ["localhost"]
    world = oauth_world
    member = world.people.by_role("member")
    endpoint = world.endpoint()
    client_id = f"{metadata_server.base}/sdk-agent/client.json"
    browser, storage, sent = Browser(email=member.email), MemoryStorage(), []

    provider = oauth_provider(endpoint, browser, storage, client_metadata_url=client_id)
    names, result = with_oauth(endpoint, provider, _list_and_call, sent=sent)

    # CIMD, not DCR: the SDK took the URL as its client_id and never asked to register.
    assert storage.client_info.client_id == client_id
    assert storage.client_info.client_secret is None
    assert not [url for method, url in sent if "/oauth/register" in url], sent
    assert any(method == "POST" and url == f"{world.url}/oauth/token/" for method, url in sent), sent
    assert ClientRegistration.objects.count() == 0
    # The server fetched the document (over verified TLS) and showed what it says on the consent page.
    assert "/sdk-agent/client.json" in metadata_server.paths
    assert browser.seen["client"] == "Private Network Agent"
    assert browser.seen["redirect_uri"] == CALLBACK
    assert "getInventory" in browser.seen["tools"]
    assert "iss=" in browser.redirect

    # The session works: tools/list and a tools/call with the OAuth token.
    assert "getInventory" in names and "deletePet" not in names
    assert result.is_error is False
    assert storage.tokens.access_token.startswith("mcpfo_")
    app = Application.objects.get(client_id=client_id)
    assert app.redirect_uris.split() == [CALLBACK]

    org = world.people.org
    (registered,) = AuditEvent.objects.filter(organization=org, event_type="oauth.client_registered")
    assert registered.payload["method"] == "cimd" and registered.payload["client_id"] == client_id
    assert registered.payload["redirect_uris"] == [CALLBACK]
    types = set(AuditEvent.objects.filter(organization=org).values_list("event_type", flat=True))
    assert {"oauth.client_authorized", "oauth.token_issued", "tool.called"} <= types

    # A refresh with the document URL as client_id (a public client: no secret) rotates the tokens.
    refreshed = httpx.post(f"{world.url}/oauth/token/", data={
        "grant_type": "refresh_token", "refresh_token": storage.tokens.refresh_token, "client_id": client_id})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"] != storage.tokens.access_token


def test_sdk_cimd_from_an_unlisted_private_host_is_refused_before_any_fetch(oauth_world, metadata_server,  # noqa: F811
                                                                            settings, monkeypatch):
    from mcp.client.auth import OAuthFlowError
    from oauth2_provider.models import Application

    monkeypatch.setenv("SSL_CERT_FILE", metadata_server.ca)
    assert settings.OAUTH_CIMD_PRIVATE_HOSTS == []  # the default: loopback documents are not fetched
    world = oauth_world
    endpoint = world.endpoint()
    client_id = f"{metadata_server.base}/unlisted/client.json"
    browser, storage, sent = Browser(email=world.people.by_role("member").email), MemoryStorage(), []

    with pytest.raises(OAuthFlowError, match="no code"):
        with_oauth(endpoint, oauth_provider(endpoint, browser, storage, client_metadata_url=client_id),
                   _list_and_call, sent=sent)
    assert "client" not in browser.seen  # no consent form was shown, an error page instead
    assert "invalid_request" in browser.seen["refusal"] and "Invalid client_id" in browser.seen["refusal"]
    assert metadata_server.paths == []
    assert not [url for _method, url in sent if "/oauth/register" in url or "/oauth/token" in url], sent
    assert not Application.objects.filter(client_id=client_id).exists()
    assert not AuditEvent.objects.filter(event_type__in=["oauth.client_registered", "tool.called"]).exists()
