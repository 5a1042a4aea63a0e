"""Approval requests for governed tool calls, reviewers' decisions, and per-organization
notification settings (webhook) with their delivery log."""

import json

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import ApiToken, Organization
from apps.core.models import TimeStampedModel
from apps.inventory.models import Tool
from apps.projects.models import Environment, Project


class ApprovalRequest(TimeStampedModel):
    """A tool call an agent made that a policy holds for human approval.

    The call is stored exactly as made (``arguments`` plus their SHA-256 over the canonical
    JSON), together with a snapshot of the policy requirement, so a later policy edit does
    not change what this request needs. State machine (conditional UPDATEs only):

        pending -> approved -> executing -> executed | failed
        pending -> rejected | expired
        pending | approved -> failed   (stored arguments no longer match their hash)
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        EXECUTING = "executing", "Executing"
        EXECUTED = "executed", "Executed"
        FAILED = "failed", "Failed"

    class Order(models.TextChoices):
        SEQUENTIAL = "sequential", "In order"
        ANY = "any", "Any order"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="approval_requests")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="approval_requests")
    # The tool row of the spec version the call was made against; names are copied so the
    # queue and the audit trail survive a re-import that deletes old versions.
    tool = models.ForeignKey(Tool, null=True, on_delete=models.SET_NULL, related_name="+")
    tool_name = models.CharField(max_length=64)
    operation_key = models.CharField(max_length=600)
    tool_risk_level = models.CharField(max_length=10, blank=True, default="")
    tool_category = models.CharField(max_length=20, blank=True, default="")

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requester_label = models.CharField(max_length=200)
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token_label = models.CharField(max_length=120, blank=True, default="")

    # Canonical JSON text (apps.governance.conditions.canonical_arguments), not jsonb: jsonb
    # may rewrite numbers (1e300), and the approval must bind the exact bytes the agent sent.
    arguments_json = models.TextField()
    arguments_sha256 = models.CharField(max_length=64)
    justification = models.TextField(blank=True, default="")

    # snapshot of apps.governance Requirement at creation
    policy_label = models.CharField(max_length=200, blank=True, default="")
    approvals_required = models.PositiveSmallIntegerField(default=1)
    steps = models.JSONField(default=list, blank=True, help_text="Normalised steps: [{kind, value, label}]")
    order = models.CharField(max_length=12, choices=Order.choices, default=Order.SEQUENTIAL)
    requirement = models.JSONField(default=dict, blank=True, help_text="The requirement as the policy gave it")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    execution_started_at = models.DateTimeField(null=True, blank=True)
    # Set with the claim (approved -> executing): still "executing" after this, the worker died
    # mid-call; the call is failed with "outcome unknown", never run again.
    execution_lease_until = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True, help_text="{ok, status, structured, text} of the upstream call")
    failure_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [
            # reviewer queue: an organization's requests by status, newest first; nav count
            models.Index(fields=["organization", "status", "-created_at"], name="approval_org_status_idx"),
            # expiry sweep: pending requests past their deadline
            models.Index(fields=["expires_at"], condition=Q(status="pending"), name="approval_pending_expiry_idx"),
            # "my requests" for the status tool and the requester's view
            models.Index(fields=["requester", "-created_at"], name="approval_requester_idx"),
            # the sweep: executions whose lease is over
            models.Index(fields=["execution_lease_until"], condition=Q(status="executing"),
                         name="approval_executing_lease_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approvals_required__gte=1),
                name="approval_needs_one_approval",
                violation_error_message="An approval request needs at least one approval.",
            ),
            models.CheckConstraint(
                condition=~Q(status="executed") | Q(result__isnull=False),
                name="approval_executed_has_result",
                violation_error_message="An executed request stores its result.",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.tool_name} in {self.environment_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def arguments(self) -> dict:
        return json.loads(self.arguments_json)


class ApprovalDecision(TimeStampedModel):
    """One reviewer's approve or reject on one request. A reviewer decides a request at most
    once (unique constraint), so an approver counts once even under concurrent clicks."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewer_label = models.CharField(max_length=200)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True, default="")
    step_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0-based step an approval filled")
    # how the reviewer qualified when deciding (role and team keys), see steps.Approver
    reviewer_role = models.CharField(max_length=16)
    reviewer_teams = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["request", "reviewer"],
                name="approvaldecision_once_per_reviewer",
                violation_error_message="You have already decided on this request.",
            )
        ]
        indexes = [
            # decision history of a request, in order
            models.Index(fields=["request", "created_at"], name="approvaldecision_request_idx"),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.reviewer_label} {self.decision}d"


class WebhookSettings(TimeStampedModel):
    """An organization's outgoing approval webhook. The signing secret is stored sealed
    (envelope encryption, apps.credentials.crypto) and only its masked form is shown."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="approval_webhook")
    url = models.URLField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    secret_ciphertext = models.BinaryField(null=True, blank=True)
    secret_nonce = models.BinaryField(null=True, blank=True)
    secret_wrapped_dek = models.BinaryField(null=True, blank=True)
    secret_kek_id = models.CharField(max_length=64, blank=True, default="")
    secret_masked = models.CharField(max_length=40, blank=True, default="")
    secret_version = models.PositiveIntegerField(default=0, help_text="Bumped on every change; part of the AAD")
    email_reviewers = models.BooleanField(default=True, help_text="Email eligible reviewers when a request is queued")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"webhook of {self.organization_id}"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_kek_id)

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.url) and self.has_secret


class WebhookDelivery(TimeStampedModel):
    """One webhook message and its delivery attempts (the settings page lists recent ones)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ApprovalRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=40)
    url = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # settings page: an organization's latest deliveries
            models.Index(fields=["organization", "-created_at"], name="webhookdelivery_org_idx"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} -> {self.url} ({self.status})"
