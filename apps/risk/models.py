"""Admin overrides of the classifier's verdict, kept across re-imports."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Organization
from apps.core.models import TimeStampedModel
from apps.inventory.models import Tool
from apps.projects.models import Project


class RiskOverride(TimeStampedModel):
    """An admin's category and/or risk level for one operation, with the reason why.

    Keyed on ``operation_key`` (like governance), so it applies to the operation's tool in
    every spec version: ``apps.risk.services.apply_overrides`` rewrites the freshly
    classified rows of each import before they are saved. Empty ``category`` or
    ``risk_level`` keeps the classifier's value for that field.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="risk_overrides")
    operation_key = models.CharField(max_length=600, help_text='The operation, e.g. "POST /refunds"')
    category = models.CharField(max_length=20, choices=Tool.Category.choices, blank=True, default="")
    risk_level = models.CharField(max_length=10, choices=Tool.RiskLevel.choices, blank=True, default="")
    justification = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, help_text="Who overrode it, kept if the user is deleted")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "operation_key"],
                name="riskoverride_unique_op",
                violation_error_message="This operation already has an override; change it instead.",
            ),
            models.CheckConstraint(
                condition=~Q(category="") | ~Q(risk_level=""),
                name="riskoverride_changes_something",
                violation_error_message="An override sets a category, a risk level or both.",
            ),
            models.CheckConstraint(
                condition=~Q(justification=""),
                name="riskoverride_justified",
                violation_error_message="An override needs a justification.",
            ),
        ]
        indexes = [
            # overrides of an organization's projects (audit and report listings)
            models.Index(fields=["organization", "project"], name="riskoverride_org_project_idx"),
        ]
        # apply_overrides and the tool page read a project's overrides: the unique
        # (project, operation_key) constraint's index serves both.

    def __str__(self) -> str:
        return f"{self.operation_key} overridden by {self.actor_label}"
