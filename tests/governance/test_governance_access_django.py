"""Every governance page and API endpoint: outsiders get 404, roles below the minimum 403,
the minimum role succeeds; bad input gets a clear message."""

from __future__ import annotations

import pytest

from apps.accounts.services import team_create
from apps.governance import services
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

RANK = ["viewer", "member", "reviewer", "admin", "owner"]


@pytest.fixture
def world(people):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    team = team_create(organization=people.org, name="Support", actor=people.owner)
    grant = services.grant_create(project=project, actor=people.owner, effect="allow", principal_kind="team",
                                  team=team, categories=["read_only"])
    policy = services.policy_create(project=project, actor=people.owner, name="Critical", kind="single",
                                    categories=["critical"])
    return {"project": project, "grant": grant, "policy": policy, "team": team}


def page_requests(people, world):
    """(method, url, data, minimum role). Each write request is fresh so it can succeed once per role."""
    base = f"/o/{people.org.slug}/p/{world['project'].slug}/governance"
    grant, policy = world["grant"], world["policy"]
    return [
        ("get", f"{base}/", None, "viewer"),
        ("get", f"{base}/permissions/", None, "viewer"),
        ("get", f"{base}/permissions/?category=critical&tag=pet&q=pet", None, "viewer"),
        ("post", f"{base}/permissions/toggle/",
         {"operation_key": "GET /pet/{petId}", "environment": "staging", "enabled": "true"}, "admin"),
        ("post", f"{base}/permissions/bulk/", {"environment": "staging", "category": "read_only",
                                               "action": "enable"}, "admin"),
        ("get", f"{base}/grants/", None, "viewer"),
        ("post", f"{base}/grants/", {"effect": "allow", "principal_kind": "role", "role": "member",
                                     "environment": "staging", "tags": "pet"}, "admin"),
        ("post", f"{base}/grants/{grant.public_id}/delete/", {}, "admin"),
        ("get", f"{base}/policies/", None, "viewer"),
        ("get", f"{base}/policies/new/", None, "admin"),
        ("post", f"{base}/policies/new/", {"name": "Deletes", "kind": "single", "order": "any", "expires_hours": "24",
                                           "tags": "pet"}, "admin"),
        ("get", f"{base}/policies/{policy.public_id}/", None, "viewer"),
        ("post", f"{base}/policies/{policy.public_id}/", {"name": "Critical!", "kind": "single", "order": "any",
                                                          "expires_hours": "12", "categories": ["critical"]}, "admin"),
        ("post", f"{base}/policies/suggestions/accept/", {}, "admin"),
        ("post", f"{base}/policies/{policy.public_id}/delete/", {}, "admin"),
        ("get", f"{base}/simulator/", None, "viewer"),
        ("get", f"{base}/simulator/?user={people.member.pk}&tool=getPetById&environment=staging", None, "viewer"),
    ]


def api_requests(people, world):
    base = f"/api/v1/projects/{world['project'].public_id}"
    grant, policy = world["grant"], world["policy"]
    return [
        ("get", f"{base}/environments/staging/tools/", None, "viewer"),
        ("put", f"{base}/environments/staging/tools/",
         {"tools": [{"operation_key": "GET /pet/{petId}", "enabled": True}]}, "admin"),
        ("post", f"{base}/environments/staging/tools/bulk/", {"enabled": False, "tag": "user"}, "admin"),
        ("get", f"{base}/grants/", None, "viewer"),
        ("post", f"{base}/grants/", {"effect": "allow", "principal_kind": "team", "team": world["team"].slug,
                                     "categories": ["side_effect"]}, "admin"),
        ("get", f"{base}/grants/{grant.public_id}/", None, "viewer"),
        ("delete", f"{base}/grants/{grant.public_id}/", None, "admin"),
        ("get", f"{base}/policies/", None, "viewer"),
        ("post", f"{base}/policies/", {"name": "Admin tools", "kind": "single", "categories": ["administrative"]},
         "admin"),
        ("get", f"{base}/policies/{policy.public_id}/", None, "viewer"),
        ("patch", f"{base}/policies/{policy.public_id}/", {"expires_after_seconds": 3600}, "admin"),
        ("put", f"{base}/policies/{policy.public_id}/", {"name": "Critical", "kind": "multi",
                                                          "approvals_required": 2, "categories": ["critical"]},
         "admin"),
        ("get", f"{base}/policies/suggestions/", None, "viewer"),
        ("post", f"{base}/policies/suggestions/", {}, "admin"),
        ("delete", f"{base}/policies/{policy.public_id}/", None, "admin"),
        ("get", f"{base}/simulate/?user={people.member.email}&tool=getPetById&environment=staging", None, "viewer"),
    ]


def test_outsider_gets_404_on_every_page_and_api(people, world, client_for, api_for):
    client, api = client_for(people.outsider), api_for(people.outsider)
    for method, url, data, _ in page_requests(people, world):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)
    for method, url, data, _ in api_requests(people, world):
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json() == {"detail": "Not found."}


def test_roles_below_the_minimum_get_403(people, world, client_for, api_for):
    for role in RANK[:3]:  # viewer, member, reviewer: below admin
        client, api = client_for(people.by_role(role)), api_for(people.by_role(role))
        for method, url, data, minimum in page_requests(people, world):
            if RANK.index(role) < RANK.index(minimum):
                response = getattr(client, method)(url, data or {})
                assert response.status_code == 403, (role, method, url, response.status_code)
        for method, url, data, minimum in api_requests(people, world):
            if RANK.index(role) < RANK.index(minimum):
                response = getattr(api, method)(url, data, format="json")
                assert response.status_code == 403, (role, method, url, response.status_code)
                assert "does not allow" in response.json()["detail"]


def test_minimum_role_succeeds_on_pages(people, world, client_for):
    for method, url, data, minimum in page_requests(people, world):
        response = getattr(client_for(people.by_role(minimum)), method)(url, data or {})
        assert response.status_code in (200, 302), (minimum, method, url, response.status_code)
        if response.status_code == 200 and method == "post":
            pytest.fail(f"{url} re-rendered the form: {response.content[:500]!r}")


def test_minimum_role_succeeds_on_the_api(people, world, api_for):
    for method, url, data, minimum in api_requests(people, world):
        response = getattr(api_for(people.by_role(minimum)), method)(url, data, format="json")
        assert response.status_code in (200, 201, 204), (minimum, method, url, response.status_code,
                                                         response.content[:300])


def test_anonymous_is_sent_to_login_and_api_refuses(people, world, client):
    response = client.get(f"/o/{people.org.slug}/p/{world['project'].slug}/governance/permissions/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(f"/api/v1/projects/{world['project'].public_id}/grants/").status_code in (401, 403)


def test_bad_input_gets_clear_messages(people, world, client_for, api_for):
    project = world["project"]
    api = api_for(people.admin)
    base = f"/api/v1/projects/{project.public_id}"
    response = api.post(f"{base}/policies/", {"name": "Big", "kind": "single", "categories": ["critical"],
                                              "conditional_tiers": [{"when": [{"field": "amount", "operator": ">",
                                                                               "value": "lots"}], "approvals": 2}]},
                        format="json")
    assert response.status_code == 400 and "needs a number" in response.json()["detail"]
    response = api.post(f"{base}/grants/", {"effect": "allow", "principal_kind": "team", "team": "nope",
                                            "all_tools": True}, format="json")
    assert response.status_code == 400 and response.json()["detail"] == "No team 'nope' in this organization."
    response = api.put(f"{base}/environments/staging/tools/", {"tools": [{"operation_key": "GET /x",
                                                                          "enabled": True}]}, format="json")
    assert response.status_code == 400 and "Unknown tool" in response.json()["detail"]
    response = api.get(f"{base}/simulate/?user=nobody@x.test&tool=getPetById&environment=staging")
    assert response.status_code == 400 and "no such member" in response.json()["detail"]
    assert api.get(f"{base}/environments/nowhere/tools/").status_code == 404
    response = api.post(f"{base}/grants/", {"effect": "allow", "principal_kind": "role", "role": "member",
                                            "environment": "qa", "all_tools": True}, format="json")
    assert response.status_code == 400 and response.json() == {"detail": "No environment 'qa' in this project.",
                                                                "field": "environment"}

    client = client_for(people.admin)
    page = client.post(f"/o/acme/p/{project.slug}/governance/policies/new/", {
        "name": "Refund limits", "kind": "single", "order": "any", "expires_hours": "24", "all_tools": "on",
        "tier-0-rule-0-field": "amount", "tier-0-rule-0-operator": ">", "tier-0-rule-0-value": "lots",
        "tier-0-approvals": "2"})
    assert page.status_code == 200
    assert "Condition tier 1, rule 1: operator &gt; needs a number" in page.content.decode()
    # the rows typed are kept so the admin can fix them
    assert 'value="lots"' in page.content.decode()
    page = client.post(f"/o/acme/p/{project.slug}/governance/grants/", {"effect": "allow", "principal_kind": "team",
                                                                        "environment": "staging"})
    assert page.status_code == 200 and "Choose a team of this organization." in page.content.decode()


def test_policy_editor_round_trip_through_the_form(people, world, client_for):
    project = world["project"]
    client = client_for(people.admin)
    response = client.post(f"/o/acme/p/{project.slug}/governance/policies/new/", {
        "name": "Pet deletes", "kind": "multi", "approvals_required": "2", "order": "sequential",
        "expires_hours": "4", "justification_required": "on", "operation_keys": ["DELETE /pet/{petId}"],
        "step-0-kind": "team", "step-0-value": "support", "step-1-kind": "role", "step-1-value": "admin",
        "tier-0-rule-0-field": "petId", "tier-0-rule-0-operator": "in", "tier-0-rule-0-value": "[1, 2, 3]",
        "tier-0-rule-1-field": "reason", "tier-0-rule-1-operator": "exists", "tier-0-rule-1-value": "",
        "tier-0-approvals": "3", "tier-0-order": "any"})
    assert response.status_code == 302
    policy = project.approval_policies.get(name="Pet deletes")
    assert policy.steps == [{"kind": "team", "value": "support", "label": "Support"},
                            {"kind": "role", "value": "admin", "label": "admin"}]
    assert policy.tiers == [
        {"when": [{"field": "petId", "operator": "in", "value": [1, 2, 3]},
                  {"field": "reason", "operator": "exists"}], "approvals": 3, "order": "any"},
        {"approvals": 2, "order": "sequential"}]
    assert policy.justification_required and policy.expires_after.total_seconds() == 4 * 3600
    page = client.get(f"/o/acme/p/{project.slug}/governance/policies/{policy.public_id}/").content.decode()
    assert 'value="[1, 2, 3]"' in page and 'value="petId"' in page and 'value="support"' in page


def test_editor_keeps_rules_beyond_the_two_it_offers(people, world, client_for):
    project = world["project"]
    three = [{"field": "petId", "operator": ">", "value": 10}, {"field": "reason", "operator": "exists", "value": True},
             {"field": "status", "operator": "in", "value": ["sold", "gone"]}]
    policy = services.policy_create(project=project, actor=people.admin, name="API made", kind="single",
                                    tags=["pet"], conditional_tiers=[{"when": three, "approvals": 2}])
    client = client_for(people.admin)
    url = f"/o/acme/p/{project.slug}/governance/policies/{policy.public_id}/"
    html = client.get(url).content.decode()
    assert 'name="tier-0-rule-2-field" value="status"' in html
    # submit the form exactly as rendered (every input's current value) plus a rename
    import re
    from html import unescape

    inputs = re.findall(r'<input[^>]*name="(tier-[^"]+)"[^>]*value="([^"]*)"', html)
    data = {name: unescape(value) for name, value in inputs}
    data.update({name: unescape(op) for name, op in re.findall(
        r'<select[^>]*name="(tier-\d+-rule-\d+-operator)"[^>]*>(?:(?!</select>).)*?<option value="([^"]+)" selected>',
        html, flags=re.S)})
    data.update({"name": "API made, renamed", "kind": "single", "order": "any", "expires_hours": "24", "tags": "pet",
                 "tier-0-order": "any"})
    assert client.post(url, data).status_code == 302
    policy.refresh_from_db()
    assert policy.name == "API made, renamed"
    assert policy.tiers[0]["when"] == three


def test_a_pattern_re2_cannot_compile_is_refused_when_the_policy_is_saved(people, world, client_for, api_for):
    """``matches`` patterns are RE2: lookaround/backreferences are refused with RE2's message,
    nothing is written; an RE2 pattern is saved."""
    project = world["project"]
    before = project.approval_policies.count()
    base = f"/api/v1/projects/{project.public_id}"
    api = api_for(people.admin)
    response = api.post(f"{base}/policies/", {
        "name": "Wires", "kind": "single", "categories": ["critical"],
        "conditional_tiers": [{"when": [{"field": "note", "operator": "matches", "value": "(?=wire)"}],
                               "approvals": 2}]}, format="json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "invalid regular expression: invalid perl operator: (?=" in detail and "RE2 syntax" in detail
    page = client_for(people.admin).post(f"/o/acme/p/{project.slug}/governance/policies/new/", {
        "name": "Wires", "kind": "single", "order": "any", "expires_hours": "24", "all_tools": "on",
        "tier-0-rule-0-field": "note", "tier-0-rule-0-operator": "matches", "tier-0-rule-0-value": r"(a)\1",
        "tier-0-approvals": "2"})
    assert page.status_code == 200
    assert "invalid escape sequence: \\1" in page.content.decode()
    assert project.approval_policies.count() == before
    response = api.post(f"{base}/policies/", {
        "name": "Wires", "kind": "single", "categories": ["critical"],
        "conditional_tiers": [{"when": [{"field": "note", "operator": "matches", "value": r"(?i)\bwire\b|\p{Han}"}],
                               "approvals": 2}]}, format="json")
    assert response.status_code == 201, response.json()
    assert project.approval_policies.count() == before + 1
