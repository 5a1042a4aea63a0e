"""Toolsets: named, admin-curated subsets of a project's tools, each with its own MCP endpoint."""

from django.db import models

from apps.accounts.models import Organization
from apps.core.models import TimeStampedModel
from apps.projects.models import Project


class Toolset(TimeStampedModel):
    """A named subset of a project's tools ("support-readonly", "refunds") served at
    ``/mcp/<org>/<project>/<environment>/toolsets/<slug>/`` in every environment of the project.

    Membership is by tool name (``tool_names``), which survives re-imports like the names agents
    see; a name the current inventory lacks is simply not listed. The endpoint adds no
    permission: grants, enablement and policies of the environment still decide, the toolset
    only narrows. ``compact_tools`` / ``listing_mode`` override the environment's when set.
    Every insert, update or delete bumps the project's config version (migration 0001), so the
    gateway never serves a changed toolset from its caches."""

    class ListingMode(models.TextChoices):
        INHERIT = "", "As the environment"
        FULL = "full", "Full listing"
        SEARCH_FIRST = "search-first", "Search-first (meta-tools only)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="toolsets")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    tool_names = models.JSONField(default=list, blank=True, help_text="Names of the tools in this toolset")
    compact_tools = models.BooleanField(null=True, blank=True, help_text="None: as the environment")
    listing_mode = models.CharField(max_length=20, choices=ListingMode.choices, blank=True, default="")
    created_by_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            # also the index of the gateway's lookup (project, slug) and of the project's list
            models.UniqueConstraint(fields=["project", "slug"], name="toolset_unique_slug_per_project",
                                    violation_error_message="This project already has a toolset with that slug."),
        ]
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"
