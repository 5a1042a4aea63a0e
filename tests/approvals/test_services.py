"""The approval state machine through its services: queue, decide, execute exactly once,
expire, tampering, multi-step eligibility, status for the MCP tool."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.approvals import selectors, services, tasks
from apps.approvals.models import ApprovalDecision, ApprovalRequest
from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, DomainError, PermissionDeniedError
from apps.governance.conditions import arguments_hash

from .conftest import ORDER_ARGS, queue_request, requirement

pytestmark = pytest.mark.django_db


def decide(request, reviewer, decision="approve", comment="ok"):
    return services.approval_decide(request=request, reviewer=reviewer, decision=decision, comment=comment)


def events_for(request) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=str(request.public_id)).order_by("seq")
                .values_list("event_type", flat=True))


def test_queued_request_stores_the_call_and_its_hash(world):
    request = queue_request(world)
    assert request.status == "pending"
    assert request.arguments == ORDER_ARGS
    assert request.arguments_sha256 == arguments_hash(ORDER_ARGS)
    assert request.tool_name == "placeOrder" and request.tool_risk_level == "medium"
    assert request.requester_label == "member@acme.test"
    assert request.policy_label == "Orders need approval"
    assert timedelta(hours=3, minutes=59) < request.expires_at - timezone.now() <= timedelta(hours=4)
    event = AuditEvent.objects.get(event_type="approval.requested", target_id=str(request.public_id))
    assert event.payload["arguments_sha256"] == request.arguments_sha256
    assert event.payload["arguments"]["petId"] == 42


def test_justification_required_is_enforced_with_a_clear_message(world):
    with pytest.raises(DomainError, match="justification"):
        queue_request(world, justification="  ", req=requirement(justification_required=True))
    assert not ApprovalRequest.objects.exists()


def test_policy_naming_a_missing_team_is_refused(world):
    with pytest.raises(DomainError, match="team"):
        queue_request(world, req=requirement(steps=[{"kind": "team", "value": "legal"}]))


def test_requester_cannot_approve_their_own_request(world, people):
    request = queue_request(world, requester=people.reviewer)
    with pytest.raises(PermissionDeniedError, match="another reviewer"):
        decide(request, people.reviewer)
    request.refresh_from_db()
    assert request.status == "pending" and not request.decisions.exists()


def test_member_cannot_decide(world, people):
    request = queue_request(world, requester=people.viewer)
    with pytest.raises(PermissionDeniedError):
        decide(request, people.member)


def test_approval_executes_stored_arguments_once_and_stores_result(world, people, upstream, eager_celery,
                                                                     django_capture_on_commit_callbacks):
    request = queue_request(world)
    with django_capture_on_commit_callbacks(execute=True):
        decide(request, people.reviewer, comment="Looks right")
    request.refresh_from_db()
    assert request.status == "executed", request.failure_reason
    assert upstream.count() == 1
    sent = upstream.requests[0]
    assert sent["method"] == "POST" and sent["path"] == "/store/order"
    assert sent["body"] and b'"petId":42' in sent["body"]
    assert request.result["ok"] is True and request.result["status"] == 200
    assert events_for(request) == ["approval.requested", "approval.decided", "approval.executed"]

    # a duplicate task delivery does nothing
    assert services.approval_execute(request_id=request.pk) is None
    assert upstream.count() == 1

    status = selectors.request_status_for(people.member, str(request.public_id))
    assert status["status"] == "executed"
    assert status["approvals"][0]["by"] == "reviewer@acme.test"
    assert status["approvals"][0]["comment"] == "Looks right"
    assert status["result"]["ok"] is True and status["result"]["structured"]["petId"] == 42
    assert set(status) >= {"request_id", "status", "tool", "environment", "created_at", "expires_at",
                           "approvals_required", "approvals", "rejection", "result"}


def test_approver_counts_once(world, people):
    request = queue_request(world, req=requirement(approvals=2, order="any"))
    decide(request, people.reviewer)
    with pytest.raises(Conflict, match="counts once"):
        decide(request, people.reviewer)
    request.refresh_from_db()
    assert request.status == "pending"
    assert request.decisions.count() == 1


def test_reject_needs_a_comment_and_stops_the_call(world, people, upstream):
    request = queue_request(world)
    with pytest.raises(DomainError, match="why"):
        decide(request, people.reviewer, "reject", "")
    decide(request, people.reviewer, "reject", "Wrong customer")
    request.refresh_from_db()
    assert request.status == "rejected"
    with pytest.raises(Conflict, match="already rejected"):
        decide(request, people.admin)
    status = selectors.request_status_for(people.member, str(request.public_id))
    assert status["status"] == "rejected"
    assert status["rejection"]["by"] == "reviewer@acme.test" and status["rejection"]["comment"] == "Wrong customer"
    assert status["result"] is None
    assert upstream.count() == 0


def test_expired_request_cannot_be_approved_and_is_audited(world, people, upstream):
    request = queue_request(world)
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert selectors.request_status_for(people.member, str(request.public_id))["status"] == "expired"
    with pytest.raises(Conflict, match="expired"):
        decide(request, people.reviewer)
    request.refresh_from_db()
    assert request.status == "expired"
    assert events_for(request) == ["approval.requested", "approval.expired"]
    assert not request.decisions.exists()
    assert upstream.count() == 0


def test_expiry_sweep_marks_overdue_requests(world, people):
    overdue = queue_request(world)
    fresh = queue_request(world)
    ApprovalRequest.objects.filter(pk=overdue.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert services.approval_expire_due() == 1
    assert services.approval_expire_due() == 0
    overdue.refresh_from_db()
    fresh.refresh_from_db()
    assert (overdue.status, fresh.status) == ("expired", "pending")
    assert events_for(overdue)[-1] == "approval.expired"


def test_expire_command_runs_the_sweep(world):
    from io import StringIO

    from django.core.management import call_command

    request = queue_request(world)
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("approvals_expire", stdout=out)
    assert "1 approval request(s) expired" in out.getvalue()
    request.refresh_from_db()
    assert request.status == "expired"


def _claimed_by_a_dead_worker(request, *, lease_left: timedelta) -> None:
    """The state a worker killed mid-call leaves: claimed ("executing"), lease running or over."""
    now = timezone.now()
    ApprovalRequest.objects.filter(pk=request.pk).update(
        status="executing", execution_started_at=now - services.execution_lease() + lease_left,
        execution_lease_until=now + lease_left)


def test_execution_whose_worker_vanished_is_failed_not_retried(world, people, upstream):
    request = queue_request(world)
    decide(request, people.reviewer)
    _claimed_by_a_dead_worker(request, lease_left=timedelta(seconds=-1))
    assert services.approval_recover_stalled()["failed"] == 1
    request.refresh_from_db()
    assert request.status == "failed" and request.failure_reason == services.WORKER_LOST_REASON
    assert "outcome unknown" in request.failure_reason
    assert services.approval_execute(request_id=request.pk) is None
    assert upstream.count() == 0
    events = AuditEvent.objects.filter(organization=people.org, event_type="approval.executed")
    assert [(e.actor_label, e.payload["outcome"]) for e in events] == [("system", "unknown")]


def test_claim_sets_the_execution_lease(world, people, upstream):
    request = queue_request(world)
    decide(request, people.reviewer)
    before = timezone.now()
    services.approval_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "executed" and upstream.count() == 1
    lease = request.execution_lease_until - request.execution_started_at
    assert lease == timedelta(seconds=settings.APPROVAL_EXECUTION_LEASE_SECONDS)
    assert request.execution_started_at >= before


def test_redelivered_task_of_a_dead_worker_fails_the_call_without_calling_again(world, people, upstream):
    request = queue_request(world)
    decide(request, people.reviewer)
    _claimed_by_a_dead_worker(request, lease_left=timedelta(seconds=-1))
    assert tasks.execute_approved_request(request.pk) == "failed"  # the redelivery, lease over
    request.refresh_from_db()
    assert request.status == "failed" and request.failure_reason == services.WORKER_LOST_REASON
    assert request.result["ok"] is False
    assert tasks.execute_approved_request(request.pk) == "skipped"  # a third delivery: nothing
    assert upstream.count() == 0
    assert services.approval_recover_stalled()["failed"] == 0
    assert AuditEvent.objects.filter(organization=people.org, event_type="approval.executed").count() == 1


def test_duplicate_delivery_while_the_lease_runs_does_nothing(world, people, upstream):
    request = queue_request(world)
    decide(request, people.reviewer)
    _claimed_by_a_dead_worker(request, lease_left=timedelta(minutes=1))  # maybe still running
    assert tasks.execute_approved_request(request.pk) == "skipped"
    assert services.approval_recover_stalled()["failed"] == 0
    request.refresh_from_db()
    assert request.status == "executing" and upstream.count() == 0
    assert not AuditEvent.objects.filter(organization=people.org, event_type="approval.executed").exists()


def test_lease_must_outlast_the_upstream_deadline_and_precede_redelivery():
    import subprocess
    import sys

    base = dict(os.environ, MCP_UPSTREAM_TIMEOUT_SECONDS="15")
    code = "import django; django.setup()"
    for extra, message in (({"APPROVAL_EXECUTION_LEASE_SECONDS": "16"}, "MCP_UPSTREAM_TIMEOUT_SECONDS + 5"),
                           ({"APPROVAL_EXECUTION_LEASE_SECONDS": "900", "CELERY_VISIBILITY_TIMEOUT_SECONDS": "600"},
                            "APPROVAL_EXECUTION_LEASE_SECONDS + 5")):
        done = subprocess.run([sys.executable, "-c", code], env={**base, **extra}, capture_output=True, text=True,
                              cwd=settings.BASE_DIR, timeout=60)
        assert done.returncode != 0 and message in done.stderr


def test_lost_execution_task_is_queued_again(world, people, upstream, eager_celery):
    request = queue_request(world)
    decide(request, people.reviewer)  # approved; its on_commit task never ran (test transaction)
    ApprovalRequest.objects.filter(pk=request.pk).update(decided_at=timezone.now() - timedelta(minutes=5))
    assert services.approval_recover_stalled()["requeued"] == 1
    request.refresh_from_db()
    assert request.status == "executed" and upstream.count() == 1
    assert services.approval_recover_stalled()["requeued"] == 0


def test_permission_revoked_while_waiting_stops_the_call(world, people, upstream):
    from apps.governance.services import tool_set_enabled

    request = queue_request(world)
    decide(request, people.reviewer)
    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["POST /store/order"],
                     enabled=False, actor=people.admin)
    done = services.approval_execute(request_id=request.pk)
    assert done.status == "failed" and "may no longer call placeOrder" in done.failure_reason
    assert upstream.count() == 0
    event = AuditEvent.objects.get(event_type="approval.executed", target_id=str(request.public_id))
    assert event.payload["ok"] is False and "may no longer call" in event.payload["failure"]


def test_revoked_token_stops_the_call(world, people, upstream):
    from apps.accounts.services import token_create, token_revoke
    from apps.approvals.services import approval_request_create

    token, _ = token_create(organization=people.org, user=people.member, name="agent")
    request = approval_request_create(tool=world.tool, environment=world.environment, requester=people.member,
                                      token=token, arguments=ORDER_ARGS, justification="", requirement=requirement())
    assert request.token_label.startswith("agent (mcpf_")
    decide(request, people.reviewer)
    token_revoke(token=token, actor=people.member)
    done = services.approval_execute(request_id=request.pk)
    assert done.status == "failed" and "revoked" in done.failure_reason
    assert upstream.count() == 0


def test_periodic_sweep_is_scheduled():
    from mcpforge.celery import app

    entry = app.conf.beat_schedule["approvals-sweep"]
    assert entry["task"] == "apps.approvals.tasks.sweep_approvals"
    assert entry["task"] in app.tasks


def _tamper(request, *, also_hash: bool = False):
    tampered = {**ORDER_ARGS, "quantity": 3000}
    from apps.governance.conditions import canonical_arguments

    with connection.cursor() as cursor:
        if also_hash:
            cursor.execute("UPDATE approvals_approvalrequest SET arguments_json = %s, arguments_sha256 = %s "
                           "WHERE id = %s", [canonical_arguments(tampered).decode(), arguments_hash(tampered),
                                             request.pk])
        else:
            cursor.execute("UPDATE approvals_approvalrequest SET arguments_json = %s WHERE id = %s",
                           [canonical_arguments(tampered).decode(), request.pk])


@pytest.mark.parametrize("also_hash", [False, True], ids=["arguments-only", "arguments-and-hash"])
def test_tampered_arguments_after_approval_are_refused_and_audited(world, people, upstream, also_hash):
    request = queue_request(world)
    decide(request, people.reviewer)  # approved; execution task not run (no on_commit here)
    request.refresh_from_db()
    assert request.status == "approved"
    _tamper(request, also_hash=also_hash)
    result = services.approval_execute(request_id=request.pk)
    assert result.status == "failed"
    assert upstream.count() == 0
    event = AuditEvent.objects.get(event_type="approval.execution_refused", target_id=str(request.public_id))
    assert event.payload["reason"] == "arguments_hash_mismatch" and event.payload["stage"] == "execution"
    assert event.payload["recorded_sha256"] == arguments_hash(ORDER_ARGS)
    status = selectors.request_status_for(people.member, str(request.public_id))
    assert status["status"] == "failed" and "no longer match" in status["result"]["text"]


def test_tampered_arguments_before_decision_cannot_be_approved(world, people, upstream):
    request = queue_request(world)
    _tamper(request)
    with pytest.raises(Conflict, match="no longer match"):
        decide(request, people.reviewer)
    request.refresh_from_db()
    assert request.status == "failed"
    assert events_for(request) == ["approval.requested", "approval.execution_refused"]


def test_sequential_steps_need_step_one_first(world, people, eager_celery, django_capture_on_commit_callbacks):
    req = requirement(approvals=2, order="sequential",
                      steps=[{"kind": "team", "value": "finance"}, {"kind": "role", "value": "admin"}])
    request = queue_request(world, req=req)
    assert request.steps[0] == {"kind": "team", "value": "finance", "label": "Finance"}
    # the admin qualifies for step 2 only, and step 2 waits for step 1
    with pytest.raises(PermissionDeniedError, match="Step 1 of 2 waits for team Finance"):
        decide(request, people.admin)
    decide(request, world.finance_reviewer, comment="Budget ok")
    status = selectors.request_status_for(people.member, str(request.public_id))
    assert status["status"] == "pending" and len(status["approvals"]) == 1
    assert "step 2 of 2" in status["message"] and "admin" in status["message"]
    # a plain reviewer is not an admin
    with pytest.raises(PermissionDeniedError, match="Step 2 of 2 waits for an admin or higher"):
        decide(request, people.reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        decide(request, people.owner)  # owner >= admin
    request.refresh_from_db()
    assert request.status == "executed"
    steps = sorted(request.decisions.values_list("step_index", "reviewer__email"))
    assert steps == [(0, "fin-reviewer@acme.test"), (1, "owner@acme.test")]


def test_any_order_lets_step_two_come_first(world, people):
    req = requirement(approvals=2, order="any",
                      steps=[{"kind": "team", "value": "finance"}, {"kind": "role", "value": "admin"}])
    request = queue_request(world, req=req)
    decide(request, people.admin)
    # the second approval must be Finance: a second admin-level approver does not fill step 1
    with pytest.raises(PermissionDeniedError):
        decide(request, people.owner)
    decide(request, world.finance_reviewer)
    request.refresh_from_db()
    assert request.status == "approved"


def test_team_membership_alone_does_not_make_a_reviewer(world, people):
    req = requirement(steps=[{"kind": "team", "value": "Finance"}])
    request = queue_request(world, req=req)
    with pytest.raises(PermissionDeniedError, match="reviewers"):
        decide(request, world.finance_member)  # in Finance, but role member
    with pytest.raises(PermissionDeniedError, match="team Finance"):
        decide(request, people.reviewer)  # reviewer, not in Finance
    decide(request, world.finance_reviewer)
    request.refresh_from_db()
    assert request.status == "approved"


def test_extra_approvals_beyond_named_steps_are_any_reviewer(world, people):
    req = requirement(approvals=3, order="sequential", steps=[{"kind": "role", "value": "admin"}])
    request = queue_request(world, req=req)
    assert request.approvals_required == 3
    decide(request, people.admin)
    decide(request, people.reviewer)
    request.refresh_from_db()
    assert request.status == "pending"
    decide(request, world.finance_reviewer)
    request.refresh_from_db()
    assert request.status == "approved"
    assert ApprovalDecision.objects.filter(request=request).count() == 3


def test_status_is_visible_to_requester_and_reviewers_only(world, people):
    request = queue_request(world)
    rid = str(request.public_id)
    assert selectors.request_status_for(people.member, rid)["status"] == "pending"
    assert selectors.request_status_for(people.reviewer, rid)["status"] == "pending"
    for user in (people.viewer, world.finance_member, people.outsider):
        with pytest.raises(DomainError, match="No approval request with that id"):
            selectors.request_status_for(user, rid)
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(DomainError, match="No approval request with that id"):
            selectors.request_status_for(people.member, bad)


def test_nav_count_is_one_query(world, people, django_assert_num_queries):
    mine = queue_request(world, requester=people.reviewer)
    queue_request(world)
    decided = queue_request(world, req=requirement(approvals=2, order="any"))
    decide(decided, people.reviewer)
    with django_assert_num_queries(1):
        count = selectors.nav_pending_count(people.reviewer, people.org.pk)
    assert count == 1  # not their own, not one they already approved
    assert mine.status == "pending"
    assert selectors.nav_pending_count(people.admin, people.org.pk) == 3


def test_upstream_error_is_stored_as_an_executed_call_with_ok_false(world, people, upstream):
    from apps.projects.models import Environment

    Environment.objects.filter(pk=world.environment.pk).update(base_url=upstream.url + "/missing-prefix")
    request = queue_request(world)
    decide(request, people.reviewer)
    done = services.approval_execute(request_id=request.pk)
    assert done.status == "executed"
    assert done.result["ok"] is True  # the recorder answers 200 to every path
    Environment.objects.filter(pk=world.environment.pk).update(base_url="http://127.0.0.1:9/")  # closed port
    request = queue_request(world)
    decide(request, people.reviewer)
    done = services.approval_execute(request_id=request.pk)
    assert done.status == "executed"
    assert done.result["ok"] is False and done.result["error"] == "unreachable"
    assert selectors.request_status_for(people.member, str(request.public_id))["result"]["ok"] is False
