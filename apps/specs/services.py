"""Every write of the import pipeline in specs: create a version and queue its analysis, retry,
record a failure. The analysis itself runs in apps.risk (``apps/risk/analysis.py``), queued
through ``hooks.analysis_queue`` (specs never imports the apps above it)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import DomainError
from apps.projects.models import Project

from . import hooks
from .fetch import FetchError, fetch_spec
from .models import SpecVersion

MB = 1024 * 1024


class ImportRejected(DomainError):
    """The document was refused before analysis (too large, empty, unreachable URL)."""


def _record_rejection(*, project: Project, actor, source: str, reason: str, filename: str = "") -> None:
    # Its own transaction: the rejection is worth recording even though the import fails.
    with transaction.atomic():
        audit_record(
            organization=project.organization,
            event_type="spec.import_failed",
            actor=actor,
            target=project,
            payload={"source": source, "filename": filename, "reason": reason},
        )


def spec_import_url(*, project: Project, url: str, actor) -> SpecVersion:
    """Download a document (SSRF-checked) and import it."""
    allowed = frozenset(h.strip().lower() for h in settings.SPEC_IMPORT_ALLOWED_HOSTS)
    try:
        fetched = fetch_spec(url, max_bytes=settings.SPEC_MAX_BYTES, allowed_hosts=allowed)
    except FetchError as exc:
        _record_rejection(project=project, actor=actor, source="url", reason=str(exc), filename=url)
        raise ImportRejected(f"Cannot import from {url}: {exc}", field="url") from exc
    return spec_import(
        project=project,
        data=fetched.content,
        source=SpecVersion.Source.URL,
        source_url=url,
        filename=url.rsplit("/", 1)[-1][:255],
        actor=actor,
    )


def spec_import(
    *,
    project: Project,
    data: bytes,
    source: str,
    actor,
    filename: str = "",
    source_url: str = "",
    run_async: bool = True,
) -> SpecVersion:
    """Store the document as a new version and queue its analysis. Returns at once."""
    if not data or not data.strip():
        _record_rejection(project=project, actor=actor, source=source, reason="empty document", filename=filename)
        raise ImportRejected("The document is empty.", field="document")
    if len(data) > settings.SPEC_MAX_BYTES:
        reason = f"the document is {len(data) / MB:.1f} MB; the limit is {settings.SPEC_MAX_BYTES / MB:.0f} MB"
        _record_rejection(project=project, actor=actor, source=source, reason=reason, filename=filename)
        raise ImportRejected(f"Rejected: {reason}.", field="document")
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # serialise version numbers
        number = (SpecVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
        version = SpecVersion.objects.create(
            organization_id=project.organization_id,
            project=project,
            number=number,
            source=source,
            source_url=source_url,
            filename=filename[:255],
            raw=data,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            imported_by=actor if getattr(actor, "pk", None) else None,
            imported_by_label=getattr(actor, "email", "") or str(actor or "system"),
        )
        audit_record(
            organization=project.organization,
            event_type="spec.imported",
            actor=actor,
            target=version,
            target_label=f"{project.slug} v{number}",
            payload={
                "source": source,
                "filename": filename,
                "url": source_url,
                "sha256": version.sha256,
                "size_bytes": len(data),
            },
        )
        if run_async:
            queue = hooks.analysis_queue()  # apps.risk runs the analysis
            transaction.on_commit(lambda: queue(version.pk))
    return version


def spec_retry(*, version: SpecVersion, actor) -> SpecVersion:
    """Queue a failed analysis again (one click on the page), only when the failure was transient
    (``retryable``): the same bytes of an invalid document would fail again."""
    if version.status == SpecVersion.Status.FAILED and not version.retryable:
        raise DomainError("The same document would fail again the same way: import a corrected file instead.")
    with transaction.atomic():
        updated = SpecVersion.objects.filter(pk=version.pk, status=SpecVersion.Status.FAILED, retryable=True).update(
            status=SpecVersion.Status.QUEUED,
            stage=SpecVersion.Stage.QUEUED,
            progress=0,
            error="",
            error_pointer="",
            retryable=False,
            updated_at=timezone.now(),
        )
        if not updated:
            raise DomainError("Only a failed analysis can be retried.")
        audit_record(
            organization=version.project.organization,
            event_type="spec.analysis_retried",
            actor=actor,
            target=version,
            target_label=str(version),
        )
        queue = hooks.analysis_queue()  # apps.risk runs the analysis
        transaction.on_commit(lambda: queue(version.pk))
    version.refresh_from_db()
    return version


def spec_mark_failed(version: SpecVersion, message: str, pointer: str = "", *, retryable: bool = False) -> None:
    """Record a failed analysis (status, reason, audit event); the previous version stays current.

    ``retryable`` only for failures the same bytes may not repeat (a crash, a timeout): an
    invalid document fails the same way every time, and is fixed by importing a corrected file."""
    with transaction.atomic():
        SpecVersion.objects.filter(pk=version.pk).update(
            status=SpecVersion.Status.FAILED,
            error=message[:4000],
            error_pointer=pointer[:500],
            retryable=retryable,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        audit_record(
            organization=version.project.organization,
            event_type="spec.import_failed",
            actor=None,
            actor_label="analysis worker",
            target=version,
            target_label=str(version),
            payload={"reason": message[:1000], "pointer": pointer},
        )
