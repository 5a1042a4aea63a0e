"""Reads of toolsets, scoped through the project the caller already reached (projects.selectors)."""

from __future__ import annotations

from django.http import Http404

from .listing import ToolsetView
from .models import Toolset


def toolsets_of(project):
    """The project's toolsets by slug (the unique (project, slug) index)."""
    return Toolset.objects.filter(project=project).order_by("slug")


def toolset_for(project, slug: str) -> Toolset:
    toolset = Toolset.objects.filter(project=project, slug=slug).select_related("project", "organization").first()
    if toolset is None:
        raise Http404("No such toolset.")
    return toolset


def toolset_views(project_id: int) -> dict[str, ToolsetView]:
    """slug -> ``ToolsetView`` of every toolset of a project, for the gateway's snapshot (one query)."""
    rows = Toolset.objects.filter(project_id=project_id).values_list(
        "slug", "name", "tool_names", "compact_tools", "listing_mode")
    return {slug: ToolsetView(slug=slug, name=name, tool_names=frozenset(names or ()), compact_tools=compact,
                              listing_mode=mode or "")
            for slug, name, names, compact, mode in rows}
