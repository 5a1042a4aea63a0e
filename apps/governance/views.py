"""Governance pages: permissions matrix, grants, approval policies, policy simulator.

Viewers and up read; writes need ``governance.manage`` (admins, owners). Thin: access
helper, form, service or selector, render/redirect.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Team
from apps.core.errors import DomainError
from apps.core.query import QueryInput
from apps.core.views import form_error
from apps.inventory.selectors import current_tools, current_version, tool_by_name
from apps.projects.selectors import environment_for, project_access

from . import hooks, selectors, services
from .forms import (
    CATEGORY_CHOICES,
    ROLE_CHOICES,
    GrantForm,
    PolicyForm,
    SimulatorForm,
    policy_rows_from_post,
    rows_for_editor,
)
from .models import ApprovalPolicy, Grant

VIEW, MANAGE = "project.view", "governance.manage"
MATRIX_PAGE_SIZE = 100


def _context(access, project, tab: str, **extra) -> dict:
    return {"access": access, "org": access.organization, "project": project, "active_nav": "projects",
            "crumb": "Governance", "tab": tab, "can_manage": access.can(MANAGE),
            "can_manage_credentials": access.can("credentials.manage"),
            "environments": list(project.environments.all()), **extra}


def _environment_or_none(project, slug: str):
    return environment_for(project, slug) if slug else None


@login_required
def index(request, org_slug, project_slug):
    project_access(request.user, org_slug, project_slug, VIEW)
    return redirect("governance:permissions", org_slug, project_slug)


# --------------------------------------------------------------------------- permissions matrix


@login_required
def permissions(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    query = QueryInput(request.GET)
    params = {"q": query.text("q", label="search"),
              "category": query.choice("category", [v for v, _ in CATEGORY_CHOICES]), "tag": query.text("tag")}
    page_number = query.page()
    ctx = _context(access, project, "permissions", params=params, categories=CATEGORY_CHOICES,
                   tags=selectors.project_tag_choices(project), version=current_version(project),
                   errors=query.errors)
    # refused filters: 400, the form re-shown with the messages, no rows
    rows = selectors.matrix(project, ctx["environments"], **params) if query.ok else []
    ctx["unguarded"] = sum(1 for row in rows for cell in row.cells if cell["unguarded"])
    ctx["page"] = Paginator(rows, MATRIX_PAGE_SIZE).get_page(page_number)
    ctx["rows"], ctx["total"] = ctx["page"].object_list, len(rows)
    ctx["query"] = urlencode({k: v for k, v in params.items() if v})
    return render(request, "governance/permissions.html", ctx, status=200 if query.ok else 400)


@login_required
@require_POST
def toggle(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    environment = environment_for(project, request.POST.get("environment", ""))
    key = request.POST.get("operation_key", "")
    enabled = request.POST.get("enabled") == "true"
    # a tool the poisoning scan flags is enabled only with a reason (htmx prompt or form field)
    reason = request.POST.get("override_reason", "") or request.headers.get("HX-Prompt", "")
    try:
        result = services.tool_set_enabled(project=project, environment=environment, operation_keys=[key],
                                           enabled=enabled, actor=request.user, override_reason=reason,
                                           reason=request.POST.get("reason", ""))
    except DomainError as exc:
        if exc.field == "reason":  # a sensitive tool outside development: confirm with a reason
            url = _confirm_url(org_slug, project_slug, key, environment.slug)
            if request.htmx:
                response = render(request, "governance/_error.html", {"message": exc.message}, status=400)
                response["HX-Redirect"] = url
                return response
            messages.error(request, exc.message)
            return redirect(url)
        if request.htmx:
            return render(request, "governance/_error.html", {"message": exc.message}, status=400)
        messages.error(request, exc.message)
        return redirect("governance:permissions", org_slug, project_slug)
    if request.htmx:
        row = selectors.matrix(project, [environment], operation_key=key)[0]
        return render(request, "governance/_cell.html", {**_context(access, project, "permissions"),
                                                         "row": row, "cell": row.cells[0], "findings": result.findings})
    for finding in result.findings:
        messages.warning(request, f"Finding: {finding}")
    messages.success(request, f"{'Enabled' if enabled else 'Disabled'} in {environment.name}.")
    return redirect("governance:permissions", org_slug, project_slug)


def _confirm_url(org_slug, project_slug, key: str, environment_slug: str) -> str:
    from django.urls import reverse

    return (reverse("governance:toggle_confirm", args=[org_slug, project_slug]) + "?"
            + urlencode({"operation_key": key, "environment": environment_slug}))


@login_required
def toggle_confirm(request, org_slug, project_slug):
    """Enabling a critical, administrative or billing tool outside development: confirm, with a
    reason recorded in the ``tool.enabled`` audit event (the form posts to ``toggle``)."""
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    environment = environment_for(project, request.GET.get("environment", ""))
    tool = current_tools(project).filter(operation_key=request.GET.get("operation_key", "")).first()
    if tool is None:
        raise Http404("No such tool.")
    return render(request, "governance/toggle_confirm.html", {
        **_context(access, project, "permissions"), "tool": tool, "environment": environment,
        "reason_max": services.REASON_MAX})


@login_required
@require_POST
def bulk(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    environment = environment_for(project, request.POST.get("environment", ""))
    enabled = request.POST.get("action") == "enable"
    category, tag = request.POST.get("category", ""), request.POST.get("tag", "")
    try:
        result = services.tool_bulk_set(project=project, environment=environment, enabled=enabled,
                                        category=category, tag=tag, actor=request.user,
                                        reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        what = " and ".join(filter(None, [f"category {category.replace('_', '-')}" if category else "",
                                          f"tag {tag}" if tag else ""]))
        messages.success(request, f"{'Enabled' if enabled else 'Disabled'} {len(result.changed)} tool(s) with {what} "
                                  f"in {environment.name} ({len(result.unchanged)} already were).")
        for finding in result.findings:
            messages.warning(request, f"Finding: {finding}")
    return redirect("governance:permissions", org_slug, project_slug)


# --------------------------------------------------------------------------- grants


@login_required
def grants(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    form = GrantForm(request.POST or None, project=project)
    if request.method == "POST":
        access.require(MANAGE)
        if form.is_valid():
            data = form.cleaned_data
            try:
                environment = _environment_or_none(project, data["environment"])
                team = Team.objects.filter(organization=project.organization, slug=data["team"]).first() \
                    if data["team"] else None
                user = selectors.member(project.organization, data["user"]) if data["user"] else None
                grant = services.grant_create(
                    project=project, actor=request.user, effect=data["effect"],
                    principal_kind=data["principal_kind"], environment=environment, role=data["role"], team=team,
                    user=user, all_tools=data["all_tools"], operation_keys=data["operation_keys"],
                    categories=data["categories"], tags=data["tags"], note=data["note"])
            except DomainError as exc:
                form_error(request, form, exc)
            else:
                messages.success(request, f"Grant added: {selectors.grant_ref(grant).describe()}.")
                return redirect("governance:grants", org_slug, project_slug)
    rows = [(g, selectors.grant_ref(g)) for g in selectors.grant_list(project)]
    names = dict(current_tools(project).values_list("operation_key", "name"))
    return render(request, "governance/grants.html", _context(access, project, "grants", form=form, rows=rows,
                                                               tool_names=names))


@login_required
@require_POST
def grant_delete(request, org_slug, project_slug, grant_id):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    grant = Grant.objects.filter(project=project, public_id=grant_id).select_related("team", "user",
                                                                                      "environment").first()
    if grant is None:
        raise Http404("No such grant.")
    services.grant_delete(grant=grant, actor=request.user)
    messages.success(request, "Grant removed.")
    return redirect("governance:grants", org_slug, project_slug)


# --------------------------------------------------------------------------- approval policies


@login_required
def policies(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    names = dict(current_tools(project).values_list("operation_key", "name"))
    return render(request, "governance/policies.html", _context(
        access, project, "policies", policies=selectors.policy_list(project), tool_names=names,
        suggestions=selectors.suggested_policies(project)))


@login_required
@require_POST
def accept_suggestions(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    keys = request.POST.getlist("key") or None
    try:
        created = services.accept_suggested_policies(project=project, actor=request.user, keys=keys)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Created {len(created)} suggested polic{'y' if len(created) == 1 else 'ies'}.")
    return redirect("governance:policies", org_slug, project_slug)


def _policy_or_404(project, policy_id) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.filter(project=project, public_id=policy_id).select_related("environment").first()
    if policy is None:
        raise Http404("No such policy.")
    return policy


@login_required
def policy_edit(request, org_slug, project_slug, policy_id=None):
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    policy = _policy_or_404(project, policy_id) if policy_id else None
    if policy is None:
        access.require(MANAGE)
    initial = PolicyForm.initial_for(policy) if policy else {"kind": "single", "order": "any", "expires_hours": 24}
    form = PolicyForm(request.POST or None, project=project, initial=initial)
    steps = list(policy.steps) if policy else []
    tiers = services.conditional_tiers_of(policy) if policy else []
    if request.method == "POST":
        access.require(MANAGE)
        steps, tiers = policy_rows_from_post(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            fields = dict(
                name=data["name"], kind=data["kind"], approvals_required=data["approvals_required"],
                order=data["order"], steps=steps, conditional_tiers=tiers, expires_after=form.expires_after(),
                justification_required=data["justification_required"], all_tools=data["all_tools"],
                operation_keys=data["operation_keys"], categories=data["categories"], tags=data["tags"])
            try:
                fields["environment"] = _environment_or_none(project, data["environment"])
                if policy:
                    policy = services.policy_update(policy=policy, actor=request.user, **fields)
                else:
                    policy = services.policy_create(project=project, actor=request.user, **fields)
            except DomainError as exc:
                form_error(request, form, exc)
            else:
                messages.success(request, f"Policy {policy.name} saved.")
                return redirect("governance:policies", org_slug, project_slug)
    step_rows, tier_rows = rows_for_editor(steps, tiers)
    return render(request, "governance/policy_edit.html", _context(
        access, project, "policies", form=form, policy=policy, step_rows=step_rows, tier_rows=tier_rows,
        teams=Team.objects.filter(organization=project.organization), roles=ROLE_CHOICES,
        operators=selectors.conditions.OPERATORS))


@login_required
@require_POST
def policy_delete(request, org_slug, project_slug, policy_id):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    policy = _policy_or_404(project, policy_id)
    services.policy_delete(policy=policy, actor=request.user)
    messages.success(request, f"Policy {policy.name} deleted.")
    return redirect("governance:policies", org_slug, project_slug)


# --------------------------------------------------------------------------- simulator


@login_required
def simulator(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    form = SimulatorForm(request.GET if "tool" in request.GET else None, project=project)
    result = tool = environment = user = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        user = selectors.member(project.organization, data["user"])
        tool = tool_by_name(project, data["tool"])
        environment = environment_for(project, data["environment"])
        if user is None or tool is None:
            raise Http404("No such member or tool.")
        result = selectors.simulate(user=user, tool=tool, environment=environment, arguments=data["arguments"])
    return render(request, "governance/simulator.html", _context(
        access, project, "simulator", form=form, result=result, sim_tool=tool, sim_environment=environment,
        sim_user=user))


# --------------------------------------------------------------------------- project page panel


def project_panel(request, access, project) -> dict:
    """Governance summary on the project page (registered in apps.py)."""
    environments = list(project.environments.all())
    rows = selectors.matrix(project, environments)
    enabled = [sum(1 for r in rows if r.cells[i]["enabled"]) for i in range(len(environments))]
    return {
        "panels": ["governance/_panel.html"],
        "gov_env_counts": list(zip(environments, enabled, strict=True)),
        "gov_tool_count": len(rows),
        "gov_grant_count": Grant.objects.filter(project=project).count(),
        "gov_policy_count": ApprovalPolicy.objects.filter(project=project).count(),
        "gov_unguarded": sum(1 for r in rows for c in r.cells if c["unguarded"]),
        "gov_suggestions": len(selectors.suggested_policies(project)),
        "gov_stale_credentials": hooks.stale_credential_count(project),
        "gov_pending_reviews": selectors.pending_review_count(project),
    }


# --------------------------------------------------------------------------- definition reviews


@login_required
def reviews(request, org_slug, project_slug):
    """Tools whose definition a re-import changed, per environment, still served as pinned."""
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    rows = list(selectors.pending_reviews(project))
    return render(request, "governance/reviews.html", _context(access, project, "reviews", rows=rows))


@login_required
def review(request, org_slug, project_slug, setting_id):
    """Side-by-side diff of the pinned and the new definition of one tool in one environment;
    admins accept it (a flagged definition needs the override reason)."""
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    setting = selectors.pending_review(project, setting_id)
    error = ""
    if request.method == "POST":
        access.require(MANAGE)
        try:
            services.definition_accept(setting=setting, actor=request.user,
                                       expected_sha256=request.POST.get("sha256", ""),
                                       override_reason=request.POST.get("override_reason", ""))
        except DomainError as exc:
            error = exc.message
            setting = selectors.pending_review(project, setting_id)
        else:
            messages.success(request, f"{setting.environment.name} now serves the new definition of "
                                      f"{setting.pending_tool.name}.")
            return redirect("governance:reviews", org_slug, project_slug)
    ctx = _context(access, project, "reviews", review=selectors.definition_review(setting), setting=setting,
                   error=error, override_reason=request.POST.get("override_reason", ""))
    return render(request, "governance/review.html", ctx, status=400 if error else 200)
