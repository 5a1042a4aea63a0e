"""Governance tables: which tools are enabled where, who may call them, what needs approval.

Everything keys on ``Tool.operation_key`` ("POST /refunds"), which survives re-imports and
renames, never on a tool row of one spec version.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Organization, Team
from apps.core.models import TimeStampedModel
from apps.projects.models import Environment, Project

DEFAULT_APPROVAL_EXPIRY = timedelta(hours=24)


class ToolSetting(TimeStampedModel):
    """An admin's explicit enabled/disabled switch for one operation in one environment, or
    (``by_default``) the pinned definition of a tool that is on only by the risk default.

    Without an admin's row the risk default applies (``grants.default_enabled``): read-only and
    side-effect tools on in development, everything else off.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tool_settings")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="tool_settings")
    operation_key = models.CharField(max_length=600)
    enabled = models.BooleanField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_by_label = models.CharField(max_length=200, blank=True, default="")
    # The definition an admin enabled here (apps/inventory/definitions.py): the gateway lists and
    # calls this tool row in this environment, whatever the current spec version says, until an
    # admin accepts a changed one. Null row = not served (fail closed).
    pinned_tool = models.ForeignKey("inventory.Tool", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    pinned_definition = models.JSONField(null=True, blank=True)
    pinned_hash = models.CharField(max_length=64, blank=True, default="")
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by_label = models.CharField(max_length=200, blank=True, default="")
    # A re-import changed the definition: the current version's row, waiting for an admin's review.
    pending_tool = models.ForeignKey("inventory.Tool", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    pending_hash = models.CharField(max_length=64, blank=True, default="")
    pending_since = models.DateTimeField(null=True, blank=True)
    # Not an admin's switch: the pin of a tool that is on only by the risk default (read-only and
    # side-effect tools in development). Rules ignore it (the default decides whether the tool is
    # on); the gateway serves its pinned definition and a re-import's change waits for review.
    by_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # also the index of enabled_map: settings of one environment for a set of operations
            models.UniqueConstraint(fields=["environment", "operation_key"], name="toolsetting_unique_op_per_env",
                                    violation_error_message="This operation already has a setting here."),
        ]
        indexes = [
            # the permissions matrix: every setting of a project
            models.Index(fields=["organization", "project"], name="toolsetting_org_project_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_key} {'on' if self.enabled else 'off'} in {self.environment_id}"


class Target(models.Model):
    """Which tools a grant or policy covers: any tool, or named operations, categories or tags
    (OpenAPI tags and the classifier's secondary category tags)."""

    all_tools = models.BooleanField(default=False)
    operation_keys = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True


class Grant(Target, TimeStampedModel):
    """"Team Support may call read-only tools in production": an allow or deny rule for a role
    (that role or higher), a team or a user, in one environment or all of them. Deny wins
    and nothing is callable without an allow (see grants.py)."""

    class Effect(models.TextChoices):
        ALLOW = "allow", "Allow"
        DENY = "deny", "Deny"

    class PrincipalKind(models.TextChoices):
        ROLE = "role", "Role (or higher)"
        TEAM = "team", "Team"
        USER = "user", "User"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="grants")
    environment = models.ForeignKey(Environment, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="grants", help_text="Empty: every environment")
    effect = models.CharField(max_length=5, choices=Effect.choices, default=Effect.ALLOW)
    principal_kind = models.CharField(max_length=4, choices=PrincipalKind.choices)
    role = models.CharField(max_length=16, blank=True, default="")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="tool_grants")
    note = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_by_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(principal_kind="role") & ~Q(role="") & Q(team__isnull=True) & Q(user__isnull=True))
                | (Q(principal_kind="team") & Q(role="") & Q(team__isnull=False) & Q(user__isnull=True))
                | (Q(principal_kind="user") & Q(role="") & Q(team__isnull=True) & Q(user__isnull=False)),
                name="grant_principal_consistent",
                violation_error_message="A grant names exactly one role, team or user.",
            ),
        ]
        indexes = [
            # decide / callable_tools: the grants of a project
            models.Index(fields=["organization", "project"], name="grant_org_project_idx"),
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.effect} {self.principal_kind} in {self.environment_id or 'all'}"


class ApprovalPolicy(Target, TimeStampedModel):
    """What needs a human before it runs: for the covered tools in one environment (or all),
    no approval, one, or several (optionally from named teams/roles, in order or not), with an
    expiry and optionally a justification from the agent.

    ``tiers`` is the list ``conditions.select_policy_tier`` reads: conditional tiers first
    ("amount > 10000 -> 2 approvals"), the default tier (from ``kind``/``approvals_required``)
    last. ``steps`` name who fills the first approvals of whichever tier applies.
    """

    class Kind(models.TextChoices):
        NONE = "none", "No approval"
        SINGLE = "single", "Single approval"
        MULTI = "multi", "Multi-step approval"

    class Order(models.TextChoices):
        ANY = "any", "Any order"
        SEQUENTIAL = "sequential", "In order"

    class Source(models.TextChoices):
        MANUAL = "manual", "Written by an admin"
        SUGGESTED = "suggested", "Accepted risk suggestion"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="approval_policies")
    environment = models.ForeignKey(Environment, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="approval_policies", help_text="Empty: every environment")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SINGLE)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    order = models.CharField(max_length=10, choices=Order.choices, default=Order.ANY)
    steps = models.JSONField(default=list, blank=True)
    tiers = models.JSONField(default=list, blank=True)
    expires_after = models.DurationField(default=DEFAULT_APPROVAL_EXPIRY)
    justification_required = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_by_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(approvals_required__lte=10), name="policy_approvals_at_most_10",
                                   violation_error_message="At most 10 approvals."),
        ]
        indexes = [
            # approval_requirement: the policies of a project
            models.Index(fields=["organization", "project"], name="policy_org_project_idx"),
        ]
        ordering = ["name"]
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return self.name
