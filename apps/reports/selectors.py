"""Reads of the reports app: a project's reports, one report and its stored content, and the
previous report a new one is compared with. The snapshot a report is built from is
assembled by ``snapshot.report_snapshot``.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from apps.projects.models import Project

from .models import Report

# Heavy columns a list page never needs.
_HEAVY = ("data", "html", "pdf")


# --------------------------------------------------------------------------- report lists


def reports_of(project: Project) -> QuerySet[Report]:
    """The project's reports, newest first, without their snapshot, HTML or PDF."""
    return (Report.objects.filter(project=project).defer(*_HEAVY)
            .select_related("environment", "generated_by", "project").order_by("-created_at"))


def latest_ready_report(project: Project) -> Report | None:
    return reports_of(project).filter(status=Report.Status.READY).first()


def report_for(project: Project, report_id, *, with_content: bool = False) -> Report:
    """One report of ``project`` by public id (404 otherwise). The project was already reached
    through the caller's organization access, so another organization's report is a 404."""
    try:
        rid = uuid.UUID(str(report_id))
    except ValueError as exc:
        raise Http404("No such report.") from exc
    qs = Report.objects.filter(project=project, public_id=rid).select_related("environment", "project__organization")
    if not with_content:
        qs = qs.defer(*_HEAVY)
    report = qs.first()
    if report is None:
        raise Http404("No such report.")
    return report


def report_pdf(report: Report) -> bytes:
    return bytes(Report.objects.filter(pk=report.pk).values_list("pdf", flat=True).get())


def report_html(report: Report) -> str:
    return Report.objects.filter(pk=report.pk).values_list("html", flat=True).get()


def report_data(report: Report) -> dict:
    return Report.objects.filter(pk=report.pk).values_list("data", flat=True).get()


def previous_report_data(report: Report) -> dict | None:
    """The newest ready report of the same project and scope created before ``report``:
    the baseline of the "what changed" section (tool names and score only)."""
    previous = (Report.objects.filter(project_id=report.project_id, environment_id=report.environment_id,
                                      status=Report.Status.READY, created_at__lt=report.created_at)
                .order_by("-created_at").values("public_id", "created_at", "score", "spec_label", "data").first())
    if previous is None:
        return None
    tools = [t.get("name") for t in (previous["data"] or {}).get("tools", [])]
    return {"id": str(previous["public_id"]), "created_at": previous["created_at"].isoformat(),
            "score": previous["score"], "spec": previous["spec_label"], "tools": tools}

