"""Actions that used to leave no audit row: exports of the audit log, a reviewer approving
their own request, a member overwriting production credentials, and refused writes in
general (403 on a write, pages and REST). Refusal rows survive the refused action."""

from __future__ import annotations

import pytest

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.credentials.models import Credential
from tests.approvals.conftest import queue_request, upstream  # noqa: F401 - fixture
from tests.gateway.conftest import gateway_server  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def events(org, event_type):
    return list(AuditEvent.objects.filter(organization=org, event_type=event_type).order_by("seq"))


# --------------------------------------------------------------------------- exports


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_every_page_export_is_audited_before_it_streams(people, client_for, fmt):
    response = client_for(people.admin).get(f"/o/{people.org.slug}/audit/export.{fmt}", {"actor": "owner@acme.test"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    (exported,) = events(people.org, "audit.exported")
    assert exported.actor == people.admin
    assert exported.payload == {"format": fmt, "channel": "page", "filters": {"actor": "owner@acme.test"}}
    assert "organization.created" in body


def test_rest_reads_of_the_audit_log_are_audited(people, api_for):
    response = api_for(people.reviewer).get(f"/api/v1/organizations/{people.org.slug}/audit-events/",
                                            {"limit": "10", "offset": "0", "event_type": "organization.created"})
    assert response.status_code == 200 and response.json()["count"] == 1
    (exported,) = events(people.org, "audit.exported")
    assert exported.actor == people.reviewer
    assert exported.payload == {"format": "json", "channel": "api", "limit": 10, "offset": 0,
                                "filters": {"event_type": "organization.created"}}


def test_refused_export_writes_no_export_row_but_a_refusal_is_not_a_write(people, client_for):
    """A reviewer may read but not export: 403 on a GET, and no export happened."""
    response = client_for(people.reviewer).get(f"/o/{people.org.slug}/audit/export.csv")
    assert response.status_code == 403
    assert events(people.org, "audit.exported") == []


# --------------------------------------------------------------------------- self-approval


@pytest.fixture
def own_request(people, upstream):  # noqa: F811 - the imported fixture
    """A pending request that the reviewer made themselves."""
    from tests.approvals.conftest import build_world

    world = build_world(people, upstream.url)
    return queue_request(world, requester=people.reviewer)


def test_reviewer_approving_own_request_via_rest_is_refused_and_audited(people, api_for, own_request):
    url = f"/api/v1/approvals/{own_request.public_id}/decision/"
    response = api_for(people.reviewer).post(url, {"decision": "approve"}, format="json")
    assert response.status_code == 403 and "another reviewer" in response.json()["detail"]
    (refused,) = events(people.org, "approval.decision_refused")
    assert refused.actor == people.reviewer and refused.target_id == str(own_request.public_id)
    assert refused.payload["reason"] == "own_request" and refused.payload["decision"] == "approve"
    assert events(people.org, "access.refused") == []  # one refusal, one row
    own_request.refresh_from_db()
    assert own_request.status == ApprovalRequest.Status.PENDING and not own_request.decisions.exists()


def test_reviewer_approving_own_request_via_page_is_refused_and_audited(people, client_for, own_request):
    url = f"/o/{people.org.slug}/approvals/{own_request.public_id}/decide/"
    response = client_for(people.reviewer).post(url, {"decision": "approve", "comment": ""}, follow=True)
    assert "another reviewer has to decide it" in response.content.decode()
    (refused,) = events(people.org, "approval.decision_refused")
    assert refused.payload["reason"] == "own_request"
    assert not own_request.decisions.exists()


def test_step_refusal_row_survives_the_rolled_back_decision(people, own_request):
    """The refusal raised inside the decision's savepoint rolls the decision back, not its row."""
    from apps.approvals.services import approval_decide
    from apps.core.errors import PermissionDeniedError
    from tests.approvals.conftest import requirement

    ApprovalRequest.objects.filter(pk=own_request.pk).update(
        requester=people.member, steps=requirement(steps=[{"kind": "role", "value": "owner"}]).steps)
    with pytest.raises(PermissionDeniedError):
        approval_decide(request=own_request, reviewer=people.reviewer, decision="approve", comment="")
    (refused,) = events(people.org, "approval.decision_refused")
    assert refused.payload["reason"] == "not_an_approver_of_this_step"
    assert not own_request.decisions.exists()


# --------------------------------------------------------------------------- credentials


@pytest.fixture
def petstore(people):
    from tests.factories import import_spec, make_project

    project = make_project(people.org, people.owner, name="Petstore")
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


def test_member_overwriting_production_credentials_is_refused_and_audited(people, api_for, client_for, petstore):
    url = f"/api/v1/projects/{petstore.public_id}/environments/production/credentials/api_key/"
    response = api_for(people.member).put(url, {"values": {"value": "attacker-key"}}, format="json")
    assert response.status_code == 403
    (refused,) = events(people.org, "access.refused")
    assert refused.actor == people.member
    assert refused.payload["capability"] == "credentials.manage" and refused.payload["role"] == "member"
    assert refused.payload["method"] == "PUT" and "/environments/production/credentials/api_key/" in \
        refused.payload["path"]
    assert "does not allow" in refused.payload["reason"]
    assert not Credential.objects.filter(environment__project=petstore).exists()
    # the page form too
    from django.urls import reverse

    page = reverse("credentials:set", args=[people.org.slug, petstore.slug, "production", "api_key"])
    response = client_for(people.member).post(page, {"value": "attacker-key"})
    assert response.status_code == 403
    assert len(events(people.org, "access.refused")) == 2
    assert not Credential.objects.filter(environment__project=petstore).exists()


# --------------------------------------------------------------------------- refused writes in general


def test_every_refused_rest_write_is_audited_once(people, api_for, petstore):
    """Every write endpoint of the REST API that refuses the viewer (403) leaves exactly one
    access.refused row naming the path; outsiders (404) leave none in Acme's log."""
    from tests.accounts.test_token_tenancy import WRITE_METHODS, concrete, methods_of
    from tests.accounts.test_token_tenancy import api_routes as routes

    grant = petstore.grants.first()
    values = {"org_slug": people.org.slug, "id": str(petstore.public_id), "env": "production",
              "scheme": "api_key", "name": "getPetById", "number": "1",
              "grant_id": str(grant.public_id) if grant else "00000000-0000-0000-0000-000000000000",
              "policy_id": "00000000-0000-0000-0000-000000000000", "rid": "00000000-0000-0000-0000-000000000000",
              "request_id": "00000000-0000-0000-0000-000000000000",
              "review_id": "00000000-0000-0000-0000-000000000000",
              "member_id": "00000000-0000-0000-0000-000000000000",
              "invitation_id": "00000000-0000-0000-0000-000000000000", "team_slug": "support",
              "toolset": "support"}
    viewer = api_for(people.viewer)
    refused = 0
    for route, view in routes():
        if "<" not in route and route != "projects/":
            continue
        url = concrete(route, values)
        for method in methods_of(view):
            if method not in WRITE_METHODS:
                continue
            before = AuditEvent.objects.filter(organization=people.org, event_type="access.refused").count()
            body = {"organization": people.org.slug, "name": "x"}
            response = getattr(viewer, method)(url, body, format="json")
            rows = AuditEvent.objects.filter(organization=people.org, event_type="access.refused").count() - before
            if response.status_code == 403:
                refused += 1
                assert rows == 1, (method, url)
                row = AuditEvent.objects.filter(event_type="access.refused").latest("seq")
                assert row.payload["path"] == url and row.actor == people.viewer
            else:
                assert rows == 0, (method, url, response.status_code)
    assert refused >= 15, refused
    outsider = api_for(people.outsider)
    before = AuditEvent.objects.filter(organization=people.org).count()
    assert outsider.post(f"/api/v1/projects/{petstore.public_id}/grants/", {}, format="json").status_code == 404
    assert AuditEvent.objects.filter(organization=people.org).count() == before


def test_refused_page_writes_are_audited(people, client_for, petstore):
    from tests.accounts.test_access import RANK, page_urls

    objects = {"team": None, "project": petstore}
    from apps.accounts.models import Invitation, Membership
    from apps.accounts.services import invitation_create, team_create

    objects["team"] = team_create(organization=people.org, name="Support", actor=people.owner)
    invitation_create(organization=people.org, email="n@acme.test", role="member", actor=people.owner,
                      actor_role="owner")
    objects["invitation"] = Invitation.objects.get(organization=people.org)
    objects["member_ms"] = Membership.objects.get(organization=people.org, user=people.member)
    objects["viewer_ms"] = Membership.objects.get(organization=people.org, user=people.viewer)
    checked = 0
    for method, url, data, minimum in page_urls(people, objects):
        if method != "post":
            continue
        for role in RANK[: RANK.index(minimum)]:
            before = AuditEvent.objects.filter(organization=people.org, event_type="access.refused").count()
            response = client_for(people.by_role(role)).post(url, data or {})
            assert response.status_code == 403
            rows = list(AuditEvent.objects.filter(organization=people.org, event_type="access.refused")
                        .order_by("seq"))[before:]
            assert len(rows) == 1 and rows[0].payload["path"] == url.split("?")[0], (role, url)
            assert rows[0].payload["role"] == role
            checked += 1
    assert checked >= 10
    # an admin trying to remove the owner: the service's refusal is audited too
    owner_ms = Membership.objects.get(organization=people.org, user=people.owner)
    r = client_for(people.admin).post(f"/o/{people.org.slug}/members/{owner_ms.public_id}/remove/")
    assert r.status_code == 403
    row = AuditEvent.objects.filter(organization=people.org, event_type="access.refused").latest("seq")
    assert row.actor == people.admin and "owner" in row.payload["reason"]


@pytest.mark.django_db(transaction=True)
def test_refusal_rows_are_committed(people, api_for, petstore):
    """In a real transaction: the refused write rolls back, its audit row is committed."""
    from django.db import connections

    url = f"/api/v1/projects/{petstore.public_id}/grants/"
    assert api_for(people.member).post(url, {"effect": "allow"}, format="json").status_code == 403
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {AuditEvent._meta.db_table} "  # noqa: S608
                       "WHERE event_type = 'access.refused'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_refusals_are_audited_under_the_asgi_server(people, gateway_server):  # noqa: F811 - imported fixture
    """The production stack (uvicorn + mcpforge.asgi): the middleware's notes survive Django's
    sync/async hops, so a refused REST write is still audited."""
    import httpx

    from apps.accounts.services import token_create
    from tests.factories import make_project

    project = make_project(people.org, people.owner, name="Asgi")
    _, raw = token_create(organization=people.org, user=people.viewer, name="asgi")
    response = httpx.post(f"{gateway_server}/api/v1/projects/{project.public_id}/grants/", json={"effect": "allow"},
                          headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    assert response.status_code == 403
    (row,) = events(people.org, "access.refused")
    assert row.actor == people.viewer and row.payload["capability"] == "governance.manage"
    assert row.request_id == response.headers["X-Request-ID"]
