"""mcpforge_approval_status answers only for requests of the endpoint's own organization and
environment, and only to a caller who may still see them; everyone else gets exactly the
answer for an id that does not exist. Driven through the official mcp client."""

from __future__ import annotations

import uuid

import pytest

from tests.gateway.conftest import audit_events, call, make_token
from tests.gateway.test_mcp_endpoint import _enable_and_guard

pytestmark = pytest.mark.django_db(transaction=True)

STATUS = "mcpforge_approval_status"


@pytest.fixture
def executed(world, eager_celery):
    """The admin's held deletePet call in Acme's development environment, approved and run."""
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    _enable_and_guard(world, operation_keys=["DELETE /pet/{petId}"])
    held = call(world.endpoint(), world.tokens["admin"], "deletePet", {"petId": 10})
    request_id = held.structured_content["mcpforge_approval"]["request_id"]
    request = ApprovalRequest.objects.get(public_id=request_id)
    approval_decide(request=request, reviewer=world.people.reviewer, decision="approve", comment="ok")
    request.refresh_from_db()
    assert request.status == "executed" and request.result["ok"] is True
    return request_id


@pytest.fixture
def org_b(world):
    """Evil Corp (the outsider's organization) with its own Petstore project; Acme's admin is
    also a member there and has a token made there."""
    from apps.accounts.models import Membership
    from tests.factories import import_spec, make_project

    org = world.people.other_org
    project = make_project(org, world.people.outsider, name="Shop")
    assert import_spec(project, "petstore-v3.yaml", world.people.outsider).status == "ready"
    Membership.objects.create(organization=org, user=world.people.admin, role="member")
    endpoint = f"{world.url}/mcp/{org.slug}/{project.slug}/development/"
    return {"org": org, "endpoint": endpoint, "token": make_token(world.people.admin, org, name="b")}


def not_found_text(endpoint: str, token: str) -> str:
    """The answer for an id that exists nowhere: the reference every refusal must equal."""
    result = call(endpoint, token, STATUS, {"request_id": str(uuid.uuid4())})
    assert result.is_error is True
    return result.content[0].text


def test_legitimate_requester_reads_the_result_audited_in_the_request_org(world, executed):
    result = call(world.endpoint(), world.tokens["admin"], STATUS, {"request_id": executed})
    assert result.is_error is False
    assert result.structured_content["status"] == "executed" and result.structured_content["result"]["ok"] is True
    (check,) = audit_events(world.people.org, "approval.status_checked")
    assert check.payload["status"] == "executed" and check.actor == world.people.admin


def test_other_orgs_endpoint_answers_not_found(world, executed, org_b):
    expected = not_found_text(org_b["endpoint"], org_b["token"])
    result = call(org_b["endpoint"], org_b["token"], STATUS, {"request_id": executed})
    assert result.is_error is True and result.content[0].text == expected
    assert result.structured_content is None or "result" not in (result.structured_content or {})
    assert "Prism" not in str(result) and '"ok"' not in result.content[0].text
    # the read attempt is B's event (an error), and A's log has no status check at all
    checks = audit_events(org_b["org"], "approval.status_checked")
    assert [c.payload["status"] for c in checks] == ["error", "error"]
    assert not audit_events(world.people.org, "approval.status_checked")


def test_requester_removed_from_the_org_gets_not_found_everywhere(world, executed, org_b):
    """The review's exact path: removed from Acme (her Acme token revoked), she asks through
    the other organization's endpoint."""
    from apps.accounts.models import Membership
    from apps.accounts.services import membership_remove

    membership_remove(membership=Membership.objects.get(organization=world.people.org, user=world.people.admin),
                      actor=world.people.owner, actor_role="owner")
    expected = not_found_text(org_b["endpoint"], org_b["token"])
    result = call(org_b["endpoint"], org_b["token"], STATUS, {"request_id": executed})
    assert result.is_error is True and result.content[0].text == expected
    assert not audit_events(world.people.org, "approval.status_checked")


def test_removed_requester_cannot_read_even_in_the_requests_own_scope(world, executed):
    """Defence in depth below the gateway: the selector itself requires a live membership."""
    from apps.accounts.models import Membership
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.selectors import NOT_FOUND, request_status_for
    from apps.core.errors import DomainError

    request = ApprovalRequest.objects.get(public_id=executed)
    scope = {"organization_id": request.organization_id, "environment_id": request.environment_id}
    assert request_status_for(world.people.admin, executed, **scope)["status"] == "executed"
    Membership.objects.filter(organization=world.people.org, user=world.people.admin).delete()
    with pytest.raises(DomainError) as refused:
        request_status_for(world.people.admin, executed, **scope)
    assert refused.value.message == NOT_FOUND


def test_other_environment_of_the_same_project_answers_not_found(world, executed):
    staging = world.endpoint(world.staging)
    expected = not_found_text(staging, world.tokens["admin"])
    result = call(staging, world.tokens["admin"], STATUS, {"request_id": executed})
    assert result.is_error is True and result.content[0].text == expected
    # a reviewer (who could decide it) is confined to the request's environment too
    reviewer_token = make_token(world.people.reviewer, world.people.org, name="rev")
    result = call(staging, reviewer_token, STATUS, {"request_id": executed})
    assert result.is_error is True and result.content[0].text == expected
    result = call(world.endpoint(), reviewer_token, STATUS, {"request_id": executed})
    assert result.is_error is False and result.structured_content["status"] == "executed"
