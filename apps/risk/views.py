"""Risk pages: the project dashboard panel, the findings page, how the score works, and
the override form posted from the tool page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import DomainError
from apps.inventory.selectors import current_version, tool_by_name
from apps.projects.selectors import project_access

from . import selectors, services
from .score import FORMULA_MARKDOWN

TOP_FINDINGS = 5


def project_panel(request, access, project) -> dict:
    """Security Score gauge, tools by category and risk level, top findings (registered in
    RiskConfig.ready on the project page)."""
    score, findings = selectors.project_score(project)
    return {
        "panels": ["risk/_panel.html"],
        "risk_score": score,
        "risk_top_findings": selectors.finding_rows(findings[:TOP_FINDINGS], score, set()),
        "risk_finding_count": len(findings),
        "risk_severities": selectors.severity_counts(findings),
        "risk_counts": selectors.inventory_counts(project) if score is not None else None,
    }


@login_required
@require_GET
def findings(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    score, all_findings = selectors.project_score(project)
    severity = (request.GET.get("severity") or "").strip()
    category = (request.GET.get("category") or "").strip()
    shown = selectors.filter_findings(all_findings, severity=severity, category=category)
    return render(
        request,
        "risk/findings.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "version": current_version(project),
            "score": score,
            "rows": selectors.finding_rows(shown, score, selectors.current_tool_names(project)),
            "total": len(all_findings),
            "severity": severity,
            "category": category,
            "severities": selectors.SEVERITY_ORDER,
            "categories": list(selectors.FINDING_CATEGORY_LABELS.items()),
            "severity_counts": selectors.severity_counts(all_findings),
            "overrides": selectors.recent_overrides(project),
            "can_export_overrides": access.can("risk.export_overrides"),
            "crumb": "Findings",
            "active_nav": "projects",
        },
    )


@login_required
@require_GET
def score_formula(request, org_slug, project_slug):
    """How the score works: the documented formula and this project's deductions line by line."""
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    score, _ = selectors.project_score(project)
    return render(
        request,
        "risk/formula.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "score": score,
            "formula": FORMULA_MARKDOWN,
            "crumb": "How the score works",
            "active_nav": "projects",
        },
    )


@login_required
@require_GET
def overrides_export(request, org_slug, project_slug, fmt):
    """Download the project's overrides as labelled data (JSON/CSV) for the classifier benchmark."""
    access, project = project_access(request.user, org_slug, project_slug, "risk.export_overrides")
    try:
        body, content_type = services.risk_overrides_export(project=project, actor=request.user, fmt=fmt)
    except DomainError as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="overrides-{project.slug}.{fmt}"'
    return response


def _tool_or_404(project, tool_name):
    tool = tool_by_name(project, tool_name)
    if tool is None:
        raise Http404("No such tool in the current version.")
    return tool


@login_required
@require_POST
def override_set(request, org_slug, project_slug, tool_name):
    access, project = project_access(request.user, org_slug, project_slug, "risk.override")
    tool = _tool_or_404(project, tool_name)
    try:
        services.risk_override_set(
            tool=tool,
            actor=request.user,
            category=request.POST.get("category", ""),
            risk_level=request.POST.get("risk_level", ""),
            justification=request.POST.get("justification", ""),
        )
    except DomainError as exc:
        messages.error(request, f"Override not saved: {exc.message}")
    else:
        messages.success(
            request,
            f"{tool.name} is now {tool.get_category_display()} / {tool.get_risk_level_display()} risk. "
            "The override is kept on every re-import.",
        )
    return redirect("inventory:detail", org_slug, project.slug, tool.name)


@login_required
@require_POST
def override_remove(request, org_slug, project_slug, tool_name):
    access, project = project_access(request.user, org_slug, project_slug, "risk.override")
    tool = _tool_or_404(project, tool_name)
    try:
        services.risk_override_remove(tool=tool, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Override removed: {tool.name} is back to the classifier's verdict "
            f"({tool.get_category_display()} / {tool.get_risk_level_display()} risk).",
        )
    return redirect("inventory:detail", org_slug, project.slug, tool.name)
