"""The token bill (real tokenizer) on the inventory page and the REST API, per tool and per
environment, with the over-budget finding naming the heaviest tools and the fix."""

import pytest

from apps.inventory.compact import compact_definition
from apps.inventory.tokens import definition_tokens
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(people):
    return make_project(people.org, people.owner)


def test_rest_bill_per_tool_and_environment(people, project, api_for):
    from apps.inventory.selectors import tool_by_name

    import_spec(project, "petstore-v3.yaml", people.owner)
    response = api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/token-bill/")
    assert response.status_code == 200
    body = response.json()
    assert body["encoding"] == "o200k_base" and body["budget"] == 20_000 and body["compact"] is True
    tools = {t["name"]: t for t in body["tools"]}
    stored = tool_by_name(project, "addPet")
    assert tools["addPet"]["full"] == definition_tokens(stored.mcp_definition())
    assert tools["addPet"]["compact"] == definition_tokens(
        compact_definition(stored.mcp_definition(), count=definition_tokens))
    assert tools["addPet"]["compact"] < tools["addPet"]["full"]
    envs = {e["slug"]: e for e in body["environments"]}
    dev = envs["development"]
    assert dev["mode"] == "compact" and dev["served"] == dev["compact"] < dev["full"]
    assert dev["over_budget"] is False and dev["heaviest"] == []
    # the same per-tool bill on the tool list endpoint
    listed = api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/tools/", {"q": "addPet"}).json()
    assert listed["results"][0]["tokens"] == {"full": tools["addPet"]["full"], "compact": tools["addPet"]["compact"]}


def test_over_budget_environment_names_heaviest_tools_and_fix(people, project, api_for, client_for, settings):
    settings.MCP_COMPACT_TOOLS = 0
    import_spec(project, "twilio-api-v2010.json", people.owner)
    body = api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/token-bill/").json()
    over = [e for e in body["environments"] if e["over_budget"]]
    assert over, body["environments"]
    row = over[0]
    tools = {t["name"]: t["full"] for t in body["tools"]}
    heaviest = sorted(tools.values(), reverse=True)[:1]
    assert row["heaviest"][0]["tokens"] == heaviest[0] and len(row["heaviest"]) == 3
    assert "MCP_COMPACT_TOOLS=1" in row["fix"]
    page = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/tools/")
    assert page.status_code == 200
    assert b'data-testid="token-bill"' in page.content and b"over 20000" in page.content
    assert row["heaviest"][0]["name"].encode() in page.content


def test_token_bill_api_refuses_outsiders_with_404(people, project, api_for):
    import_spec(project, "petstore-v3.yaml", people.owner)
    response = api_for(people.outsider).get(f"/api/v1/projects/{project.public_id}/token-bill/")
    assert response.status_code == 404 and "detail" in response.json()


def test_inventory_page_shows_each_tools_tokens(people, project, client_for):
    import_spec(project, "petstore-v3.yaml", people.owner)
    page = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/tools/")
    assert page.status_code == 200 and page.content.count(b'data-testid="tool-tokens"') == 19
    assert b"within 20000" in page.content
