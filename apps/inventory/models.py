"""MCP tools generated from a spec version, and admin renames that survive re-import."""

from django.conf import settings
from django.db import models

from apps.accounts.models import Organization
from apps.core.models import TimeStampedModel
from apps.projects.models import Project
from apps.specs.models import SpecVersion


class LargeJSONField(models.JSONField):
    """A JSONField for large documents (tool schemas). Defining ``get_placeholder`` keeps
    ``bulk_create`` on Postgres off its UNNEST strategy, which quotes array literals in Python
    (0.6 s for Box's 3 MB of schemas); plain VALUES rows are escaped by libpq in C."""

    def get_placeholder(self, value, compiler, connection):
        return "%s"


class Tool(TimeStampedModel):
    """One MCP tool of one spec version: exactly what an agent sees, plus where it came from
    and how it was classified. ``operation_key`` ("POST /pets") is the identity that links the
    same operation across versions; governance (enablement, grants, policies) keys on it."""

    class Category(models.TextChoices):
        READ_ONLY = "read_only", "Read-only"
        SIDE_EFFECT = "side_effect", "Side-effect"
        CRITICAL = "critical", "Critical"
        ADMINISTRATIVE = "administrative", "Administrative"
        BILLING = "billing", "Billing"

    class RiskLevel(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tools")
    spec_version = models.ForeignKey(SpecVersion, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(max_length=64)
    operation_key = models.CharField(max_length=600)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    operation_id = models.CharField(max_length=300, blank=True, default="")
    summary = models.CharField(max_length=500, blank=True, default="")
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    deprecated = models.BooleanField(default=False)
    input_schema = LargeJSONField(default=dict)
    output_schema = LargeJSONField(null=True, blank=True)
    arg_map = models.JSONField(default=dict, blank=True)
    body_content_type = models.CharField(max_length=100, blank=True, default="")
    security = models.JSONField(default=list, blank=True)
    quality = models.JSONField(default=list, blank=True, help_text="Quality finding codes for this tool")
    position = models.PositiveIntegerField(default=0, help_text="Order in the document")

    # classification (risk app); null until classified
    category = models.CharField(max_length=20, choices=Category.choices, blank=True, default="")
    category_tags = models.JSONField(default=list, blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True, default="")
    risk_score = models.PositiveSmallIntegerField(default=0)
    side_effect = models.BooleanField(default=False)
    pii = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    poisoning = models.JSONField(default=list, blank=True, help_text="Reasons the description looks like an injection")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["spec_version", "name"],
                name="tool_unique_name_per_version",
                violation_error_message="Tool names are unique within a spec version.",
            ),
            models.UniqueConstraint(
                fields=["spec_version", "operation_key"],
                name="tool_unique_op_per_version",
                violation_error_message="Each operation appears once per version.",
            ),
        ]
        indexes = [
            # inventory page and tools/list: tools of a version in document order
            models.Index(fields=["spec_version", "position"], name="tool_version_position_idx"),
            # tool detail by name within a project
            models.Index(fields=["project", "name"], name="tool_project_name_idx"),
        ]
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name

    def mcp_definition(self) -> dict:
        """The tool exactly as tools/list presents it."""
        definition = {"name": self.name, "description": self.description, "inputSchema": self.input_schema}
        if self.output_schema:
            definition["outputSchema"] = self.output_schema
        if self.annotations:
            definition["annotations"] = self.annotations
        return definition


class ToolRename(TimeStampedModel):
    """An admin's chosen name for an operation; applied on every re-import."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tool_renames")
    operation_key = models.CharField(max_length=600)
    name = models.CharField(max_length=64)
    renamed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "operation_key"],
                name="toolrename_unique_op",
                violation_error_message="This operation already has a chosen name.",
            ),
            models.UniqueConstraint(
                fields=["project", "name"],
                name="toolrename_unique_name",
                violation_error_message="Another operation already uses this name.",
            ),
        ]
