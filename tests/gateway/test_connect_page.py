"""The "Connect an agent" page and the MCP endpoints panel of the project page."""

from __future__ import annotations

import json

import pytest

from apps.gateway.connect import TOKEN_PLACEHOLDER, client_configs, server_name
from apps.projects.endpoints import endpoint_url
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(people):
    return make_project(people.org, people.owner)


def test_outsider_gets_404(client_for, people, project):
    response = client_for(people.outsider).get(f"/o/acme/p/{project.slug}/connect/production/")
    assert response.status_code == 404


def test_viewer_cannot_hold_tokens_so_gets_403(client_for, people, project):
    response = client_for(people.viewer).get(f"/o/acme/p/{project.slug}/connect/production/")
    assert response.status_code == 403


def test_unknown_environment_is_404(client_for, people, project):
    assert client_for(people.member).get(f"/o/acme/p/{project.slug}/connect/nowhere/").status_code == 404


def test_member_sees_endpoint_and_ready_configs(client_for, people, project, settings):
    settings.SITE_URL = "https://forge.example.com"
    response = client_for(people.member).get(f"/o/acme/p/{project.slug}/connect/production/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "https://forge.example.com/mcp/acme/petstore/production/" in html
    assert TOKEN_PLACEHOLDER in html
    assert "claude mcp add --transport http acme-petstore-production" in html
    assert "No tool is both enabled in production and granted to you yet" in html
    assert "/o/acme/tokens/" in html


def test_connect_without_environment_redirects_to_the_first(client_for, people, project):
    response = client_for(people.member).get(f"/o/acme/p/{project.slug}/connect/")
    assert response.status_code == 302 and response.url.endswith("/connect/development/")


def test_project_page_has_the_endpoints_panel(client_for, people, project):
    html = client_for(people.member).get(f"/o/acme/p/{project.slug}/").content.decode()
    assert 'data-testid="gateway-panel"' in html and "/connect/" in html
    viewer_html = client_for(people.viewer).get(f"/o/acme/p/{project.slug}/").content.decode()
    assert 'data-testid="gateway-panel"' in viewer_html and 'data-testid="open-connect"' not in viewer_html


def test_client_configs_are_valid_and_carry_no_real_token():
    url = endpoint_url("https://forge.example.com/", "acme", "petstore", "production")
    assert url == "https://forge.example.com/mcp/acme/petstore/production/"
    name = server_name("acme", "petstore", "production")
    configs = {c.key: c for c in client_configs(url, name)}
    desktop = json.loads(configs["claude-desktop"].text)["mcpServers"][name]
    assert desktop["args"][2] == url and desktop["env"]["MCPFORGE_AUTH"] == f"Bearer {TOKEN_PLACEHOLDER}"
    generic = json.loads(configs["streamable-http"].text)["mcpServers"][name]
    assert generic == {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {TOKEN_PLACEHOLDER}"}}
    compile(configs["python"].text, "snippet.py", "exec")
    assert server_name("a b", "c/d", "e") == "a-b-c-d-e"


def test_oauth_configs_carry_only_the_url():
    from apps.gateway.connect import oauth_client_configs

    url = "https://mcpforge.example.com/mcp/acme/petstore/production/"
    configs = {c.key: c for c in client_configs(url, "acme-petstore-production")}
    generic = json.loads(configs["oauth-streamable-http"].text)["mcpServers"]["acme-petstore-production"]
    assert generic == {"type": "http", "url": url}
    assert configs["oauth-claude-code"].text.endswith(url)
    for config in oauth_client_configs(url, "n"):
        assert "Authorization" not in config.text and TOKEN_PLACEHOLDER not in config.text


def test_toolset_endpoints_with_ready_configs(client_for, people, project, settings):
    from apps.toolsets.services import toolset_create
    from tests.factories import import_spec

    settings.SITE_URL = "https://forge.example.com"
    import_spec(project, "petstore-v3.yaml", people.owner)
    toolset_create(project=project, actor=people.owner, slug="support", name="Support", tool_names=["getPetById"])
    page = client_for(people.member).get(f"/o/acme/p/{project.slug}/connect/production/").content.decode()
    url = "https://forge.example.com/mcp/acme/petstore/production/toolsets/support/"
    assert 'data-testid="toolset-endpoints"' in page and url in page
    chosen = client_for(people.member).get(f"/o/acme/p/{project.slug}/connect/production/?toolset=support")
    assert chosen.status_code == 200
    html = chosen.content.decode()
    assert f'data-testid="endpoint-url">{url}<' in html
    assert "acme-petstore-production-support" in html and "claude mcp add --transport http" in html
    assert client_for(people.member).get(f"/o/acme/p/{project.slug}/connect/production/?toolset=nope").status_code \
        == 404
