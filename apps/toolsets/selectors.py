"""Reads of toolsets, scoped through the project the caller already reached (projects.selectors)."""

from __future__ import annotations

from django.http import Http404

from apps.inventory.listing import ToolsetView

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


def toolset_token_bill(project, version) -> list[dict]:
    """Per toolset: what its listing costs an agent (real tokenizer) in each environment (the
    toolset's tools enabled there, in the form its switches serve) and as a ceiling (every tool
    of the toolset, in its own or the default form), each with the 20,000-token budget finding.
    Per-user grants can only make a listing smaller."""
    from apps.governance.selectors import enabled_map
    from apps.inventory.listing import effective
    from apps.inventory.selectors import compact_listing_on, current_tools, listing_bill_row, tool_token_bill

    toolsets = list(toolsets_of(project))
    if not toolsets:  # most projects: no tool list, environments or enablement to read
        return []
    bill = tool_token_bill(version)
    tools = list(current_tools(project).only("name", "operation_key", "category", "category_tags", "tags",
                                             "poisoning"))
    names = {t.operation_key: t.name for t in tools}
    environments = list(project.environments.all())
    states = {env.pk: enabled_map(env, tools) for env in environments}
    rows = []
    for toolset in toolsets:
        members = [t for t in tools if t.name in set(toolset.tool_names)]
        keys = [t.operation_key for t in members]
        compact, mode = effective(global_compact=compact_listing_on(), env_compact=None, env_mode="full",
                                  toolset_compact=toolset.compact_tools, toolset_mode=toolset.listing_mode)
        per_env = []
        for env in environments:
            env_compact, env_mode = effective(global_compact=compact_listing_on(), env_compact=env.compact_tools,
                                              env_mode=env.listing_mode, toolset_compact=toolset.compact_tools,
                                              toolset_mode=toolset.listing_mode)
            enabled = [k for k in keys if states[env.pk].get(k)]
            per_env.append({"slug": env.slug, "name": env.name,
                            **listing_bill_row(bill, enabled, names, compact=env_compact, mode=env_mode,
                                               fix_target="toolset")})
        rows.append({"toolset": toolset, "slug": toolset.slug, "name": toolset.name,
                     "missing": sorted(set(toolset.tool_names) - {t.name for t in members}),
                     **listing_bill_row(bill, keys, names, compact=compact, mode=mode, fix_target="toolset"),
                     "environments": per_env})
    return rows
