"""The analysis of an imported spec version, run by the Celery task (``tasks.py``): the pipeline
(``pipeline.py``), then the tool rows with their classification, the version made current and
the apps above informed (``apps.specs.hooks.VERSION_ANALYSED``). It lives in risk, the highest
app it drives; specs keeps parsing and storing versions (dependencies point down, README
"Architecture")."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.inventory.models import Tool, ToolRename
from apps.specs import hooks
from apps.specs.domain import SpecError
from apps.specs.models import SpecVersion
from apps.specs.services import spec_mark_failed

from . import pipeline
from .services import apply_classification, apply_overrides

log = logging.getLogger(__name__)


def _set_stage(version_id: int, stage: str, percent: int) -> None:
    SpecVersion.objects.filter(pk=version_id).update(stage=stage, progress=percent, updated_at=timezone.now())


def spec_analyse(*, version_id: int) -> SpecVersion | None:
    """Run the analysis of one version and make it current when it completes.

    Safe to run twice (a redelivered task after a worker crash starts over); nothing is
    visible until the final transaction, which writes every tool and flips ``is_current``.
    """
    claimed = SpecVersion.objects.filter(
        pk=version_id, status__in=[SpecVersion.Status.QUEUED, SpecVersion.Status.RUNNING]
    ).update(
        status=SpecVersion.Status.RUNNING,
        stage=SpecVersion.Stage.PARSING,
        progress=5,
        started_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not claimed:
        return None  # already finished (or unknown): nothing to do
    version = SpecVersion.objects.select_related("project__organization").get(pk=version_id)
    SpecVersion.objects.filter(pk=version_id).update(attempts=version.attempts + 1)
    project = version.project
    renames = dict(ToolRename.objects.filter(project=project).values_list("operation_key", "name"))
    previous = dict(
        Tool.objects.filter(project=project, spec_version__is_current=True).values_list("operation_key", "name")
    )
    try:
        result = pipeline.analyse(
            bytes(version.raw),
            filename=version.filename,
            max_bytes=settings.SPEC_MAX_BYTES,
            renames=renames,
            previous_names=previous,
            governance=_governance_facts(project),
            progress=lambda stage, pct: _set_stage(version_id, stage, pct),
        )
    except SpecError as exc:
        spec_mark_failed(version, str(exc), exc.pointer)
        return version
    except Exception as exc:  # noqa: BLE001 - any crash must leave a clear, retryable failure
        log.exception("analysis of %s failed", version)
        spec_mark_failed(
            version, f"The analysis crashed ({exc.__class__.__name__}). Retry, and report it if it persists.",
            retryable=True,
        )
        return version
    _set_stage(version_id, SpecVersion.Stage.ANALYSING, 90)
    _persist(version, result)
    version.refresh_from_db()
    return version


def _governance_facts(project):
    from .hooks import governance_facts  # apps.governance provides it

    return governance_facts(project)


def tool_row(version: SpecVersion, position: int, tool, classification, quality_codes: list[str]) -> Tool:
    row = Tool(
        organization_id=version.organization_id,
        project_id=version.project_id,
        spec_version=version,
        name=tool.name,
        operation_key=tool.operation_key,
        method=tool.method,
        path=tool.path[:500],
        operation_id=tool.operation_id[:300],
        summary=(tool.summary or "")[:500],
        description=tool.description,
        tags=list(tool.tags),
        deprecated=tool.deprecated,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        arg_map=tool.arg_map,
        body_content_type=tool.body_content_type or "",
        security=tool.security,
        quality=quality_codes,
        position=position,
    )
    if classification is not None:
        apply_classification(row, classification)
    return row


@transaction.atomic
def _persist(version: SpecVersion, result: pipeline.AnalysisResult) -> None:
    parsed = result.parsed
    per_tool: dict[str, list[str]] = {}
    everyone = len(result.tools)
    for finding in result.findings:
        if everyone > 1 and len(set(finding.tools)) >= everyone:
            continue  # names every tool: a project-wide finding, shown once on the project, not per tool
        for name in finding.tools:
            per_tool.setdefault(name, []).append(finding.code)
    rows = [
        tool_row(version, i, tool, result.classifications.get(tool.name), per_tool.get(tool.name, []))
        for i, tool in enumerate(result.tools)
    ]
    for row in rows:
        row.poisoning = result.poisoning.get(row.name, [])
    # An admin's category / risk override applies to the operation in every version.
    apply_overrides(project=version.project, tools=rows)
    Tool.objects.filter(spec_version=version).delete()  # a re-run after a crash starts clean
    Tool.objects.bulk_create(rows, batch_size=500)
    SpecVersion.objects.filter(project_id=version.project_id, is_current=True).exclude(pk=version.pk).update(
        is_current=False
    )
    SpecVersion.objects.filter(pk=version.pk).update(
        status=SpecVersion.Status.READY,
        stage=SpecVersion.Stage.DONE,
        progress=100,
        is_current=True,
        title=parsed.title[:300],
        api_version=parsed.version[:100],
        openapi_version=parsed.source_version[:20],
        servers=parsed.servers,
        security_schemes=parsed.security_schemes,
        warnings=[{"message": w.message, "pointer": w.pointer} for w in parsed.warnings],
        findings=[pipeline.finding_as_dict(f) for f in result.findings],
        score=result.score,
        tool_count=len(rows),
        token_estimate=result.token_estimate,
        analysis_ms=sum(result.timings_ms.values()),
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    audit_record(
        organization=version.project.organization,
        event_type="spec.analysed",
        actor=None,
        actor_label="analysis worker",
        target=version,
        target_label=str(version),
        payload={
            "tools": len(rows),
            "warnings": len(parsed.warnings),
            "score": result.score.get("score"),
            "timings_ms": result.timings_ms,
        },
    )
    # Governance keeps every environment on the definition an admin enabled (changes wait for
    # review); credentials follow a key placement this version moved (hooks.VERSION_ANALYSED).
    hooks.version_analysed(project=version.project, version=version,
                           security_schemes=dict(parsed.security_schemes or {}))
