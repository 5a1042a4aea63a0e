"""Tool inventory: searchable table and the tool as an agent sees it."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render

from apps.core.errors import DomainError
from apps.core.query import QueryInput
from apps.projects.selectors import project_access
from apps.specs.models import SpecVersion
from apps.specs.selectors import version_for, versions_of

from . import hooks, selectors, services
from .models import Tool


def _enabled_by_env(project, tools):
    """{tool operation_key: {env slug: bool}}."""
    result: dict[str, dict[str, bool]] = {}
    for env in project.environments.all():
        for key, enabled in hooks.enabled_map(env, tools).items():
            result.setdefault(key, {})[env.slug] = enabled
    return result


@login_required
def tool_list(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug)
    params, errors = selectors.tool_filters(request.GET)
    paging = QueryInput(request.GET)
    page_number = paging.page()
    errors += paging.errors
    # refused filters: 400, the form re-shown with the messages, no rows
    tools = selectors.filtered_tools(project, **params) if not errors else Tool.objects.none()
    page = Paginator(tools, 50).get_page(page_number)
    rows = list(page.object_list)
    enabled = _enabled_by_env(project, rows)
    environments = list(project.environments.all())
    for tool in rows:
        tool.env_states = [(env, enabled.get(tool.operation_key, {}).get(env.slug)) for env in environments]
    version = selectors.current_version(project)
    token_bill = selectors.environment_token_bill(project, version) if version else []
    toolset_bill = hooks.toolset_bill(project, version) if version else []
    costs = selectors.tool_token_bill(version) if version else {}
    for tool in rows:
        tool.token_cost = costs.get(tool.operation_key, {"full": 0, "compact": 0})
    return render(
        request,
        "inventory/list.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "page": page,
            "rows": rows,
            "params": params,
            "query": urlencode({k: v for k, v in params.items() if v}),
            "version": version,
            "tags": selectors.project_tags(project),
            "environments": environments,
            "token_bill": token_bill,
            "toolset_bill": toolset_bill,
            "categories": Tool.Category.choices,
            "risk_levels": Tool.RiskLevel.choices,
            "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
            "crumb": "Tools",
            "active_nav": "projects",
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_required
def tool_detail(request, org_slug, project_slug, tool_name):
    access, project = project_access(request.user, org_slug, project_slug)
    tool = selectors.tool_by_name(project, tool_name)
    if tool is None:
        raise Http404("No such tool in the current version.")
    if request.method == "POST":
        access.require("tool.rename")
        try:
            services.tool_rename(tool=tool, new_name=request.POST.get("name", ""), actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Renamed to {tool.name}. The new name is kept on every re-import.")
            return redirect("inventory:detail", org_slug, project.slug, tool.name)
    version = selectors.current_version(project)
    findings = [f for f in (version.findings if version else []) if tool.name in (f.get("tools") or [])]
    return render(
        request,
        "inventory/detail.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "tool": tool,
            "findings": findings,
            "definition": tool.mcp_definition(),
            "crumb": tool.name,
            "active_nav": "projects",
        },
    )


@login_required
def spec_diff(request, org_slug, project_slug):
    """Tools added, removed and changed between two ready versions of the spec (URL under specs/)."""
    access, project = project_access(request.user, org_slug, project_slug)
    versions = [v for v in versions_of(project) if v.status == SpecVersion.Status.READY]
    diff = old = new = None
    error = ""
    if len(versions) >= 2:
        old_n = request.GET.get("from") or versions[1].number
        new_n = request.GET.get("to") or versions[0].number
        try:
            old, new = version_for(project, old_n), version_for(project, new_n)
        except Exception:  # noqa: BLE001 - Http404 for a bad number becomes a message on this page
            error = "Choose two existing versions."
        else:
            if old.status != SpecVersion.Status.READY or new.status != SpecVersion.Status.READY:
                error = "Both versions must have finished their analysis."
            else:
                diff = selectors.version_diff(project, old, new)
    return render(
        request,
        "inventory/spec_diff.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "versions": versions,
            "diff": diff,
            "old": old,
            "new": new,
            "error": error,
            "crumb": "Changes",
            "active_nav": "projects",
        },
        status=400 if error else 200,
    )


# --------------------------------------------------------------------------- project page


def token_cost_panel(request, access, project) -> dict:
    """The tools/list cost per environment in the spec panel of the project page (``token_costs``
    in specs/_panel.html; registered in apps.py: specs never imports the inventory)."""
    current = selectors.current_version(project)
    return {"token_costs": selectors.token_cost_by_environment(project, current) if current else []}
