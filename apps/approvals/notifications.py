"""What reviewers and requesters are told about approval requests: emails and the webhook body.

Emails go to the people who can act: when a request is queued (or a step of a multi-step
request is approved), the reviewers eligible for the next step; when it is decided,
expires or runs, the requester. The webhook body carries the redacted arguments and the
outcome, never the upstream response body (it may hold personal data).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.models import Membership

from . import steps as stepmod
from .models import ApprovalDecision, ApprovalRequest, WebhookSettings

Status = ApprovalRequest.Status


def request_url(request: ApprovalRequest) -> str:
    return f"{settings.SITE_URL}/o/{request.organization.slug}/approvals/{request.public_id}/"


def webhook_payload(request: ApprovalRequest, event: str) -> dict[str, Any]:
    from .services import redacted_arguments, request_plan

    decisions = list(request.decisions.all())
    plan = request_plan(request, decisions)
    body: dict[str, Any] = {
        "event": event,
        "occurred_at": timezone.now().isoformat(),
        "organization": request.organization.slug,
        "request": {
            "id": str(request.public_id),
            "url": request_url(request),
            "status": request.status,
            "tool": request.tool_name,
            "operation": request.operation_key,
            "risk_level": request.tool_risk_level,
            "project": request.project.slug,
            "environment": request.environment.slug,
            "requester": request.requester_label,
            "justification": request.justification,
            "policy": request.policy_label,
            "arguments": redacted_arguments(request),
            "arguments_sha256": request.arguments_sha256,
            "approvals_required": request.approvals_required,
            "approvals": [{"by": d.reviewer_label, "at": d.created_at.isoformat(), "comment": d.comment}
                          for d in decisions if d.decision == ApprovalDecision.Decision.APPROVE],
            "rejection": next(({"by": d.reviewer_label, "at": d.created_at.isoformat(), "comment": d.comment}
                               for d in decisions if d.decision == ApprovalDecision.Decision.REJECT), None),
            "waiting_for": plan.waiting_for() if request.status == Status.PENDING else "",
            "expires_at": request.expires_at.isoformat(),
        },
    }
    if request.result is not None:
        body["request"]["result"] = {"ok": request.result.get("ok"), "status": request.result.get("status")}
    return body


def eligible_reviewers(request: ApprovalRequest) -> list:
    """Users who could approve the request's next step right now."""
    from .services import _team_keys, request_plan, request_steps

    decisions = list(request.decisions.all())
    decided = {d.reviewer_id for d in decisions}
    plan = request_plan(request, decisions)
    steps = request_steps(request)
    approvers = [stepmod.Approver(user_id=str(d.reviewer_id), role=d.reviewer_role,
                                  teams=frozenset(d.reviewer_teams))
                 for d in decisions if d.decision == ApprovalDecision.Decision.APPROVE]
    if plan.complete:
        return []
    memberships = (Membership.objects.filter(organization_id=request.organization_id)
                   .select_related("user").prefetch_related("user__teams"))
    people = []
    for m in memberships:
        user = m.user
        if not user.is_active or user.pk == request.requester_id or user.pk in decided:
            continue
        if not roles.has_capability(m.role, "approval.decide"):
            continue
        teams: set[str] = set()
        for team in user.teams.all():
            if team.organization_id == request.organization_id:
                teams |= _team_keys(team)
        candidate = stepmod.Approver(user_id=str(user.pk), role=m.role, teams=frozenset(teams))
        step, _ = stepmod.check_candidate(steps, request.order, approvers, candidate)
        if step is not None:
            people.append(user)
    return people


def _subject(request: ApprovalRequest, what: str) -> str:
    return f"[MCPForge] {what}: {request.tool_name} in {request.project.slug}/{request.environment.slug}"


def emails_for(request: ApprovalRequest, event: str) -> list[tuple[str, str, str, list[str]]]:
    """(subject, body, from, [to]) messages for this event."""
    from .services import request_plan

    url = request_url(request)
    sender = settings.DEFAULT_FROM_EMAIL
    messages: list[tuple[str, str, str, list[str]]] = []
    if (event == "approval.requested" or (event == "approval.decided" and request.status == Status.PENDING)):
        hook = WebhookSettings.objects.filter(organization_id=request.organization_id).first()
        if hook is not None and not hook.email_reviewers:
            return []
        plan = request_plan(request)
        step_note = ""
        if len(plan.steps) > 1:
            step_note = (f"Step {len(plan.filled) + 1} of {len(plan.steps)} waits for {plan.waiting_for()}.\n")
        body = (
            f"{request.requester_label} asked to call {request.tool_name} ({request.operation_key}) in "
            f"{request.project.name} / {request.environment.name}.\n\n"
            f"Risk: {request.tool_risk_level or 'unclassified'}\n"
            f"Policy: {request.policy_label or 'approval required'}\n"
            f"Justification: {request.justification or '(none given)'}\n{step_note}"
            f"Expires: {request.expires_at:%Y-%m-%d %H:%M} UTC\n\n"
            f"Review it: {url}\n"
        )
        for user in eligible_reviewers(request):
            if user.email:
                messages.append((_subject(request, "Approval needed"), body, sender, [user.email]))
        return messages
    requester_email = getattr(request.requester, "email", "") if request.requester_id else ""
    if not requester_email:
        return []
    if event == "approval.decided":
        verdict = "approved" if request.status in (Status.APPROVED, Status.EXECUTING, Status.EXECUTED) else \
            request.status
        last = request.decisions.order_by("-created_at").first()
        note = f"\n{last.reviewer_label}: {last.comment}\n" if last and last.comment else ""
        body = f"Your call to {request.tool_name} was {verdict}.{note}\nDetails: {url}\n"
        messages.append((_subject(request, f"Request {verdict}"), body, sender, [requester_email]))
    elif event == "approval.expired":
        body = (f"Your call to {request.tool_name} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC "
                f"before enough reviewers approved it.\n\nDetails: {url}\n")
        messages.append((_subject(request, "Request expired"), body, sender, [requester_email]))
    elif event == "approval.executed":
        result = request.result or {}
        outcome = ("succeeded" if result.get("ok") else "failed") if request.status == Status.EXECUTED else "failed"
        reason = f"\n{request.failure_reason}\n" if request.failure_reason else ""
        http = f" (HTTP {result['status']})" if result.get("status") else ""
        body = (f"Your approved call to {request.tool_name} {outcome}{http}.{reason}\n"
                f"The agent can read the result with mcpforge_approval_status. Details: {url}\n")
        messages.append((_subject(request, f"Approved call {outcome}"), body, sender, [requester_email]))
    return messages


def send_emails(request_id: int, event: str) -> int:
    """Send this event's emails; returns how many were sent."""
    request = (ApprovalRequest.objects.select_related("organization", "project", "environment", "requester")
               .filter(pk=request_id).first())
    if request is None:
        return 0
    messages = emails_for(request, event)
    if not messages:
        return 0
    return send_mass_mail(messages, fail_silently=False)
