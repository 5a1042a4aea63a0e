"""Reads of the approval queue, always scoped to the caller's organization (or, for the
status tool, to the requester and the organization's reviewers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.access import Access, membership_for
from apps.audit.redact import redact
from apps.core.errors import DomainError
from apps.core.query import QueryInput
from apps.inventory.models import Tool
from apps.projects.models import Environment, Project

from . import services
from . import steps as stepmod
from .models import ApprovalDecision, ApprovalRequest, WebhookDelivery, WebhookSettings

Status = ApprovalRequest.Status
NOT_FOUND = "No approval request with that id."
QUEUE_SCAN_LIMIT = 1000  # "what I can approve" is decided in Python; scan at most this many rows


def effective_status(request: ApprovalRequest, now=None) -> str:
    """The status a caller should see: a pending request past its deadline is expired even
    before the sweep has written that down."""
    now = now or timezone.now()
    if request.status == Status.PENDING and request.expires_at <= now:
        return Status.EXPIRED
    return request.status


def may_see_request(user, role: str | None, request: ApprovalRequest) -> bool:
    """The one rule for who sees an approval request (pages, REST API, the MCP status tool): a
    member who requested it, or a member whose role may decide approvals."""
    if role is None:
        return False
    return request.requester_id == user.pk or roles.has_capability(role, "approval.decide")


def require_may_see(access: Access, request: ApprovalRequest) -> None:
    """``may_see_request`` for a member: refused with 403 (audited like any refusal) when not."""
    if not may_see_request(access.user, access.role, request):
        access.require("approval.decide")


# --------------------------------------------------------------------------- status tool


def request_status_for(user, request_id: str, *, organization_id: int | None = None,
                       environment_id: int | None = None) -> dict[str, Any]:
    """What mcpforge_approval_status returns. Visible to the requester while still a member
    of the request's organization, and to its reviewers, admins and owners; the MCP endpoint
    also confines it to its own organization and environment (``organization_id``,
    ``environment_id``). Everyone else gets the same "no such request" as for an id that
    does not exist, so the answer reveals nothing about other tenants' requests."""
    try:
        public_id = uuid.UUID(str(request_id).strip())
    except (ValueError, AttributeError):
        raise DomainError(NOT_FOUND) from None
    if not getattr(user, "is_authenticated", False):
        raise DomainError(NOT_FOUND)
    scope: dict[str, Any] = {"public_id": public_id}
    if organization_id is not None:
        scope["organization_id"] = organization_id
    if environment_id is not None:
        scope["environment_id"] = environment_id
    request = ApprovalRequest.objects.select_related("environment", "organization").filter(**scope).first()
    if request is None:
        raise DomainError(NOT_FOUND)
    membership = membership_for(user, request.organization_id)
    role = membership.role if membership else None
    if role is None:
        raise DomainError(NOT_FOUND)  # a former member (or an outsider) sees nothing, not even their own
    if not may_see_request(user, role, request):
        raise DomainError(NOT_FOUND)
    decisions = list(request.decisions.all())
    status = effective_status(request)
    plan = services.request_plan(request, decisions)
    approvals = [{"by": d.reviewer_label, "at": d.created_at.isoformat(), "comment": d.comment}
                 for d in decisions if d.decision == ApprovalDecision.Decision.APPROVE]
    rejection = next(({"by": d.reviewer_label, "at": d.created_at.isoformat(), "comment": d.comment}
                      for d in decisions if d.decision == ApprovalDecision.Decision.REJECT), None)
    result = None
    if request.result is not None:
        result = {key: request.result.get(key) for key in ("ok", "status", "structured", "text")}
    elif status == Status.FAILED:
        result = {"ok": False, "status": None, "structured": None, "text": request.failure_reason}
    return {
        "request_id": str(request.public_id),
        "status": str(status),
        "tool": request.tool_name,
        "environment": request.environment.slug,
        "created_at": request.created_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
        "approvals_required": request.approvals_required,
        "approvals": approvals,
        "rejection": rejection,
        "result": result,
        "message": status_message(request, status, plan),
    }


def status_message(request: ApprovalRequest, status: str, plan: stepmod.Plan) -> str:
    """One sentence for the agent (and the page header)."""
    if status == Status.PENDING:
        total = len(plan.steps)
        where = f"step {len(plan.filled) + 1} of {total}: " if total > 1 else ""
        return (f"Waiting for approval ({where}{plan.waiting_for()}); "
                f"expires {request.expires_at:%Y-%m-%d %H:%M} UTC.")
    if status == Status.APPROVED:
        return "Approved; the call is queued to run."
    if status == Status.EXECUTING:
        return "Approved; the call is running now."
    if status == Status.EXECUTED:
        ok = bool(request.result and request.result.get("ok"))
        return "Approved and executed; the upstream result is attached." if ok else \
            "Approved and executed, but the upstream API returned an error; see the result."
    if status == Status.REJECTED:
        return "Rejected by a reviewer; the call was not made."
    if status == Status.EXPIRED:
        return "Expired before it was approved; the call was not made."
    return f"The call was not completed: {request.failure_reason}"


# --------------------------------------------------------------------------- navigation


def nav_pending_count(user, organization_id: int) -> int:
    """Open requests in the organization this user might still decide: one COUNT query
    (the navigation badge renders on every page)."""
    return (ApprovalRequest.objects
            .filter(organization_id=organization_id, status=Status.PENDING, expires_at__gt=timezone.now())
            .exclude(requester=user)
            .exclude(decisions__reviewer=user)
            .count())


def nav_badge(user, membership) -> dict:
    """The navigation's pending-approvals badge (registered in AppConfig.ready as an
    accounts navigation extension): only for roles that may decide approvals."""
    if not roles.has_capability(membership.role, "approval.decide"):
        return {}
    return {"nav_pending_approvals": nav_pending_count(user, membership.organization_id)}


# --------------------------------------------------------------------------- queue


RISK_LEVELS = [choice for choice, _ in Tool.RiskLevel.choices]
STATUS_CHOICES = [choice for choice, _ in Status.choices]


@dataclass
class QueueFilters:
    scope: str = "mine"  # mine: what I can approve now; all: everything matching
    status: str = Status.PENDING
    project: str = ""
    environment: str = ""
    tool: str = ""
    risk: str = ""

    @classmethod
    def from_query(cls, query) -> tuple[QueueFilters, list[str]]:
        """The filters of ``query`` and a message per refused value (apps/core/query.py rules)."""
        params = QueryInput(query)
        scope = params.text("scope") or "mine"
        if scope not in ("mine", "all"):
            params.errors.append("Scope must be 'mine' or 'all'.")
            scope = "mine"
        status = params.text("status", default=Status.PENDING) if "status" in query else Status.PENDING
        if status and status not in STATUS_CHOICES:
            params.errors.append(f"Unknown status {status[:40]!r}; use one of {', '.join(STATUS_CHOICES)}.")
            status = Status.PENDING
        risk = params.text("risk")
        if risk and risk not in RISK_LEVELS:
            params.errors.append(f"Unknown risk level {risk[:40]!r}; use one of {', '.join(RISK_LEVELS)}.")
            risk = ""
        if scope == "mine" and status and status != Status.PENDING:
            scope = "all"  # only pending requests can be approved; "mine" would always be empty
        return cls(scope=scope, status=status, project=params.text("project", max_length=60),
                   environment=params.text("environment", max_length=60),
                   tool=params.text("tool", max_length=64), risk=risk), params.errors

    def as_query(self) -> dict[str, str]:
        out = {"scope": self.scope, "status": self.status, "project": self.project,
               "environment": self.environment, "tool": self.tool, "risk": self.risk}
        return {k: v for k, v in out.items() if v or k == "status"}


def approval_requests(organization, filters: QueueFilters) -> QuerySet[ApprovalRequest]:
    qs = (ApprovalRequest.objects.filter(organization=organization)
          .select_related("project", "environment", "requester")
          .prefetch_related("decisions")
          .order_by("-created_at"))
    now = timezone.now()
    if filters.status == Status.PENDING:
        qs = qs.filter(status=Status.PENDING, expires_at__gt=now)
    elif filters.status == Status.EXPIRED:
        qs = qs.filter(status__in=[Status.PENDING, Status.EXPIRED]).exclude(status=Status.PENDING,
                                                                           expires_at__gt=now)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.project:
        qs = qs.filter(project__slug=filters.project)
    if filters.environment:
        qs = qs.filter(environment__slug=filters.environment)
    if filters.tool:
        qs = qs.filter(tool_name__icontains=filters.tool)
    if filters.risk:
        qs = qs.filter(tool_risk_level=filters.risk)
    return qs


@dataclass
class QueueRow:
    """One request as the current reviewer sees it."""

    request: ApprovalRequest
    status: str
    plan: stepmod.Plan
    can_approve: bool
    can_reject: bool
    note: str  # why the reviewer can or cannot act
    step_index: int | None = None
    approvals: list[ApprovalDecision] = field(default_factory=list)
    rejection: ApprovalDecision | None = None

    @property
    def arguments(self) -> Any:
        return services.redacted_arguments(self.request)

    @property
    def progress_label(self) -> str:
        return f"{len(self.plan.filled)} of {len(self.plan.steps)}"


def queue_row(request: ApprovalRequest, *, user, approver: stepmod.Approver | None, now=None) -> QueueRow:
    decisions = list(request.decisions.all())
    approvals = [d for d in decisions if d.decision == ApprovalDecision.Decision.APPROVE]
    rejection = next((d for d in decisions if d.decision == ApprovalDecision.Decision.REJECT), None)
    plan = services.request_plan(request, decisions)
    status = effective_status(request, now)
    can_approve = can_reject = False
    step_index = None
    if status != Status.PENDING:
        note = status_message(request, status, plan)
    elif request.requester_id == user.pk:
        note = "You requested this call; another reviewer has to decide it."
    elif approver is None or not roles.has_capability(approver.role, "approval.decide"):
        note = "Only reviewers, admins and owners decide approvals."
    elif any(d.reviewer_id == user.pk for d in decisions):
        note = "You have already approved this request; an approver counts once."
    else:
        can_reject = True
        prior = [services.decision_approver(d) for d in approvals]
        step_index, reason = stepmod.check_candidate(services.request_steps(request), request.order, prior,
                                                      approver)
        can_approve = step_index is not None
        if can_approve:
            total = len(plan.steps)
            note = f"You can approve step {step_index + 1} of {total}." if total > 1 else "You can approve this call."
        else:
            note = reason
    return QueueRow(request=request, status=status, plan=plan, can_approve=can_approve, can_reject=can_reject,
                    note=note, step_index=step_index, approvals=approvals, rejection=rejection)


@dataclass
class Queue:
    rows: list[QueueRow]
    waiting_for_others: int = 0  # scope=mine: open requests left out because other teams/roles must act


def queue_for(access: Access, filters: QueueFilters) -> Queue:
    """The reviewer queue. ``scope=mine`` keeps what this reviewer can approve now (team and
    role steps are checked per request, in Python, over at most QUEUE_SCAN_LIMIT rows)."""
    user = access.user
    approver = services.approver_for(access.organization, user)
    now = timezone.now()
    requests = approval_requests(access.organization, filters)[:QUEUE_SCAN_LIMIT]
    rows = [queue_row(r, user=user, approver=approver, now=now) for r in requests]
    if filters.scope != "mine":
        return Queue(rows=rows)
    mine = [row for row in rows if row.can_approve]
    # Same population as the nav badge (open, not requested or decided by this reviewer), so
    # badge = rows shown + waiting_for_others.
    others = [row for row in rows if not row.can_approve and row.can_reject]
    return Queue(rows=mine, waiting_for_others=len(others))


def filter_options(organization) -> dict[str, Any]:
    return {
        "projects": list(Project.objects.filter(organization=organization).values_list("slug", "name")),
        "environments": sorted(set(Environment.objects.filter(organization=organization)
                                   .values_list("slug", flat=True))),
        "risks": RISK_LEVELS,
        "statuses": Status.choices,
    }


def request_for(access: Access, public_id) -> ApprovalRequest:
    """A request of the caller's organization, or 404 (ids of other organizations do not exist)."""
    try:
        pid = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404(NOT_FOUND) from None
    request = (ApprovalRequest.objects.select_related("organization", "project", "environment", "requester", "tool")
               .prefetch_related("decisions").filter(organization=access.organization, public_id=pid).first())
    if request is None:
        raise Http404(NOT_FOUND)
    return request


def request_detail(access: Access, request: ApprovalRequest) -> dict[str, Any]:
    """Everything the review page shows."""
    approver = services.approver_for(access.organization, access.user)
    row = queue_row(request, user=access.user, approver=approver)
    steps = []
    by_step = {s: row.approvals[a] for s, a in row.plan.filled.items()} if row.approvals else {}
    next_steps = set(row.plan.next_steps) if row.status == Status.PENDING else set()
    for i, step in enumerate(row.plan.steps):
        decision = by_step.get(i)
        steps.append({"number": i + 1, "describe": step.describe(), "decision": decision,
                      "waiting": decision is None and i in next_steps})
    return {
        "row": row,
        "steps": steps,
        "arguments": services.redacted_arguments(request),
        "arguments_intact": services.arguments_intact(request),
        "message": status_message(request, row.status, row.plan),
        "status": row.status,
        "result_redacted": redact((request.result or {}).get("structured")),
    }


def project_summary(project) -> dict[str, int]:
    """Counts for the project page panel: open requests and the last 30 days' outcomes (one query)."""
    from datetime import timedelta

    from django.db.models import Count, Q

    now = timezone.now()
    since = now - timedelta(days=30)
    recent = Q(created_at__gte=since)
    return ApprovalRequest.objects.filter(project=project).aggregate(
        pending=Count("id", filter=Q(status=Status.PENDING, expires_at__gt=now)),
        executed=Count("id", filter=recent & Q(status=Status.EXECUTED)),
        rejected=Count("id", filter=recent & Q(status=Status.REJECTED)),
        expired=Count("id", filter=recent & (Q(status=Status.EXPIRED) | Q(status=Status.PENDING, expires_at__lte=now))),
        failed=Count("id", filter=recent & Q(status=Status.FAILED)),
    )


def webhook_settings_for(organization) -> WebhookSettings | None:
    return WebhookSettings.objects.filter(organization=organization).first()


def recent_deliveries(organization, limit: int = 20) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(organization=organization).order_by("-created_at")[:limit])
