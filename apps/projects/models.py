"""Projects (one governed API each) and their environments."""

from django.db import models

from apps.accounts.models import Organization
from apps.core.models import TimeStampedModel

DEFAULT_ENVIRONMENTS = ("development", "staging", "production")


class Project(TimeStampedModel):
    """One upstream API under governance: its specs, tools, policies and reports hang off it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True, default="")
    # Facts the product cannot infer; they appear in the security report.
    owner_contact = models.CharField(max_length=200, blank=True, default="")
    rollback_procedure = models.TextField(blank=True, default="")
    incident_response_plan = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"],
                name="project_unique_slug_per_org",
                violation_error_message="A project with this name already exists in the organization.",
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Environment(TimeStampedModel):
    """A deployment stage of a project (development, staging, production, ...): its own MCP endpoint."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0)
    base_url = models.URLField(
        max_length=500, blank=True, default="", help_text="Upstream API base URL the gateway calls in this environment"
    )
    allow_private_network = models.BooleanField(
        default=False, help_text="Allow an upstream on a private/loopback address (set by an admin, audited)"
    )
    # How this environment's MCP endpoint lists tools (apps/inventory/listing.py); set by an admin, audited.
    compact_tools = models.BooleanField(null=True, blank=True, help_text="None: as MCP_COMPACT_TOOLS")
    listing_mode = models.CharField(
        max_length=20, choices=[("full", "Full listing"), ("search-first", "Search-first (meta-tools only)")],
        default="full",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "slug"],
                name="environment_unique_slug_per_project",
                violation_error_message="This project already has an environment with that name.",
            )
        ]
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"
