"""Every write of the reports app: request a report, build it (worker), retry, record downloads."""

from __future__ import annotations

import hashlib
import logging
import time

from django.db import transaction
from django.utils import timezone

from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import Conflict, DomainError
from apps.projects.models import Environment, Project

from . import render
from .models import Report
from .selectors import previous_report_data
from .snapshot import report_snapshot

log = logging.getLogger(__name__)

DOWNLOAD_FORMATS = ("pdf", "html", "json")


def report_request(*, project: Project, environment: Environment | None, actor) -> Report:
    """Queue a new report of ``project`` (one environment, or all with ``None``). Returns at once;
    the worker builds it (``report_build``) and audits ``report.generated`` when it is ready."""
    if environment is not None and environment.project_id != project.pk:
        raise DomainError("That environment belongs to another project.", field="environment")
    with transaction.atomic():
        report = Report.objects.create(
            organization_id=project.organization_id, project=project, environment=environment,
            scope_label=environment.name if environment is not None else "All environments",
            generated_by=actor if getattr(actor, "pk", None) else None,
            generated_by_label=actor_label_for(actor)[:200],
        )
        _enqueue(report)
    return report


def report_retry(*, report: Report, actor) -> Report:
    """Queue a failed report again (the one-click retry on the Reports page)."""
    with transaction.atomic():
        updated = Report.objects.filter(pk=report.pk, status=Report.Status.FAILED).update(
            status=Report.Status.QUEUED, stage=Report.Stage.QUEUED, progress=0, error="",
            generated_by=actor if getattr(actor, "pk", None) else None,
            generated_by_label=actor_label_for(actor)[:200], updated_at=timezone.now())
        if not updated:
            raise DomainError("Only a failed report can be retried.")
        _enqueue(report)
    report.refresh_from_db()
    return report


def _enqueue(report: Report) -> None:
    from .tasks import build_report

    report_id = report.pk
    transaction.on_commit(lambda: build_report.delay(report_id))


def _set_stage(report_id: int, stage: str, percent: int) -> None:
    # Committed at once (no surrounding transaction) so the polling page sees the progress.
    Report.objects.filter(pk=report_id, status=Report.Status.RUNNING).update(
        stage=stage, progress=percent, updated_at=timezone.now())


def _pdf_progress(report_id: int, tool_count: int):
    """Progress callback for the PDF stage (45% -> 98%): layout is most of the time, so pages
    laid out move the bar; the database is written at most every half second."""
    expected_pages = max(10, 12 + tool_count // 25)
    state = {"percent": 45, "at": 0.0}

    def on_step(step: int, page: int) -> None:
        if step < 5:
            percent = 45 + 2 * step
        elif step == 5:
            percent = 53 + min(32, 32 * page // expected_pages)
        else:
            percent = 85 + 6 * (step - 5)
        now = time.monotonic()
        if percent > state["percent"] and now - state["at"] >= 0.5:
            state.update(percent=percent, at=now)
            _set_stage(report_id, Report.Stage.PDF, min(percent, 98))

    return on_step


def report_mark_failed(*, report_id: int, message: str) -> None:
    """Record a failed generation; the page shows ``message`` and offers a retry."""
    Report.objects.filter(pk=report_id, status__in=[Report.Status.QUEUED, Report.Status.RUNNING]).update(
        status=Report.Status.FAILED, error=message[:4000], finished_at=timezone.now(), updated_at=timezone.now())


def report_build(*, report_id: int) -> Report | None:
    """Collect the snapshot, render HTML and PDF, and make the report ready (what the task runs).

    Claiming the row with a conditional update makes a redelivered task harmless: a report
    that is already ready or failed is left alone; one left ``running`` by a crashed worker
    starts over. Nothing but progress is visible until the final transaction.
    """
    claimed = Report.objects.filter(
        pk=report_id, status__in=[Report.Status.QUEUED, Report.Status.RUNNING]
    ).update(status=Report.Status.RUNNING, stage=Report.Stage.COLLECTING, progress=5,
             started_at=timezone.now(), updated_at=timezone.now())
    if not claimed:
        return None
    report = Report.objects.select_related("project__organization", "environment", "generated_by").get(pk=report_id)
    Report.objects.filter(pk=report_id).update(attempts=report.attempts + 1)
    started = time.perf_counter()
    try:
        previous = previous_report_data(report)
        snapshot = report_snapshot(project=report.project, environment=report.environment,
                                   generated_by_label=report.generated_by_label,
                                   report_id=str(report.public_id), previous=previous)
        _set_stage(report_id, Report.Stage.RENDERING, 35)
        html = render.report_html(snapshot.data)
        _set_stage(report_id, Report.Stage.PDF, 45)
        pdf, pages = render.report_pdf(html, on_step=_pdf_progress(report_id, len(snapshot.data["tools"])))
    except Exception as exc:  # noqa: BLE001 - any crash must leave a clear, retryable failure
        log.exception("report %s failed", report_id)
        reason = exc.message if isinstance(exc, DomainError) else exc.__class__.__name__
        report_mark_failed(report_id=report_id,
                           message=f"The report could not be built ({reason}). Retry, and tell us if it persists.")
        return Report.objects.get(pk=report_id)
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    _report_finish(report=report, data=snapshot.data, spec_version=snapshot.spec_version, html=html, pdf=pdf,
                   pages=pages, render_ms=elapsed_ms)
    report.refresh_from_db()
    return report


@transaction.atomic
def _report_finish(*, report: Report, data: dict, spec_version, html: str, pdf: bytes, pages: int,
                   render_ms: int) -> None:
    digest = hashlib.sha256(pdf).hexdigest()
    spec = data.get("spec") or {}
    score = (data.get("score") or {}).get("value")
    updated = Report.objects.filter(pk=report.pk, status=Report.Status.RUNNING).update(
        status=Report.Status.READY, stage=Report.Stage.DONE, progress=100, finished_at=timezone.now(),
        updated_at=timezone.now(), data=data, html=html, pdf=pdf, pdf_sha256=digest, pdf_bytes=len(pdf),
        page_count=pages, render_ms=render_ms, spec_version=spec_version,
        spec_number=spec.get("number"), spec_label=spec.get("label", "")[:200], score=score,
        tool_count=len(data.get("tools", [])),
    )
    if not updated:
        # Someone else finished or failed it meanwhile (a redelivered duplicate): keep theirs.
        return
    audit_record(organization=report.project.organization, event_type="report.generated",
                 actor=report.generated_by, actor_label=report.generated_by_label or None, target=report,
                 target_label=f"{report.project.slug} · {report.scope_label}",
                 payload={"project": report.project.slug, "scope": report.scope_label, "score": score,
                          "spec_version": spec.get("number"), "tools": len(data.get("tools", [])),
                          "pages": pages, "sha256": digest, "render_ms": render_ms})


def report_download_record(*, report: Report, actor, fmt: str) -> None:
    """Audit one download (PDF, HTML or JSON) of a ready report."""
    if fmt not in DOWNLOAD_FORMATS:
        raise DomainError(f"Unknown format {fmt!r}; use one of {', '.join(DOWNLOAD_FORMATS)}.")
    if report.status != Report.Status.READY:
        raise Conflict("This report is not ready yet.")
    with transaction.atomic():
        audit_record(organization=report.project.organization, event_type="report.downloaded", actor=actor,
                     target=report, target_label=f"{report.project.slug} · {report.scope_label}",
                     payload={"project": report.project.slug, "format": fmt, "sha256": report.pdf_sha256})
