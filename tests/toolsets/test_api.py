"""Toolsets and listing switches through the REST API: validation with clear 4xx answers,
admin-only writes (403 below, 404 for outsiders), every change audited, the token bill per
toolset with the budget finding, and the endpoints in the OpenAPI schema."""

import pytest

from apps.audit.models import AuditEvent
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(people):
    project = make_project(people.org, people.owner)
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


def url(project, tail=""):
    return f"/api/v1/projects/{project.public_id}/toolsets/{tail}"


def events(org, event_type):
    return list(AuditEvent.objects.filter(organization=org, event_type=event_type).order_by("seq"))


def test_admin_creates_edits_and_deletes_a_toolset_audited(people, project, api_for):
    admin = api_for(people.admin)
    created = admin.post(url(project), {"slug": "support-readonly", "name": "Support (read-only)",
                                        "tool_names": ["getPetById", "findPetsByStatus", "getPetById"]},
                         format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tool_names"] == ["findPetsByStatus", "getPetById"]  # de-duplicated, document order
    assert body["listing_mode"] == "" and body["compact_tools"] is None
    dev = next(e for e in body["endpoints"] if e["environment"] == "development")
    assert dev["url"].endswith(f"/mcp/{people.org.slug}/{project.slug}/development/toolsets/support-readonly/")
    (created_event,) = events(people.org, "toolset.created")
    assert created_event.actor == people.admin and created_event.payload["after"]["tool_names"] == body["tool_names"]

    changed = admin.patch(url(project, "support-readonly/"), {"tool_names": ["getPetById"],
                                                               "listing_mode": "search-first"}, format="json")
    assert changed.status_code == 200 and changed.json()["listing_mode"] == "search-first"
    (updated,) = events(people.org, "toolset.updated")
    assert updated.payload["changed"] == ["listing_mode", "tool_names"]
    assert updated.payload["before"]["tool_names"] == ["findPetsByStatus", "getPetById"]

    assert api_for(people.viewer).get(url(project, "support-readonly/")).json()["tool_names"] == ["getPetById"]
    assert admin.delete(url(project, "support-readonly/")).status_code == 204
    assert len(events(people.org, "toolset.deleted")) == 1
    assert admin.get(url(project, "support-readonly/")).status_code == 404


@pytest.mark.parametrize(("body", "field", "text"), [
    ({"slug": "Bad Slug", "name": "x", "tool_names": ["getPetById"]}, "slug", "lowercase"),
    ({"slug": "ok", "name": "x", "tool_names": ["noSuchTool"]}, "tool_names", "noSuchTool"),
    ({"slug": "ok", "name": "x", "tool_names": []}, "tool_names", "at least one"),
    ({"slug": "ok", "name": "x", "tool_names": ["getPetById"], "listing_mode": "fast"}, "listing_mode", ""),
])
def test_bad_input_is_a_clear_400_and_writes_nothing(people, project, api_for, body, field, text):
    response = api_for(people.admin).post(url(project), body, format="json")
    assert response.status_code == 400
    assert field in str(response.json()) and text in str(response.json())
    assert events(people.org, "toolset.created") == []


def test_duplicate_slug_is_409(people, project, api_for):
    admin = api_for(people.admin)
    body = {"slug": "refunds", "name": "Refunds", "tool_names": ["getPetById"]}
    assert admin.post(url(project), body, format="json").status_code == 201
    again = admin.post(url(project), body, format="json")
    assert again.status_code == 409 and "refunds" in str(again.json())


@pytest.mark.parametrize("role", ["viewer", "member", "reviewer"])
def test_wrong_role_gets_403_on_every_write(people, project, api_for, role):
    from apps.toolsets.services import toolset_create

    toolset_create(project=project, actor=people.owner, slug="support", name="Support", tool_names=["getPetById"])
    client = api_for(people.by_role(role))
    assert client.get(url(project)).status_code == 200
    assert client.post(url(project), {"slug": "x", "name": "x", "tool_names": ["getPetById"]},
                       format="json").status_code == 403
    assert client.patch(url(project, "support/"), {"name": "y"}, format="json").status_code == 403
    assert client.delete(url(project, "support/")).status_code == 403
    listing = f"/api/v1/projects/{project.public_id}/environments/development/listing/"
    assert client.get(listing).status_code == 200
    assert client.put(listing, {"compact_tools": False, "listing_mode": "full"}, format="json").status_code == 403
    assert events(people.org, "toolset.updated") == [] and events(people.org, "environment.updated") == []


def test_outsider_gets_404_everywhere(people, project, api_for):
    from apps.toolsets.services import toolset_create

    toolset_create(project=project, actor=people.owner, slug="support", name="Support", tool_names=["getPetById"])
    client = api_for(people.outsider)
    listing = f"/api/v1/projects/{project.public_id}/environments/development/listing/"
    for response in (client.get(url(project)), client.get(url(project, "support/")), client.get(listing),
                     client.post(url(project), {"slug": "x", "name": "x", "tool_names": ["getPetById"]},
                                 format="json"),
                     client.patch(url(project, "support/"), {"name": "y"}, format="json"),
                     client.delete(url(project, "support/")),
                     client.put(listing, {"compact_tools": None, "listing_mode": "search-first"}, format="json")):
        assert response.status_code == 404
    assert events(people.org, "toolset.deleted") == []


def test_environment_listing_switch_is_admin_only_and_audited(people, project, api_for):
    listing = f"/api/v1/projects/{project.public_id}/environments/staging/listing/"
    admin = api_for(people.admin)
    assert admin.get(listing).json()["listing_mode"] == "full"
    bad = admin.put(listing, {"compact_tools": None, "listing_mode": "fastest"}, format="json")
    assert bad.status_code == 400 and "listing_mode" in bad.json()["errors"]
    ok = admin.put(listing, {"compact_tools": False, "listing_mode": "search-first"}, format="json")
    assert ok.status_code == 200 and ok.json()["search_endpoint"].endswith("/staging/search/")
    (event,) = [e for e in events(people.org, "environment.updated") if e.payload.get("setting") == "tool_listing"]
    assert event.payload["before"] == {"compact_tools": None, "listing_mode": "full"}
    assert event.payload["after"] == {"compact_tools": False, "listing_mode": "search-first"}


def test_token_bill_per_toolset_with_budget_finding(people, api_for, settings):
    from apps.toolsets.services import toolset_create

    settings.MCP_COMPACT_TOOLS = 0
    project = make_project(people.org, people.owner, name="Twilio")
    assert import_spec(project, "twilio-api-v2010.json", people.owner).status == "ready"
    bill = api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/token-bill/").json()
    tools = {t["name"]: t for t in bill["tools"]}
    heavy = sorted(tools, key=lambda n: -tools[n]["full"])[:40]
    toolset_create(project=project, actor=people.owner, slug="heavy", name="Heavy", tool_names=heavy)
    toolset_create(project=project, actor=people.owner, slug="light", name="Light", tool_names=heavy[-1:],
                   compact_tools=True)
    toolset_create(project=project, actor=people.owner, slug="search", name="Search", tool_names=heavy,
                   listing_mode="search-first")
    body = api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/token-bill/").json()
    rows = {r["slug"]: r for r in body["toolsets"]}
    assert rows["heavy"]["tools"] == 40 and rows["heavy"]["full"] == sum(tools[n]["full"] for n in heavy)
    assert rows["heavy"]["over_budget"] is True and rows["heavy"]["heaviest"][0]["name"] == heavy[0]
    assert "toolset" in rows["heavy"]["fix"]
    assert rows["light"]["mode"] == "compact" and rows["light"]["served"] == tools[heavy[-1]]["compact"]
    assert rows["search"]["mode"] == "search-first" and rows["search"]["served"] < 3_000
    assert rows["search"]["over_budget"] is False
    assert {e["slug"] for e in rows["heavy"]["environments"]} == {"development", "staging", "production"}


def test_endpoints_are_in_the_openapi_schema(people, api_for):
    schema = api_for(people.viewer).get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/projects/{id}/toolsets/" in paths and "post" in paths["/api/v1/projects/{id}/toolsets/"]
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/projects/{id}/toolsets/{toolset}/"])
    assert "put" in paths["/api/v1/projects/{id}/environments/{env}/listing/"]


def test_inventory_page_shows_the_toolset_token_bill(people, project, client_for):
    from apps.inventory.selectors import current_version
    from apps.toolsets.selectors import toolset_token_bill
    from apps.toolsets.services import toolset_create

    toolset_create(project=project, actor=people.owner, slug="support", name="Support desk",
                   tool_names=["getPetById", "getInventory"])
    (row,) = toolset_token_bill(project, current_version(project))
    page = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/tools/").content.decode()
    assert 'data-testid="toolset-token-bill"' in page and "Support desk" in page
    assert f"{row['served']} ({row['mode']})" in page and "within 20000" in page


def test_every_toolset_write_bumps_the_project_config_version(people, project):
    """The trigger (toolsets migration 0001), not service code: a bulk update or a raw delete
    drops the gateway's snapshot and cached listings too."""
    from django.db import connection

    from apps.toolsets.models import Toolset
    from apps.toolsets.services import toolset_create

    def version() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version FROM governance_configversion WHERE project_id = %s", [project.pk])
            row = cursor.fetchone()
        return row[0] if row else 0

    start = version()
    toolset_create(project=project, actor=people.owner, slug="support", name="Support", tool_names=["getPetById"])
    created = version()
    assert created > start
    Toolset.objects.filter(project=project).update(tool_names=["getPetById", "getInventory"])
    updated = version()
    assert updated > created
    Toolset.objects.filter(project=project).delete()
    assert version() > updated
