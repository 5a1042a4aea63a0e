"""Reads of the tool inventory. The current inventory is the tools of the project's current
spec version (the newest one whose analysis completed)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.specs.models import SpecVersion

from .models import Tool


def current_version(project) -> SpecVersion | None:
    return SpecVersion.objects.filter(project=project, is_current=True).first()


def current_tools(project) -> QuerySet[Tool]:
    """Tools agents can be offered for this project, in document order."""
    return Tool.objects.filter(project=project, spec_version__is_current=True).order_by("position")


def tool_by_name(project, name: str) -> Tool | None:
    return current_tools(project).filter(name=name).first()


INVENTORY_SORTS = {"position": "position", "name": "name", "risk": "-risk_score", "method": "method"}


def filtered_tools(
    project,
    *,
    q: str = "",
    method: str = "",
    tag: str = "",
    category: str = "",
    risk_level: str = "",
    sort: str = "position",
) -> QuerySet[Tool]:
    """The inventory table: search over name/path/description, filters, one ordering."""
    from django.db.models import Q

    tools = current_tools(project)
    if q:
        tools = tools.filter(
            Q(name__icontains=q) | Q(path__icontains=q) | Q(description__icontains=q) | Q(operation_id__icontains=q)
        )
    if method:
        tools = tools.filter(method=method.upper())
    if tag:
        tools = tools.filter(tags__contains=[tag])
    if category:
        tools = tools.filter(category=category)
    if risk_level:
        tools = tools.filter(risk_level=risk_level)
    return tools.order_by(INVENTORY_SORTS.get(sort, "position"), "position")


def project_tags(project) -> list[str]:
    tags: set[str] = set()
    for row in current_tools(project).values_list("tags", flat=True):
        tags.update(row or [])
    return sorted(tags)


def version_diff(project, old_version, new_version):
    from .diff import diff_tools, tool_to_row

    # tool_to_row reads only attributes a Tool row shares with a ToolDef
    old = [tool_to_row(t) for t in Tool.objects.filter(spec_version=old_version).order_by("position")]
    new = [tool_to_row(t) for t in Tool.objects.filter(spec_version=new_version).order_by("position")]
    return diff_tools(old, new)


def tool_tokens(tool: Tool) -> int:
    """Tokens one tool costs in tools/list, counted with the real tokenizer (apps.inventory.tokens)."""
    from .tokens import definition_tokens

    return max(1, definition_tokens(tool.mcp_definition()))


def tool_token_costs(version) -> dict[str, int]:
    """{operation_key: tokens} for a version's tools. Serialising every schema costs ~200 ms on Box,
    so it is cached per version and last row change (renames and overrides touch updated_at)."""
    import logging

    from django.core.cache import cache
    from django.db.models import Max

    def compute() -> dict[str, int]:
        return {t.operation_key: tool_tokens(t) for t in Tool.objects.filter(spec_version=version)}

    stamp = Tool.objects.filter(spec_version=version).aggregate(m=Max("updated_at"))["m"]
    key = f"mcpforge:tool-tokens:o200k:{version.pk}:{stamp.timestamp() if stamp else 0}"
    try:
        costs = cache.get(key)
        if costs is None:
            costs = compute()
            cache.set(key, costs, 24 * 3600)
    except Exception:  # noqa: BLE001 - a cache outage must not break the project page
        logging.getLogger(__name__).warning("token cost cache unavailable", exc_info=True)
        costs = compute()
    return costs


def token_cost_by_environment(project, version) -> list[tuple]:
    """[(environment, enabled tool count, tokens)] — what an agent pays for tools/list there
    (before per-user grants narrow it further)."""
    try:
        from apps.governance.selectors import enabled_map
    except ImportError:
        enabled_map = None
    costs = tool_token_costs(version)
    # enablement needs only these columns, not the schemas
    tools = list(current_tools(project).only("operation_key", "category", "category_tags", "tags", "poisoning"))
    rows = []
    for env in project.environments.all():
        states = enabled_map(env, tools) if enabled_map else {t.operation_key: True for t in tools}
        keys = [k for k, on in states.items() if on]
        rows.append((env, len(keys), sum(costs.get(k, 0) for k in keys)))
    return rows
