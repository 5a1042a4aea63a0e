"""Reviewer pages and the REST API: what each role sees, 404 for outsiders, 403 for weak roles."""

from __future__ import annotations

import pytest

from apps.approvals.models import ApprovalRequest, WebhookSettings

from .conftest import ORDER_ARGS, queue_request, requirement

pytestmark = pytest.mark.django_db

USER_ARGS = {"username": "jdoe", "password": "hunter2-very-secret", "email": "jdoe@example.com"}


def page_urls(org_slug, request):
    base = f"/o/{org_slug}/approvals/"
    return {
        "queue": ("get", base),
        "badge": ("get", base + "badge/"),
        "detail": ("get", f"{base}{request.public_id}/"),
        "decide": ("post", f"{base}{request.public_id}/decide/"),
        "settings": ("get", base + "settings/"),
    }


def test_outsider_gets_404_on_every_page(world, people, client_for):
    request = queue_request(world)
    client = client_for(people.outsider)
    for name, (method, url) in page_urls("acme", request).items():
        response = getattr(client, method)(url, {"decision": "approve"} if method == "post" else None)
        assert response.status_code == 404, name
    request.refresh_from_db()
    assert request.status == "pending"


def test_outsider_cannot_reach_a_request_through_their_own_organization(world, people, client_for):
    request = queue_request(world)
    client = client_for(people.outsider)
    other = people.other_org.slug
    assert client.get(f"/o/{other}/approvals/{request.public_id}/").status_code == 404
    assert client.post(f"/o/{other}/approvals/{request.public_id}/decide/", {"decision": "approve"}).status_code == 404
    request.refresh_from_db()
    assert request.status == "pending"


def test_member_gets_403_on_reviewer_pages(world, people, client_for):
    request = queue_request(world, requester=people.viewer)
    client = client_for(people.member)
    for name, (method, url) in page_urls("acme", request).items():
        response = getattr(client, method)(url, {"decision": "approve"} if method == "post" else None)
        assert response.status_code == 403, name


def test_reviewer_gets_403_on_settings_and_admin_gets_200(world, people, client_for):
    assert client_for(people.reviewer).get("/o/acme/approvals/settings/").status_code == 403
    assert client_for(people.admin).get("/o/acme/approvals/settings/").status_code == 200


def test_requester_sees_their_own_request_but_cannot_decide(world, people, client_for):
    request = queue_request(world)
    client = client_for(people.member)
    response = client.get(f"/o/acme/approvals/{request.public_id}/")
    assert response.status_code == 200
    assert b'data-testid="approve"' not in response.content
    assert client.post(f"/o/acme/approvals/{request.public_id}/decide/", {"decision": "approve"}).status_code == 403


def test_queue_shows_what_the_reviewer_can_approve(world, people, client_for, django_assert_max_num_queries):
    queue_request(world)
    finance_only = queue_request(world, req=requirement(steps=[{"kind": "team", "value": "finance"}]))
    own = queue_request(world, requester=people.reviewer)
    client = client_for(people.reviewer)
    with django_assert_max_num_queries(14):
        response = client.get("/o/acme/approvals/")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('data-testid="approval-row"') == 1  # not Finance's, not their own
    assert str(finance_only.public_id) not in body and str(own.public_id) not in body
    assert "placeOrder" in body and "medium" in body and "Customer asked twice" in body
    # the badge counts open requests the reviewer neither made nor decided (one COUNT query)
    assert 'data-testid="nav-approvals-count">2<' in body

    assert "1 more open request waits for other teams or roles" in body

    everything = client.get("/o/acme/approvals/?scope=all").content.decode()
    assert everything.count('data-testid="approval-row"') == 3
    assert "waiting for team Finance" in everything


def test_queue_page_queries_do_not_grow_with_rows(world, people, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(people.admin)
    queue_request(world)
    with CaptureQueriesContext(connection) as few:
        client.get("/o/acme/approvals/?scope=all")
    for _ in range(12):
        queue_request(world, req=requirement(approvals=2, order="any"))
    with CaptureQueriesContext(connection) as many:
        response = client.get("/o/acme/approvals/?scope=all")
    assert response.content.decode().count('data-testid="approval-row"') == 13
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_queue_filters(world, people, client_for):
    queue_request(world)
    other = queue_request(world, arguments=USER_ARGS)
    ApprovalRequest.objects.filter(pk=other.pk).update(tool_name="createUser", tool_risk_level="high")
    client = client_for(people.admin)

    def rows(query):
        response = client.get("/o/acme/approvals/?" + query)
        assert response.status_code == 200
        return response.content.decode().count('data-testid="approval-row"')

    assert rows("scope=all") == 2
    assert rows("scope=all&risk=high") == 1
    assert rows("scope=all&tool=placeorder") == 1
    assert rows("scope=all&project=petstore&environment=production") == 2
    assert rows("scope=all&environment=staging") == 0
    assert rows("scope=all&status=rejected") == 0
    assert rows("scope=all&status=") == 2
    bad = client.get("/o/acme/approvals/?risk=extreme").content.decode()
    assert "Unknown risk level" in bad


def test_detail_masks_secrets_and_shows_justification_policy_and_progress(world, people, client_for):
    req = requirement(approvals=2, order="sequential", label="Admin changes: two approvals",
                      steps=[{"kind": "team", "value": "finance"}, {"kind": "role", "value": "admin"}])
    request = queue_request(world, arguments=USER_ARGS, req=req, justification="Onboarding jdoe")
    from apps.approvals.services import approval_decide

    approval_decide(request=request, reviewer=world.finance_reviewer, decision="approve", comment="Budget fine")
    body = client_for(people.admin).get(f"/o/acme/approvals/{request.public_id}/").content.decode()
    assert "hunter2-very-secret" not in body and "[REDACTED]" in body
    assert "jdoe@example.com" in body
    assert "Onboarding jdoe" in body and "Admin changes: two approvals" in body
    assert "Step 1 of 2 · team Finance" in body and "Approved by <strong>fin-reviewer@acme.test</strong>" in body
    assert "Waiting for an admin or higher" in body
    assert 'data-testid="approve"' in body


def test_approve_in_the_page_runs_the_call(world, people, client_for, upstream, eager_celery,
                                           django_capture_on_commit_callbacks):
    request = queue_request(world)
    client = client_for(people.reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/o/acme/approvals/{request.public_id}/decide/",
                               {"decision": "approve", "comment": "fine"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == "executed" and upstream.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert 'data-status="executed"' in page and "Approved and executed" in page


def test_refusals_are_shown_as_messages(world, people, client_for):
    request = queue_request(world)
    client = client_for(people.reviewer)
    response = client.post(f"/o/acme/approvals/{request.public_id}/decide/", {"decision": "reject"}, follow=True)
    assert "Say why you reject" in response.content.decode()
    request.refresh_from_db()
    assert request.status == "pending"


def test_badge_partial_counts_pending(world, people, client_for, django_assert_max_num_queries):
    queue_request(world)
    client = client_for(people.reviewer)
    with django_assert_max_num_queries(4):  # session, user, membership, count
        response = client.get("/o/acme/approvals/badge/")
    assert response.status_code == 200
    assert 'data-testid="nav-approvals-count">1<' in response.content.decode()


def test_settings_page_stores_secret_and_shows_it_once(world, people, client_for, settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    client = client_for(people.admin)
    response = client.post("/o/acme/approvals/settings/", {"url": receiver.url, "generate_secret": "on",
                                                           "enabled": "on", "email_reviewers": "on",
                                                           "action": "save"})
    assert response.status_code == 302  # POST/redirect/GET: a reload never rotates the secret again
    body = client.get(response["Location"]).content.decode()
    hook = WebhookSettings.objects.get(organization=people.org)
    assert 'data-testid="new-secret"' in body
    secret = body.split('data-testid="new-secret">')[1].split("<")[0]
    assert secret.startswith("whsec_") and len(secret) > 30
    page = client.get("/o/acme/approvals/settings/").content.decode()
    assert secret not in page and hook.secret_masked in page
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = client.post("/o/acme/approvals/settings/", {"url": "http://127.0.0.1:1/x", "enabled": "on",
                                                          "action": "save"}).content.decode()
    assert "private or loopback" in refused


# --------------------------------------------------------------------------- REST API


def api_urls(org_slug, request):
    return {
        "list": ("get", f"/api/v1/organizations/{org_slug}/approvals/"),
        "detail": ("get", f"/api/v1/approvals/{request.public_id}/"),
        "decide": ("post", f"/api/v1/approvals/{request.public_id}/decision/"),
    }


def test_api_outsider_404_everywhere(world, people, api_for):
    request = queue_request(world)
    client = api_for(people.outsider)
    for name, (method, url) in api_urls("acme", request).items():
        response = getattr(client, method)(url, {"decision": "approve"}, format="json") if method == "post" \
            else client.get(url)
        assert response.status_code == 404, name
        assert "detail" in response.json()


def test_api_member_403_on_others_requests(world, people, api_for):
    request = queue_request(world, requester=people.viewer)
    client = api_for(people.member)
    for name, (method, url) in api_urls("acme", request).items():
        response = getattr(client, method)(url, {"decision": "approve"}, format="json") if method == "post" \
            else client.get(url)
        assert response.status_code == 403, name


def test_api_requester_reads_own_status(world, people, api_for):
    request = queue_request(world)
    response = api_for(people.member).get(f"/api/v1/approvals/{request.public_id}/")
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["tool"] == "placeOrder"


def test_api_list_and_decide(world, people, api_for, upstream, eager_celery, django_capture_on_commit_callbacks):
    request = queue_request(world, arguments=USER_ARGS)
    client = api_for(people.reviewer)
    listing = client.get("/api/v1/organizations/acme/approvals/").json()
    assert listing["count"] == 1
    row = listing["results"][0]
    assert row["id"] == str(request.public_id) and row["can_approve"] is True
    assert row["arguments"]["password"] == "[REDACTED]"
    assert client.get("/api/v1/organizations/acme/approvals/?risk=nope").status_code == 400

    own = api_for(people.member).post(f"/api/v1/approvals/{request.public_id}/decision/",
                                      {"decision": "approve"}, format="json")
    assert own.status_code == 403
    bad = client.post(f"/api/v1/approvals/{request.public_id}/decision/", {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "detail" in bad.json()
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(f"/api/v1/approvals/{request.public_id}/decision/", {"decision": "approve"}, format="json")
    assert ok.status_code == 200
    again = api_for(people.admin).post(f"/api/v1/approvals/{request.public_id}/decision/",
                                       {"decision": "approve"}, format="json")
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_api_requester_cannot_approve_own_request_even_as_reviewer(world, people, api_for):
    request = queue_request(world, requester=people.reviewer)
    response = api_for(people.reviewer).post(f"/api/v1/approvals/{request.public_id}/decision/",
                                             {"decision": "approve"}, format="json")
    assert response.status_code == 403
    assert "another reviewer" in response.json()["detail"]


def test_project_page_panel_for_reviewers_only(world, people, client_for):
    queue_request(world)
    url = f"/o/acme/p/{world.project.slug}/"
    page = client_for(people.reviewer).get(url).content.decode()
    assert 'data-testid="approvals-panel"' in page and 'data-testid="approvals-pending">1<' in page
    assert 'data-testid="approvals-panel"' not in client_for(people.member).get(url).content.decode()


def test_detail_says_which_policy_condition_matched(world, people, client_for):
    """Issue 18 item 12: the reviewer reads why the call was held, in words."""
    from apps.governance.grants import Target, ToolRef
    from apps.governance.policies import PolicyRef, build_tiers
    from apps.governance.policies import requirement as policy_requirement

    tool = ToolRef(world.tool.operation_key, world.tool.category, frozenset(world.tool.tags or ()))
    large = [{"when": [{"field": "quantity", "operator": ">", "value": 2}], "approvals": 1, "order": "any"}]
    ref = PolicyRef(id="p", label="Large orders", target=Target.category(world.tool.category), kind="none",
                    approvals_required=0, tiers=tuple(build_tiers("none", 0, "any", large)))
    need = policy_requirement([ref], tool, world.environment.pk, ORDER_ARGS)
    request = queue_request(world, req=need)
    body = client_for(people.reviewer).get(f"/o/acme/approvals/{request.public_id}/").content.decode()
    shown = body.split('data-testid="matched-condition">')[1].split("<")[0]
    assert shown.startswith("“Large orders” applies because it covers the ")
    assert shown.endswith("category in every environment; the arguments matched quantity &gt; 2.")
    assert "side_effect" not in shown and "read_only" not in shown
