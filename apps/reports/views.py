"""The project's Reports page: generate, watch progress (htmx), retry, view HTML, download PDF."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.core.query import QueryInput
from apps.projects.selectors import project_access

from . import services
from .selectors import report_for, report_html, report_pdf, reports_of

# The stored report HTML is a self-contained document: inline CSS and SVG, no script, no
# external resource. The header makes sure a browser never runs or fetches anything from it.
REPORTS_PER_PAGE = 25
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def _page_context(access, project, **extra) -> dict:
    return {"access": access, "org": access.organization, "project": project, "active_nav": "projects",
            "can_generate": access.can("report.generate"), "can_download": access.can("report.download"),
            **extra}


@login_required
def report_list(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    paging = QueryInput(request.GET)
    page_number = paging.page()
    page = Paginator(reports_of(project), REPORTS_PER_PAGE).get_page(page_number)
    return render(request, "reports/list.html", _page_context(
        access, project, page=page, reports=list(page), environments=list(project.environments.all()),
        crumb="Security reports", errors=paging.errors), status=400 if paging.errors else 200)


@login_required
@require_POST
def report_generate(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, "report.generate")
    env_slug = (request.POST.get("environment") or "").strip()
    environment = None
    if env_slug and env_slug != "all":
        environment = project.environments.filter(slug=env_slug).first()
        if environment is None:
            messages.error(request, f"Unknown environment {env_slug!r}: choose one of the project's environments.")
            return redirect("reports:list", org_slug, project.slug)
    try:
        report = services.report_request(project=project, environment=environment, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Generating the security report for {report.scope_label.lower()}. "
                                  "It appears below when it is ready.")
    return redirect("reports:list", org_slug, project.slug)


@login_required
def report_row(request, org_slug, project_slug, report_id):
    """htmx partial: one row of the reports table, polled while the report is being built."""
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    report = report_for(project, report_id)
    return render(request, "reports/_row.html", _page_context(access, project, r=report))


@login_required
@require_POST
def report_retry(request, org_slug, project_slug, report_id):
    access, project = project_access(request.user, org_slug, project_slug, "report.generate")
    report = report_for(project, report_id)
    try:
        services.report_retry(report=report, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, "Generating the report again.")
    return redirect("reports:list", org_slug, project.slug)


def _ready_report(request, org_slug, project_slug, report_id, fmt):
    access, project = project_access(request.user, org_slug, project_slug, "report.download")
    report = report_for(project, report_id)
    services.report_download_record(report=report, actor=request.user, fmt=fmt)
    return report


@login_required
def report_download(request, org_slug, project_slug, report_id):
    try:
        report = _ready_report(request, org_slug, project_slug, report_id, "pdf")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("reports:list", org_slug, project_slug)
    response = HttpResponse(report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}.pdf"'
    response["X-Content-SHA256"] = report.pdf_sha256
    return response


@login_required
def report_view(request, org_slug, project_slug, report_id):
    try:
        report = _ready_report(request, org_slug, project_slug, report_id, "html")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("reports:list", org_slug, project_slug)
    response = HttpResponse(report_html(report), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = REPORT_CSP
    return response


def reports_panel(request, access, project) -> dict:
    """Project page panel: the latest report and a link to the Reports page."""
    recent = list(reports_of(project)[:5])
    latest = next((r for r in recent if r.status == r.Status.READY), None)
    in_flight = [r for r in recent if not r.is_finished]
    return {"panels": ["reports/_panel.html"], "reports_latest": latest, "reports_in_flight": in_flight,
            "reports_environments": list(project.environments.all())}

