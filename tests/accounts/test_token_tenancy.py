"""A personal token works only in the organization it was created in.

Eve is owner of her own organization (B) and also a member of Acme (A). With a token made in
B, every REST endpoint under /api/v1/ that names one of A's objects answers 404, exactly as
for an outsider, whatever her role in A. The table is built by walking the URL resolver, so
a new endpoint that names an organization-scoped object fails here until it is covered.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, Membership
from apps.accounts.services import organization_create, token_create
from apps.audit.models import AuditEvent
from apps.governance.models import ToolSetting
from apps.governance.services import grant_create, policy_create, tool_set_enabled
from apps.inventory.selectors import current_tools
from apps.reports.services import report_request
from apps.toolsets.services import toolset_create
from tests.conftest import SPECS_DIR, make_user
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

# Endpoints that name no organization-scoped object: checked separately below.
NOT_ORG_SCOPED = {"schema/", "docs/", "me/", "organizations/", "projects/"}
WRITE_METHODS = ("post", "put", "patch", "delete")


def api_routes() -> list[tuple[str, type]]:
    """(route under /api/v1/, view class) for every REST endpoint, from the URL resolver."""
    (api,) = [p for p in get_resolver().url_patterns
              if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/"]
    out: list[tuple[str, type]] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append((prefix + str(p.pattern), p.callback.view_class))

    walk(api.url_patterns, "")
    return out


def methods_of(view_class) -> list[str]:
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]


@pytest.fixture
def tenancy(people):
    """Acme (A) with a project, spec, grant, policy, report and approval request; Eve, owner
    of Evil-B, with a token made there."""
    from tests.approvals.conftest import queue_request, requirement

    project = make_project(people.org, people.owner, name="Payments")
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    assert version.status == "ready", version.error
    grant = grant_create(project=project, actor=people.owner, effect="allow", principal_kind="role", role="member",
                         all_tools=True)
    policy = policy_create(project=project, actor=people.owner, name="Guard", kind="single",
                           operation_keys=["POST /store/order"])
    report = report_request(project=project, environment=None, actor=people.owner)
    toolset = toolset_create(project=project, actor=people.owner, slug="support", name="Support",
                             tool_names=["getPetById"])
    environment = project.environments.get(slug="production")
    tool = current_tools(project).get(operation_key="POST /store/order")

    class W:  # the attributes queue_request reads
        pass

    w = W()
    w.people, w.tool, w.environment = people, tool, environment
    approval = queue_request(w, requester=people.member, req=requirement())

    # a definition change waiting for review: GET /pet/{petId} pinned in production, then a
    # re-import that rewords it
    tool_set_enabled(project=project, environment=environment, operation_keys=["GET /pet/{petId}"], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    reworded = (SPECS_DIR / "petstore-v3.yaml").read_text().replace("Returns a single pet.", "Returns one pet.")
    assert import_spec(project, "petstore-v3.yaml", people.owner, data=reworded.encode()).status == "ready"
    review = ToolSetting.objects.get(environment=environment, operation_key="GET /pet/{petId}")
    assert review.pending_tool_id is not None

    from apps.accounts.models import Invitation
    from apps.accounts.services import invitation_create, team_create

    team = team_create(organization=people.org, name="Support", actor=people.owner)
    invitation_create(organization=people.org, email="new@acme.test", role="member", actor=people.owner,
                      actor_role="owner")
    invitation = Invitation.objects.get(organization=people.org, email="new@acme.test")
    member_ms = Membership.objects.get(organization=people.org, user=people.member)

    eve = make_user("eve@b.test")
    org_b = organization_create(name="Eve B", actor=eve)
    membership = Membership.objects.create(organization=people.org, user=eve, role="viewer")
    _, raw = token_create(organization=org_b, user=eve, name="b-token")
    values = {
        "org_slug": people.org.slug,
        "id": str(project.public_id),
        "env": "production",
        "scheme": "api_key",
        "grant_id": str(grant.public_id),
        "policy_id": str(policy.public_id),
        "name": tool.name,
        "number": str(version.number),
        "rid": str(report.public_id),
        "request_id": str(approval.public_id),
        "review_id": str(review.public_id),
        "member_id": str(member_ms.public_id),
        "invitation_id": str(invitation.public_id),
        "team_slug": team.slug,
        "toolset": toolset.slug,
    }
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return {"project": project, "eve": eve, "membership": membership, "org_b": org_b, "values": values,
            "client": client, "raw": raw}


def concrete(route: str, values: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        assert name in values, f"/api/v1/{route}: no test value for <{name}>; cover this endpoint in {__file__}"
        return values[name]

    return "/api/v1/" + re.sub(r"<([^>]+)>", fill, route)


def org_scoped_requests(values) -> list[tuple[str, str]]:
    rows = []
    for route, view_class in api_routes():
        if route in NOT_ORG_SCOPED:
            continue
        assert "<" in route, f"/api/v1/{route} names no object; add it to NOT_ORG_SCOPED with its own check"
        url = concrete(route, values)
        rows.extend((method, url) for method in methods_of(view_class))
    return rows


def test_the_table_covers_every_endpoint(tenancy):
    rows = org_scoped_requests(tenancy["values"])
    urls = {url for _, url in rows}
    # the three the security review reproduced, and at least one write of every app
    project = tenancy["values"]["id"]
    assert f"/api/v1/projects/{project}/" in urls
    assert f"/api/v1/projects/{project}/environments/production/credentials/" in urls
    assert f"/api/v1/projects/{project}/reports/" in urls
    assert len(rows) >= 40, len(rows)
    assert {route for route, _ in api_routes()} >= NOT_ORG_SCOPED


@pytest.mark.parametrize("role_in_a", ["viewer", "owner"])
def test_token_of_another_org_gets_404_on_every_endpoint(tenancy, role_in_a):
    Membership.objects.filter(pk=tenancy["membership"].pk).update(role=role_in_a)
    client = tenancy["client"]
    before = AuditEvent.objects.filter(organization=tenancy["project"].organization).count()
    failures = []
    for method, url in org_scoped_requests(tenancy["values"]):
        data = {"organization": tenancy["values"]["org_slug"], "name": "x", "decision": "approve"} \
            if method in WRITE_METHODS else None
        response = getattr(client, method)(url, data, format="json") if data else client.get(url)
        if response.status_code != 404 or "detail" not in response.json():
            failures.append((method, url, response.status_code))
    assert failures == []
    # nothing was written in A (every write is audited there)
    assert AuditEvent.objects.filter(organization=tenancy["project"].organization).count() == before


def test_same_user_with_a_token_of_that_org_is_let_in(tenancy):
    """Control: the URLs of the table are real. Eve's token made in A reads all of them."""
    eve = tenancy["eve"]
    Membership.objects.filter(pk=tenancy["membership"].pk).update(role="owner")
    _, raw = token_create(organization=tenancy["project"].organization, user=eve, name="a-token")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    statuses = {url: client.get(url).status_code for method, url in org_scoped_requests(tenancy["values"])
                if method == "get"}
    assert all(code != 404 for code in statuses.values()), statuses


def test_lists_and_create_without_an_object_in_the_url(tenancy, people):
    client = tenancy["client"]
    Membership.objects.filter(pk=tenancy["membership"].pk).update(role="owner")
    projects = client.get("/api/v1/projects/").json()
    assert str(tenancy["project"].public_id) not in str(projects)
    orgs = client.get("/api/v1/organizations/").json()
    assert [o["slug"] for o in orgs["results"]] == [tenancy["org_b"].slug]
    r = client.post("/api/v1/projects/", {"organization": people.org.slug, "name": "Sneaky"}, format="json")
    assert r.status_code == 404 and r.json()["detail"]
    assert not people.org.projects.filter(name="Sneaky").exists()
    # the token still works in its own organization
    r = client.post("/api/v1/projects/", {"organization": tenancy["org_b"].slug, "name": "Mine"}, format="json")
    assert r.status_code == 201
    me = client.get("/api/v1/me/").json()
    assert me["token"]["name"] == "b-token"


def test_the_browser_session_is_not_bound(tenancy, client_for, people):
    """Scoping is the token's: the same user's browser session sees both organizations."""
    page = client_for(tenancy["eve"]).get(f"/api/v1/projects/{tenancy['project'].public_id}/")
    assert page.status_code == 200


def test_org_admins_see_only_tokens_of_their_org(tenancy, client_for, people):
    """A's pages never list B's token: not A's members page, not Eve's tokens page in A."""
    Membership.objects.filter(pk=tenancy["membership"].pk).update(role="member")
    b_token = ApiToken.objects.get(organization=tenancy["org_b"], user=tenancy["eve"])
    page = client_for(tenancy["eve"]).get(f"/o/{people.org.slug}/tokens/").content.decode()
    assert b_token.prefix not in page and "b-token" not in page
    page = client_for(people.admin).get(f"/o/{people.org.slug}/members/").content.decode()
    assert b_token.prefix not in page
