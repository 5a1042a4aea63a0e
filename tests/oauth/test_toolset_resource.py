"""A toolset endpoint is its own OAuth resource (RFC 8707 / RFC 9728): its own protected
resource metadata, tokens bound to it work only there, and an environment's token is refused at
toolset endpoints (exact audiences). Authorization through Django's test client, calls through
the live gateway."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from tests.gateway.conftest import audit_events, list_names
from tests.oauth.test_oauth_guards import authorize_params, code_from, consent, exchange, pkce, register

pytestmark = pytest.mark.django_db(transaction=True)


def _status(endpoint: str, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(endpoint, headers=headers, timeout=15,
                      json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})


def _token_for(world, resource: str) -> str:
    browser = Client()
    browser.force_login(world.people.by_role("member"))
    client_id = register(browser)
    verifier, challenge = pkce()
    query = code_from(consent(browser, authorize_params(client_id, challenge, resource)))
    return exchange(browser, client_id, query["code"], verifier).json()["access_token"]


@pytest.fixture
def toolset_world(oauth_world):
    from apps.toolsets.services import toolset_create

    world = oauth_world
    toolset_create(project=world.project, actor=world.people.owner, slug="support", name="Support",
                   tool_names=["getPetById", "getInventory"])
    return world


def test_toolset_endpoint_has_its_own_protected_resource_metadata(toolset_world):
    world = toolset_world
    endpoint = world.endpoint() + "toolsets/support/"
    answer = _status(endpoint, None)
    assert answer.status_code == 401
    prm_url = (f"{world.url}/.well-known/oauth-protected-resource/mcp/{world.people.org.slug}/"
               f"{world.project.slug}/development/toolsets/support/")
    assert f'resource_metadata="{prm_url}"' in answer.headers["www-authenticate"]
    prm = httpx.get(prm_url).json()
    assert prm["resource"] == endpoint and prm["authorization_servers"] == [world.url]


def test_toolset_token_works_only_at_its_toolset_endpoint(toolset_world):
    world = toolset_world
    endpoint = world.endpoint() + "toolsets/support/"
    token = _token_for(world, endpoint)
    assert list_names(endpoint, token) == ["mcpforge_approval_status", "getPetById", "getInventory"]
    for elsewhere in (world.endpoint(), world.endpoint(world.staging) + "toolsets/support/"):
        refused = _status(elsewhere, token)
        assert refused.status_code == 401 and "another MCP endpoint" in refused.json()["error"]["message"]
    issued = [e for e in audit_events(world.people.org, "oauth.token_issued")]
    assert issued[-1].payload["toolset"] == "support"


def test_environment_token_is_refused_at_toolset_endpoints(toolset_world):
    world = toolset_world
    token = _token_for(world, world.endpoint())
    assert _status(world.endpoint(), token).status_code == 200
    for toolset_endpoint in (world.endpoint() + "toolsets/support/",
                             world.endpoint(world.staging) + "toolsets/support/"):
        refused = _status(toolset_endpoint, token)
        assert refused.status_code == 401 and "another MCP endpoint" in refused.json()["error"]["message"]
    refusals = audit_events(world.people.org, "gateway.request_refused")
    assert [r.payload["reason"] for r in refusals] == ["token_audience", "token_audience"]


def test_unknown_toolset_is_not_a_resource(toolset_world):
    world = toolset_world
    browser = Client()
    browser.force_login(world.people.by_role("member"))
    client_id = register(browser)
    _, challenge = pkce()
    shown = browser.get("/oauth/authorize/", authorize_params(client_id, challenge,
                                                               world.endpoint() + "toolsets/nope/"))
    assert shown.status_code == 400 and b"exactly one MCP endpoint" in shown.content
