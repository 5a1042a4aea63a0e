"""Toolset pages: the project's toolsets with their endpoints and token bill, each environment's
listing switches, and the toolset editor. Everyone with ``project.view`` reads; writes need
``governance.manage`` (admins, owners). Thin: access helper, form, service or selector."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.core.views import form_error
from apps.inventory.selectors import compact_listing_on, current_version
from apps.projects.endpoints import endpoint_url
from apps.projects.selectors import environment_for, project_access

from . import selectors, services
from .forms import ListingForm, ToolsetForm, compact_initial, compact_value

VIEW, MANAGE = "project.view", "governance.manage"


def _context(access, project, **extra) -> dict:
    return {"access": access, "org": access.organization, "project": project, "active_nav": "projects",
            "crumb": "Toolsets", "tab": "toolsets", "can_manage": access.can(MANAGE),
            "environments": list(project.environments.all()), "global_compact": compact_listing_on(), **extra}


def _bills(project) -> dict:
    version = current_version(project)
    return {row["slug"]: row for row in selectors.toolset_token_bill(project, version)} if version else {}


@login_required
def index(request, org_slug, project_slug):
    """The toolsets (tools, endpoints, token bill), the new-toolset form and the listing switches."""
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    form = ToolsetForm(request.POST or None, project=project)
    if request.method == "POST":
        access.require(MANAGE)
        if form.is_valid():
            data = form.cleaned_data
            try:
                toolset = services.toolset_create(
                    project=project, actor=request.user, slug=data["slug"], name=data["name"],
                    description=data["description"], tool_names=data["tool_names"],
                    compact_tools=compact_value(data["compact_tools"]), listing_mode=data["listing_mode"])
            except DomainError as exc:
                form_error(request, form, exc)
            else:
                messages.success(request, f"Toolset {toolset.slug} created with {len(toolset.tool_names)} tools.")
                return redirect("toolsets:index", org_slug, project_slug)
    bills = _bills(project)
    base = {env.slug: endpoint_url(settings.SITE_URL, org_slug, project_slug, env.slug)
            for env in project.environments.all()}
    rows = [(t, bills.get(t.slug)) for t in selectors.toolsets_of(project)]
    listing_forms = [(env, ListingForm(initial={"compact_tools": compact_initial(env.compact_tools),
                                                "listing_mode": env.listing_mode}, prefix=env.slug), base[env.slug])
                     for env in project.environments.all()]
    return render(request, "toolsets/index.html", _context(access, project, form=form, rows=rows,
                                                           listing_forms=listing_forms, endpoints=base),
                  status=400 if request.method == "POST" else 200)


@login_required
def detail(request, org_slug, project_slug, toolset_slug):
    """One toolset: read for everyone, edit for admins."""
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    toolset = selectors.toolset_for(project, toolset_slug)
    initial = {"name": toolset.name, "description": toolset.description, "tool_names": list(toolset.tool_names),
               "compact_tools": compact_initial(toolset.compact_tools), "listing_mode": toolset.listing_mode}
    form = ToolsetForm(request.POST or None, project=project, editing=True, initial=initial)
    if request.method == "POST":
        access.require(MANAGE)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.toolset_update(toolset=toolset, actor=request.user, name=data["name"],
                                        description=data["description"], tool_names=data["tool_names"],
                                        compact_tools=compact_value(data["compact_tools"]),
                                        listing_mode=data["listing_mode"])
            except DomainError as exc:
                form_error(request, form, exc)
            else:
                messages.success(request, f"Toolset {toolset.slug} saved.")
                return redirect("toolsets:detail", org_slug, project_slug, toolset.slug)
    endpoints = [(env, endpoint_url(settings.SITE_URL, org_slug, project_slug, env.slug)
                  + f"toolsets/{toolset.slug}/") for env in project.environments.all()]
    return render(request, "toolsets/detail.html", _context(
        access, project, toolset=toolset, form=form, endpoints=endpoints, bill=_bills(project).get(toolset.slug)),
        status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def delete(request, org_slug, project_slug, toolset_slug):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    toolset = selectors.toolset_for(project, toolset_slug)
    services.toolset_delete(toolset=toolset, actor=request.user)
    messages.success(request, f"Toolset {toolset_slug} deleted; its endpoints answer 404 from now on.")
    return redirect("toolsets:index", org_slug, project_slug)


@login_required
@require_POST
def listing(request, org_slug, project_slug, env_slug):
    """An environment's listing switches (compact definitions, full or search-first)."""
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    environment = environment_for(project, env_slug)
    form = ListingForm(request.POST, prefix=environment.slug)
    if not form.is_valid():
        messages.error(request, "Choose a listing mode (full or search-first) and a definitions form.")
        return redirect("toolsets:index", org_slug, project_slug)
    try:
        services.environment_listing_set(environment=environment, actor=request.user,
                                         compact_tools=compact_value(form.cleaned_data["compact_tools"]),
                                         listing_mode=form.cleaned_data["listing_mode"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Tool listing of {environment.name} saved.")
    return redirect("toolsets:index", org_slug, project_slug)


def project_panel(request, access, project) -> dict:
    """The project's toolsets on the project page (registered in apps.py)."""
    return {"panels": ["toolsets/_panel.html"], "toolsets": list(selectors.toolsets_of(project))}
