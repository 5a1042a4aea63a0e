"""Reads of the tool inventory. The current inventory is the tools of the project's current
spec version (the newest one whose analysis completed)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.query import QueryInput
from apps.specs.selectors import current_version  # noqa: F401 - re-exported: the version the inventory shows

from . import hooks
from .models import Tool


def current_tools(project) -> QuerySet[Tool]:
    """Tools agents can be offered for this project, in document order."""
    return Tool.objects.filter(project=project, spec_version__is_current=True).order_by("position")


def tool_by_name(project, name: str) -> Tool | None:
    return current_tools(project).filter(name=name).first()


INVENTORY_SORTS = {"position": "position", "name": "name", "risk": "-risk_score", "method": "method"}
INVENTORY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


def tool_filters(query) -> tuple[dict[str, str], list[str]]:
    """The inventory filters of ``query`` (page and REST) and a message per refused value."""
    params = QueryInput(query)
    method = params.text("method", max_length=10).upper()
    if method and method not in INVENTORY_METHODS:
        params.errors.append(f"Unknown method {method!r}; use one of {', '.join(INVENTORY_METHODS)}.")
        method = ""
    values = {
        "q": params.text("q", label="search"),
        "method": method,
        "tag": params.text("tag"),
        "category": params.choice("category", Tool.Category.values),
        "risk_level": params.choice("risk_level", Tool.RiskLevel.values, label="risk level"),
        "sort": params.choice("sort", INVENTORY_SORTS),
    }
    return values, params.errors


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

    def row(tool: Tool) -> dict:
        # tool_to_row reads only attributes a Tool row shares with a ToolDef; the page also shows
        # how risky an added tool is (category and risk level, in words)
        return {**tool_to_row(tool), "risk_level": tool.risk_level, "risk_label": tool.get_risk_level_display(),
                "category_label": tool.get_category_display()}

    old = [row(t) for t in Tool.objects.filter(spec_version=old_version).order_by("position")]
    new = [row(t) for t in Tool.objects.filter(spec_version=new_version).order_by("position")]
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
    costs = tool_token_costs(version)
    # enablement needs only these columns, not the schemas
    tools = list(current_tools(project).only("operation_key", "category", "category_tags", "tags", "poisoning"))
    rows = []
    for env in project.environments.all():
        states = hooks.enabled_map(env, tools)
        keys = [k for k, on in states.items() if on]
        rows.append((env, len(keys), sum(costs.get(k, 0) for k in keys)))
    return rows


def compact_listing_on() -> bool:
    """Whether the gateway serves compact definitions (``MCP_COMPACT_TOOLS``, default on)."""
    from django.conf import settings

    return int(settings.MCP_COMPACT_TOOLS) != 0


def tool_token_bill(version) -> dict[str, dict[str, int]]:
    """{operation_key: {"full": tokens, "compact": tokens}} for a version's tools, counted with
    the real tokenizer; compacting Adyen's 28 tools costs ~3 s, so it is cached like
    ``tool_token_costs`` (per version and last row change)."""
    import logging

    from django.conf import settings
    from django.core.cache import cache
    from django.db.models import Max

    from .compact import TOOL_TOKEN_BUDGET, compact_definition
    from .tokens import definition_tokens

    budget = int(getattr(settings, "MCP_TOOL_TOKEN_BUDGET", None) or TOOL_TOKEN_BUDGET)

    def compute() -> dict[str, dict[str, int]]:
        bill = {}
        for tool in Tool.objects.filter(spec_version=version):
            definition = tool.mcp_definition()
            compact = compact_definition(definition, budget=budget, count=definition_tokens)
            bill[tool.operation_key] = {"full": definition_tokens(definition), "compact": definition_tokens(compact)}
        return bill

    stamp = Tool.objects.filter(spec_version=version).aggregate(m=Max("updated_at"))["m"]
    key = f"mcpforge:tool-token-bill:o200k:{budget}:{version.pk}:{stamp.timestamp() if stamp else 0}"
    try:
        bill = cache.get(key)
        if bill is None:
            bill = compute()
            cache.set(key, bill, 24 * 3600)
    except Exception:  # noqa: BLE001 - a cache outage must not break the page
        logging.getLogger(__name__).warning("token bill cache unavailable", exc_info=True)
        bill = compute()
    return bill


def search_first_listing_tokens() -> int:
    """What a search-first listing costs (the meta-tools and the approval-status tool): the same
    whatever the API size."""
    from .tokens import listing_tokens

    return listing_tokens(hooks.search_first_listing())


def listing_bill_row(bill: dict[str, dict[str, int]], keys: list[str], names: dict[str, str], *, compact: bool,
                     mode: str, fix_target: str) -> dict:
    """The figures of one listing (an environment's or a toolset's) of the tools ``keys``:
    full and compact totals, what is served in its mode, and past ``LISTING_TOKEN_BUDGET`` the
    heaviest tools and the fix. A search-first listing serves the meta-tools only."""
    from .listing import SEARCH_FIRST
    from .tokens import LISTING_TOKEN_BUDGET

    keys = [k for k in keys if k in bill]
    full = sum(bill[k]["full"] for k in keys)
    small = sum(bill[k]["compact"] for k in keys)
    form = "compact" if compact else "full"
    served = search_first_listing_tokens() if mode == SEARCH_FIRST else (small if compact else full)
    heaviest = sorted(keys, key=lambda k: -bill[k][form])[:3]
    over = served > LISTING_TOKEN_BUDGET
    fix = ""
    if over:
        fix = (f"Disable the heaviest tools in this {fix_target}, split the API into toolsets, or switch its "
               "listing to search-first") + ("" if compact else ", and turn compact definitions on "
                                                   "(its compact switch, or MCP_COMPACT_TOOLS=1)")
    return {"tools": len(keys), "full": full, "compact": small, "served": served,
            "mode": "search-first" if mode == SEARCH_FIRST else form, "budget": LISTING_TOKEN_BUDGET,
            "over_budget": over,
            "heaviest": [{"name": names[k], "tokens": bill[k][form]} for k in heaviest] if over else [], "fix": fix}


def environment_token_bill(project, version) -> list[dict]:
    """Per environment: the enabled tools, what their listing costs in full and compact form
    (real tokenizer), which form the gateway serves there (the environment's switches,
    apps/inventory/listing.py), and, past ``LISTING_TOKEN_BUDGET``, the heaviest tools and the
    fix. Per-user grants can only make a listing smaller."""
    from .listing import effective

    bill = tool_token_bill(version)
    tools = list(current_tools(project).only("name", "operation_key", "category", "category_tags", "tags",
                                             "poisoning"))
    names = {t.operation_key: t.name for t in tools}
    rows = []
    for env in project.environments.all():
        states = hooks.enabled_map(env, tools)
        keys = [k for k, on in states.items() if on]
        compact, mode = effective(global_compact=compact_listing_on(), env_compact=env.compact_tools,
                                  env_mode=env.listing_mode)
        rows.append({"environment": env, "slug": env.slug, "name": env.name,
                     **listing_bill_row(bill, keys, names, compact=compact, mode=mode, fix_target="environment")})
    return rows
