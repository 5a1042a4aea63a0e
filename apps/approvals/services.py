"""Every write of the approval queue: queue a held call, decide it, execute it exactly once,
expire it. The organization's webhook (settings, signing secret, delivery) is in
``webhook_services``; its delivery rows are queued here, in the transaction of the change.

State changes are conditional UPDATEs (``filter(pk=..., status=old).update(...)``) whose row
count is checked, or happen under ``select_for_update`` of the request row, so concurrent
reviewers and duplicate Celery deliveries cannot approve or execute a request twice.
Audit events are written inside the same transaction as the change they describe.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.models import Membership, Team
from apps.audit import refusals
from apps.audit.models import AuditEvent
from apps.audit.redact import redact
from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import Conflict, DomainError, PermissionDeniedError
from apps.governance.conditions import arguments_hash, canonical_arguments

from . import steps as stepmod
from .models import ApprovalDecision, ApprovalRequest, WebhookDelivery, WebhookSettings

logger = logging.getLogger(__name__)

Status = ApprovalRequest.Status

DEFAULT_EXPIRY = timedelta(hours=24)
MAX_EXPIRY = timedelta(days=30)
MAX_JUSTIFICATION = 4000
MAX_COMMENT = 4000
MAX_ARGUMENTS_BYTES = 512 * 1024
# An execution still "executing" when its lease (settings.APPROVAL_EXECUTION_LEASE_SECONDS from
# the claim) is over lost its worker mid-call; its outcome is unknown and it is never retried
# automatically (exactly once beats at least once here).
WORKER_LOST_REASON = ("Worker lost during execution; outcome unknown. The worker running this call stopped "
                      "before it recorded the upstream's answer, so the call may or may not have reached the "
                      "upstream. It is never run again automatically: check the upstream system before "
                      "requesting the call again.")
# An approved request whose execution has not started after this long lost its task.
REQUEUE_APPROVED_AFTER = timedelta(minutes=2)

TAMPERED_MESSAGE = ("The stored arguments no longer match the hash recorded when the call was queued; "
                    "the call was refused.")


# --------------------------------------------------------------------------- helpers


def _requirement_data(requirement: Any) -> dict[str, Any]:
    """The governance Requirement as a plain dict (dataclass, mapping or attribute object)."""
    if requirement is None:
        raise DomainError("This call needs approval but no approval requirement was given.")
    if dataclasses.is_dataclass(requirement) and not isinstance(requirement, type):
        return {f.name: getattr(requirement, f.name) for f in dataclasses.fields(requirement)}
    if isinstance(requirement, Mapping):
        return dict(requirement)
    names = ("approvals_required", "steps", "order", "expires_after", "justification_required",
             "policy", "policy_id", "policy_name", "policy_label")
    return {name: getattr(requirement, name) for name in names if hasattr(requirement, name)}


def _expires_after(value: Any) -> timedelta:
    if value in (None, "", 0):
        return DEFAULT_EXPIRY
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    else:
        raise DomainError(f"The approval policy has an invalid expiry ({value!r}).")
    if delta <= timedelta(0):
        raise DomainError("The approval policy's expiry must be positive.")
    return min(delta, MAX_EXPIRY)


def _policy_label(data: Mapping[str, Any]) -> str:
    for key in ("policy_label", "policy_name"):
        if data.get(key):
            return str(data[key])[:200]
    policy = data.get("policy")
    if policy is not None:
        return str(getattr(policy, "name", policy))[:200]
    return ""


def _json_safe(value: Any) -> Any:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(getattr(value, "public_id", None) or getattr(value, "name", None) or value)


def _team_keys(team: Team) -> set[str]:
    return {str(team.pk), str(team.public_id), team.slug.lower(), team.name.lower()}


def _resolve_step_labels(organization, steps: list[stepmod.Step]) -> list[stepmod.Step]:
    """Give team steps the team's display name; a team that does not exist is a policy error
    worth refusing loudly (nobody could ever approve the request)."""
    team_values = [s.value for s in steps if s.kind == stepmod.StepKind.TEAM]
    if not team_values:
        return steps
    teams = list(Team.objects.filter(organization=organization))
    out: list[stepmod.Step] = []
    for step in steps:
        if step.kind != stepmod.StepKind.TEAM:
            out.append(step)
            continue
        team = next((t for t in teams if step.value.lower() in _team_keys(t)), None)
        if team is None:
            raise DomainError(f"The approval policy names a team ({step.value}) that does not exist, "
                              "so nobody could approve this call. Ask an admin to fix the policy.")
        out.append(stepmod.Step(kind=step.kind, value=team.slug, label=team.name))
    return out


def approver_for(organization, user) -> stepmod.Approver | None:
    """The user as an approver (role and team keys) in this organization, or None if not a member."""
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is None:
        return None
    keys: set[str] = set()
    for team in Team.objects.filter(organization=organization, members=user):
        keys |= _team_keys(team)
    return stepmod.Approver(user_id=str(user.pk), role=membership.role, teams=frozenset(keys),
                            label=actor_label_for(user))


def request_steps(request: ApprovalRequest) -> list[stepmod.Step]:
    return [stepmod.Step(kind=stepmod.StepKind(s["kind"]), value=s.get("value", ""), label=s.get("label", ""))
            for s in request.steps]


def decision_approver(decision: ApprovalDecision) -> stepmod.Approver:
    return stepmod.Approver(user_id=str(decision.reviewer_id or f"deleted-{decision.pk}"),
                            role=decision.reviewer_role, teams=frozenset(decision.reviewer_teams),
                            label=decision.reviewer_label)


def request_plan(request: ApprovalRequest, decisions: list[ApprovalDecision] | None = None) -> stepmod.Plan:
    if decisions is None:
        decisions = list(request.decisions.all())
    approvers = [decision_approver(d) for d in decisions if d.decision == ApprovalDecision.Decision.APPROVE]
    return stepmod.plan(request_steps(request), request.order, approvers)


def _recorded_hash(request: ApprovalRequest) -> str | None:
    """The hash written to the append-only, hash-chained audit log when the call was queued.
    Checking against it too means rewriting both the arguments and the hash column of the
    request row is still caught."""
    event = (AuditEvent.objects.filter(organization_id=request.organization_id, event_type="approval.requested",
                                       target_id=str(request.public_id))
             .values_list("payload", flat=True).first())
    if not event:
        return None
    return event.get("arguments_sha256")


def arguments_intact(request: ApprovalRequest) -> bool:
    """Stored arguments still hash to the value recorded at creation (row and audit log)."""
    try:
        current = arguments_hash(json.loads(request.arguments_json))
    except (ValueError, TypeError):
        return False
    return current == request.arguments_sha256 and current == _recorded_hash(request)


def _request_summary(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "request_id": str(request.public_id),
        "tool": request.tool_name,
        "operation": request.operation_key,
        "environment": request.environment.slug,
        "project": request.project.slug,
        "status": request.status,
    }


# --------------------------------------------------------------------------- notifications


def _queue_notifications(request: ApprovalRequest, event: str) -> None:
    """Inside the caller's transaction: write the webhook delivery row (outbox) and queue the
    email and delivery tasks for after commit, so nothing is sent for a rolled-back change."""
    from . import notifications, tasks

    hook = WebhookSettings.objects.filter(organization_id=request.organization_id).first()
    delivery = None
    if hook is not None and hook.active:
        delivery = WebhookDelivery.objects.create(
            organization_id=request.organization_id, request=request, event=event, url=hook.url,
            payload=notifications.webhook_payload(request, event),
        )
    request_id = request.pk
    # robust: a broker outage must not turn a committed change into an error for the caller;
    # the delivery row stays pending and the sweep re-queues it.
    transaction.on_commit(lambda: tasks.send_approval_emails.delay(request_id, event), robust=True)
    if delivery is not None:
        delivery_id = delivery.pk
        transaction.on_commit(lambda: tasks.deliver_webhook.delay(delivery_id), robust=True)


# --------------------------------------------------------------------------- create


@transaction.atomic
def approval_request_create(*, tool, environment, requester, token, arguments: dict, justification: str,
                            requirement, toolset: str = "") -> ApprovalRequest:
    """Store a call a policy holds for approval and notify reviewers.

    ``requirement`` is apps.governance's Requirement (approvals_required, steps, order,
    expires_after, justification_required); it is snapshotted so later policy edits do not
    change what this request needs. Raises DomainError with a message the gateway returns
    to the agent (missing justification, malformed arguments, impossible policy). ``toolset``:
    the slug of the toolset endpoint the call came through, recorded in the audit event.
    """
    if tool.project_id != environment.project_id:
        raise DomainError("The tool does not belong to this environment's project.")
    organization = environment.organization
    if not Membership.objects.filter(organization=organization, user=requester).exists():
        raise PermissionDeniedError("Only members of the organization can request approval.")
    if not isinstance(arguments, dict):
        raise DomainError("Tool arguments must be a JSON object.")
    try:
        canonical = canonical_arguments(arguments).decode("utf-8")
    except (TypeError, ValueError) as exc:
        raise DomainError(f"The arguments cannot be stored for approval: {exc}") from exc
    if len(canonical) > MAX_ARGUMENTS_BYTES:
        raise DomainError(f"The arguments are too large to queue for approval (over {MAX_ARGUMENTS_BYTES} bytes).")

    data = _requirement_data(requirement)
    justification = (justification or "").strip()
    if data.get("justification_required") and not justification:
        raise DomainError(
            f"Calling {tool.name} in {environment.name} needs human approval and a justification. "
            "Call it again with a 'justification' that explains why this call is needed.",
            field="justification",
        )
    if len(justification) > MAX_JUSTIFICATION:
        raise DomainError(f"The justification is too long (at most {MAX_JUSTIFICATION} characters).",
                          field="justification")
    try:
        required = int(data.get("approvals_required") or 1)
        order = str(data.get("order") or "sequential").lower()
        stepmod.Order(order)
        steps = stepmod.normalise_steps(data.get("steps") or [], required)
    except ValueError as exc:
        raise DomainError(f"The approval policy is invalid: {exc}.") from exc
    steps = _resolve_step_labels(organization, steps)
    now = timezone.now()
    expires_at = now + _expires_after(data.get("expires_after"))

    request = ApprovalRequest.objects.create(
        organization=organization, project=environment.project, environment=environment,
        tool=tool, tool_name=tool.name, operation_key=tool.operation_key,
        tool_risk_level=tool.risk_level or "", tool_category=tool.category or "",
        requester=requester, requester_label=actor_label_for(requester)[:200],
        token=token, token_label=(f"{token.name} ({token.prefix}…)" if token is not None else "")[:120],
        arguments_json=canonical, arguments_sha256=arguments_hash(arguments), justification=justification,
        policy_label=_policy_label(data), approvals_required=len(steps),
        steps=[s.as_dict() for s in steps], order=order, requirement=_json_safe(data),
        expires_at=expires_at,
    )
    audit_record(
        organization=organization, event_type="approval.requested", actor=requester, target=request,
        target_label=f"{tool.name} in {environment}",
        payload={**_request_summary(request), "arguments": arguments, "arguments_sha256": request.arguments_sha256,
                 "justification": justification, "policy": request.policy_label,
                 "approvals_required": request.approvals_required, "steps": request.steps, "order": order,
                 "expires_at": expires_at.isoformat(),
                 "token_prefix": token.prefix if token is not None else None,
                 **({"toolset": toolset} if toolset else {})},
    )
    _queue_notifications(request, "approval.requested")
    return request


# --------------------------------------------------------------------------- expiry


def _expire_locked(request: ApprovalRequest, *, now) -> bool:
    """pending -> expired for a row the caller may have locked; audits. True if it changed."""
    changed = ApprovalRequest.objects.filter(pk=request.pk, status=Status.PENDING, expires_at__lte=now).update(
        status=Status.EXPIRED, decided_at=now, updated_at=now)
    if not changed:
        return False
    request.status, request.decided_at = Status.EXPIRED, now
    audit_record(organization=request.organization, event_type="approval.expired", actor=None,
                 actor_label="system", target=request, target_label=f"{request.tool_name} in {request.environment}",
                 payload={**_request_summary(request), "expired_at": request.expires_at.isoformat()})
    _queue_notifications(request, "approval.expired")
    return True


def execution_lease() -> timedelta:
    return timedelta(seconds=settings.APPROVAL_EXECUTION_LEASE_SECONDS)


def _fail_stuck_locked(request: ApprovalRequest, *, now) -> bool:
    """executing -> failed ("outcome unknown") for a row whose lease is over; audits. The
    caller holds the row lock (or relies on this conditional UPDATE). True if it changed."""
    changed = ApprovalRequest.objects.filter(
        pk=request.pk, status=Status.EXECUTING, execution_lease_until__lte=now,
    ).update(status=Status.FAILED, updated_at=now, executed_at=now, failure_reason=WORKER_LOST_REASON,
             result={"ok": False, "status": None, "structured": None, "text": WORKER_LOST_REASON})
    if not changed:
        return False
    request.refresh_from_db()
    audit_record(organization=request.organization, event_type="approval.executed", actor=None,
                 actor_label="system", target=request, target_label=f"{request.tool_name} in {request.environment}",
                 payload={**_request_summary(request), "ok": False, "outcome": "unknown",
                          "reason": request.failure_reason})
    _queue_notifications(request, "approval.executed")
    return True


def approval_expire_due(*, organization=None, now=None, limit: int = 500) -> int:
    """Mark pending requests past their deadline expired (one transaction and one
    approval.expired event each). Called by the periodic sweep (beat) and by the
    ``approvals_expire`` command; reads never call it (selectors.effective_status). Returns how many expired."""
    now = now or timezone.now()
    due = ApprovalRequest.objects.filter(status=Status.PENDING, expires_at__lte=now)
    if organization is not None:
        due = due.filter(organization=organization)
    expired = 0
    for pk in list(due.order_by("expires_at").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            request = ApprovalRequest.objects.select_related("organization", "environment", "project").get(pk=pk)
            expired += _expire_locked(request, now=now)
    return expired


def approval_recover_stalled(*, now=None, limit: int = 500) -> dict[str, int]:
    """Housekeeping for the background path, run by the periodic sweep:

    * approved requests whose execution never started (the broker was down when the task
      was queued, or the task was lost) are queued again; the conditional UPDATE in
      ``approval_execute`` makes a duplicate harmless;
    * executions still "executing" past their lease lost their worker mid-call (their
      redelivered task usually fails them first): they are failed with "outcome unknown" and
      never retried (the upstream may have acted);
    * webhook deliveries left pending without an attempt are queued again.
    """
    from . import tasks

    now = now or timezone.now()
    requeued = 0
    for pk in ApprovalRequest.objects.filter(status=Status.APPROVED, decided_at__lte=now - REQUEUE_APPROVED_AFTER
                                             ).values_list("pk", flat=True)[:limit]:
        tasks.execute_approved_request.delay(pk)
        requeued += 1
    failed = 0
    stuck = ApprovalRequest.objects.filter(status=Status.EXECUTING, execution_lease_until__lte=now)
    for pk in list(stuck.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            request = ApprovalRequest.objects.select_for_update(of=("self",)).select_related(
                "organization", "environment", "project").get(pk=pk)
            failed += _fail_stuck_locked(request, now=now)
    redelivered = 0
    for pk in WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, attempts=0,
                                             created_at__lte=now - REQUEUE_APPROVED_AFTER
                                             ).values_list("pk", flat=True)[:limit]:
        tasks.deliver_webhook.delay(pk)
        redelivered += 1
    return {"requeued": requeued, "failed": failed, "webhooks_requeued": redelivered}


# --------------------------------------------------------------------------- decide


def _refuse_tampered_locked(request: ApprovalRequest, *, actor, stage: str) -> None:
    now = timezone.now()
    changed = ApprovalRequest.objects.filter(
        pk=request.pk, status__in=[Status.PENDING, Status.APPROVED, Status.EXECUTING],
    ).update(status=Status.FAILED, failure_reason=TAMPERED_MESSAGE, updated_at=now)
    if not changed:
        return
    request.status, request.failure_reason = Status.FAILED, TAMPERED_MESSAGE
    try:
        current = arguments_hash(json.loads(request.arguments_json))
    except (ValueError, TypeError):
        current = "unreadable"
    audit_record(organization=request.organization, event_type="approval.execution_refused", actor=actor,
                 actor_label=None if actor is not None else "system", target=request,
                 target_label=f"{request.tool_name} in {request.environment}",
                 payload={**_request_summary(request), "stage": stage, "reason": "arguments_hash_mismatch",
                          "expected_sha256": request.arguments_sha256, "recorded_sha256": _recorded_hash(request),
                          "current_sha256": current})
    _queue_notifications(request, "approval.executed")


def _decision_refused_locked(request: ApprovalRequest, *, reviewer, role: str, decision: str, reason: str,
                            message: str) -> None:
    """Audit a refused decision (``approval.decision_refused``). Called inside the decision's
    transaction, which then commits (the refusal is raised after it), so the row stays."""
    audit_record(organization=request.organization, event_type="approval.decision_refused", actor=reviewer,
                 target=request, target_label=f"{request.tool_name} in {request.environment}",
                 payload={**_request_summary(request), "decision": decision, "reason": reason, "role": role,
                          "message": message})
    refusals.recorded()  # the request's 403 is this row; the middleware does not write another


def approval_decide(*, request: ApprovalRequest, reviewer, decision: str, comment: str) -> ApprovalRequest:
    """Record one reviewer's approve or reject.

    The request row is locked (``select_for_update``) for the whole decision, so 50
    simultaneous clicks serialise: one wins, the rest see "already approved". When the last
    required approval lands the request becomes ``approved`` and its execution is queued
    after commit. An expired or tampered request is marked so (and audited) in its own
    committed transaction before the refusal is raised; so is a refused decision (a reviewer
    deciding their own request, or a step that is not theirs: ``approval.decision_refused``).
    """
    decision = (decision or "").strip().lower()
    if decision not in (ApprovalDecision.Decision.APPROVE, ApprovalDecision.Decision.REJECT):
        raise DomainError("Decide with 'approve' or 'reject'.", field="decision")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(f"The comment is too long (at most {MAX_COMMENT} characters).", field="comment")
    if decision == ApprovalDecision.Decision.REJECT and not comment:
        raise DomainError("Say why you reject the call; the agent and the requester see your comment.",
                          field="comment")

    refusal: DomainError | None = None
    with transaction.atomic():
        locked = (ApprovalRequest.objects.select_for_update(of=("self",))
                  .select_related("organization", "environment", "project").get(pk=request.pk))
        approver = approver_for(locked.organization, reviewer)
        if approver is None or not roles.has_capability(approver.role, "approval.decide"):
            raise PermissionDeniedError("Only reviewers, admins and owners of the organization decide approvals.")
        now = timezone.now()
        if locked.requester_id is not None and locked.requester_id == reviewer.pk:
            refusal = PermissionDeniedError("You requested this call; another reviewer has to decide it.")
            _decision_refused_locked(locked, reviewer=reviewer, role=approver.role, decision=decision,
                                     reason="own_request", message=refusal.message)
        elif locked.status == Status.PENDING and locked.expires_at <= now:
            _expire_locked(locked, now=now)
            refusal = Conflict(f"This request expired at {locked.expires_at:%Y-%m-%d %H:%M} UTC "
                               "and can no longer be approved.")
        elif locked.status != Status.PENDING:
            raise Conflict(f"This request is already {locked.get_status_display().lower()}.")
        elif not arguments_intact(locked):
            _refuse_tampered_locked(locked, actor=reviewer, stage="decision")
            refusal = Conflict(TAMPERED_MESSAGE)
        else:
            try:
                with transaction.atomic():
                    _record_decision(locked, reviewer=reviewer, approver=approver, decision=decision,
                                     comment=comment, now=now)
            except PermissionDeniedError as exc:  # not this reviewer's step
                refusal = exc
                _decision_refused_locked(locked, reviewer=reviewer, role=approver.role, decision=decision,
                                         reason="not_an_approver_of_this_step", message=exc.message)
    if refusal is not None:
        raise refusal
    locked.refresh_from_db()
    return locked


def _record_decision(locked: ApprovalRequest, *, reviewer, approver: stepmod.Approver, decision: str,
                     comment: str, now) -> None:
    decisions = list(locked.decisions.all())
    if any(d.reviewer_id == reviewer.pk for d in decisions):
        raise Conflict("You have already decided on this request; an approver counts once.")
    approvers = [decision_approver(d) for d in decisions if d.decision == ApprovalDecision.Decision.APPROVE]
    steps = request_steps(locked)
    step_index = None
    if decision == ApprovalDecision.Decision.APPROVE:
        step_index, reason = stepmod.check_candidate(steps, locked.order, approvers, approver)
        if step_index is None:
            raise PermissionDeniedError(reason)
    try:
        with transaction.atomic():
            ApprovalDecision.objects.create(
                organization_id=locked.organization_id, request=locked, reviewer=reviewer,
                reviewer_label=actor_label_for(reviewer)[:200], decision=decision, comment=comment,
                step_index=step_index, reviewer_role=approver.role, reviewer_teams=sorted(approver.teams),
            )
    except IntegrityError as exc:
        raise Conflict("You have already decided on this request; an approver counts once.") from exc

    approvals = len(approvers) + (1 if decision == ApprovalDecision.Decision.APPROVE else 0)
    complete = decision == ApprovalDecision.Decision.APPROVE and approvals >= len(steps)
    if decision == ApprovalDecision.Decision.REJECT:
        new_status = Status.REJECTED
    elif complete:
        new_status = Status.APPROVED
    else:
        new_status = Status.PENDING
    if new_status != Status.PENDING:
        changed = ApprovalRequest.objects.filter(pk=locked.pk, status=Status.PENDING).update(
            status=new_status, decided_at=now, updated_at=now)
        if changed != 1:  # impossible under the row lock; refuse rather than guess
            raise Conflict("This request changed while you were deciding; reload and try again.")
        locked.status, locked.decided_at = new_status, now
    audit_record(
        organization=locked.organization, event_type="approval.decided", actor=reviewer, target=locked,
        target_label=f"{locked.tool_name} in {locked.environment}",
        payload={**_request_summary(locked), "decision": decision, "comment": comment,
                 "step": step_index + 1 if step_index is not None else None, "steps_total": len(steps),
                 "approvals": approvals, "approvals_required": len(steps), "status": new_status},
    )
    # Every decision notifies: a final one tells the requester, a partial one asks the
    # reviewers of the next step.
    _queue_notifications(locked, "approval.decided")
    if new_status == Status.APPROVED:
        from . import tasks

        request_id = locked.pk
        # robust: if the broker is down the request stays "approved" and the sweep re-queues it
        # (approval_recover_stalled); the conditional UPDATE keeps duplicates harmless.
        transaction.on_commit(lambda: tasks.execute_approved_request.delay(request_id), robust=True)


# --------------------------------------------------------------------------- execute


def _outcome_result(outcome: Any) -> dict[str, Any]:
    """CallOutcome (apps.gateway.upstream) -> the {ok, status, structured, text} the status tool returns."""
    if isinstance(outcome, Mapping):
        get = outcome.get
    else:
        def get(name, default=None):
            return getattr(outcome, name, default)
    structured = get("structured")
    try:
        structured = json.loads(json.dumps(structured, default=str)) if structured is not None else None
    except (TypeError, ValueError):
        structured = str(structured)
    return {"ok": bool(get("ok", False)), "status": get("status"), "structured": structured,
            "text": str(get("text", "") or ""), "error": str(get("error", "") or "")}


def _still_permitted(request: ApprovalRequest) -> str:
    """Why the approved call may no longer run ("" if it may): approval adds a human check on
    top of the permissions, it never overrides a revocation made while the call waited."""
    from apps.governance.selectors import decide as governance_decide

    if request.tool is None:
        return "The tool no longer exists (its spec version was deleted); the call was not made."
    if request.requester is None or not request.requester.is_active:
        return "The requester's account no longer exists or is disabled; the call was not made."
    if request.token_id is not None and request.token is not None and request.token.revoked_at is not None:
        return "The API token that made the call was revoked while it waited; the call was not made."
    decision = governance_decide(request.requester, request.tool, request.environment)
    if not decision.allowed:
        return f"The requester may no longer call {request.tool_name} here ({decision.reason}); the call was not made."
    return ""


def _redelivered_locked(request_id: int, *, now) -> ApprovalRequest | None:
    """A delivery that did not win the claim. If the request is still "executing" although its
    lease is over, the worker that claimed it died mid-call (this is typically its task,
    redelivered by the broker after the visibility timeout): fail it, under the row lock, with
    the "outcome unknown" reason. Never call the upstream again. Otherwise (a duplicate
    delivery while the call runs, or one already finished) there is nothing to do: None."""
    request = (ApprovalRequest.objects.select_for_update(of=("self",))
               .select_related("organization", "environment", "project")
               .filter(pk=request_id, status=Status.EXECUTING, execution_lease_until__lte=now).first())
    if request is None or not _fail_stuck_locked(request, now=now):
        return None
    logger.warning("approved call %s: its worker was lost mid-call; failed with outcome unknown", request.public_id)
    return request


def approval_execute(*, request_id: int) -> ApprovalRequest | None:
    """Run an approved call exactly once: approved -> executing (conditional UPDATE, one
    winner), re-check the arguments hash, call the upstream with the stored arguments, store
    the result (executing -> executed | failed). Returns None when this caller did not win
    the transition (already executing / executed, or not approved)."""
    from .hooks import execute_call  # the gateway's executor (approvals never imports gateway)

    now = timezone.now()
    with transaction.atomic():
        claimed = ApprovalRequest.objects.filter(pk=request_id, status=Status.APPROVED).update(
            status=Status.EXECUTING, execution_started_at=now, execution_lease_until=now + execution_lease(),
            updated_at=now)
        if claimed != 1:
            return _redelivered_locked(request_id, now=now)
        request = ApprovalRequest.objects.select_related(
            "organization", "environment", "project", "tool", "requester", "token").get(pk=request_id)
        if not arguments_intact(request):
            _refuse_tampered_locked(request, actor=None, stage="execution")
            return request
        failure = _still_permitted(request)
    arguments = json.loads(request.arguments_json)
    result: dict[str, Any] | None = None
    if not failure:
        try:
            outcome = execute_call(tool=request.tool, environment=request.environment, arguments=arguments)
        except Exception as exc:  # the upstream layer should return outcomes; never leave "executing"
            logger.exception("approved call %s failed before reaching the upstream", request.public_id)
            failure = f"The call could not be made: {type(exc).__name__}."
        else:
            result = _outcome_result(outcome)
    finished = timezone.now()
    with transaction.atomic():
        if failure:
            fields = {"status": Status.FAILED, "failure_reason": failure[:500],
                      "result": {"ok": False, "status": None, "structured": None, "text": failure}}
        else:
            fields = {"status": Status.EXECUTED, "result": result}
        changed = ApprovalRequest.objects.filter(pk=request.pk, status=Status.EXECUTING).update(
            executed_at=finished, updated_at=finished, **fields)
        if changed != 1:
            logger.error("approved call %s left the executing state while running", request.public_id)
            return None
        request.refresh_from_db()
        audit_record(
            organization=request.organization, event_type="approval.executed", actor=None,
            actor_label="system (approved call)", target=request,
            target_label=f"{request.tool_name} in {request.environment}",
            payload={**_request_summary(request), "ok": bool(request.result and request.result.get("ok")),
                     "http_status": (request.result or {}).get("status"), "arguments_sha256": request.arguments_sha256,
                     "requested_by": request.requester_label, "failure": failure or None,
                     "duration_ms": int((finished - now).total_seconds() * 1000)},
        )
        _queue_notifications(request, "approval.executed")
    return request


def redacted_arguments(request: ApprovalRequest) -> Any:
    """Arguments as reviewers and webhooks see them: secrets masked."""
    try:
        return redact(json.loads(request.arguments_json))
    except (ValueError, TypeError):
        return {"error": "The stored arguments are not valid JSON."}
