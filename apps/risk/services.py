"""Every write of the risk app: admin overrides of the classifier's verdict.

An override is stored per operation (``RiskOverride``) and applied in two places:

* ``apply_overrides`` rewrites the freshly classified, unsaved ``Tool`` rows of every
  import (``apps.risk.analysis._persist`` calls it before ``bulk_create``), so the
  override survives re-import;
* ``risk_override_set`` / ``risk_override_remove`` rewrite the rows of the current
  version at once, so the inventory, the gateway's annotations and the live Security
  Score follow immediately.

The classifier's own verdict is never lost: it is the second reason line of an overridden
tool, and removing the override re-classifies the operation from the stored document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import DomainError
from apps.inventory.models import Tool
from apps.inventory.selectors import current_tools

from . import rules
from .evalset import dump_csv, dump_json
from .models import RiskOverride

log = logging.getLogger(__name__)

OVERRIDE_PREFIX = "Overridden by "
VERDICT_PREFIX = "Classifier verdict: "
SENSITIVE_CATEGORIES = frozenset({"critical", "administrative", "billing"})
JUSTIFICATION_MAX = 2000
# the classification columns of a Tool row, rewritten together
CLASSIFICATION_FIELDS = [
    "category",
    "category_tags",
    "risk_level",
    "risk_score",
    "side_effect",
    "pii",
    "reasons",
    "annotations",
    "updated_at",
]


class NoOverride(DomainError):
    """Removing an override that does not exist."""

    status_code = 404


def level_band(level: str) -> tuple[int, int]:
    """The risk_score range of a level, from the classifier's own thresholds (low 0-24 ...)."""
    ordered = sorted(rules.LEVEL_THRESHOLDS)  # ((0, "low"), (25, "medium"), ...)
    for i, (threshold, name) in enumerate(ordered):
        if name == level:
            upper = ordered[i + 1][0] - 1 if i + 1 < len(ordered) else 100
            return threshold, upper
    raise ValueError(f"unknown risk level {level!r}")


def _is_override_line(reason: str) -> bool:
    return reason.startswith((OVERRIDE_PREFIX, VERDICT_PREFIX))


def override_reason(override: RiskOverride) -> str:
    """The first reason line of an overridden tool (shown in the inventory, API and reports)."""
    return f"{OVERRIDE_PREFIX}{override.actor_label}: {override.justification}"


def is_overridden(tool: Tool) -> bool:
    return bool(tool.reasons) and str(tool.reasons[0]).startswith(OVERRIDE_PREFIX)


def _verdict_line(tool: Tool) -> str:
    tags = f" (+{', '.join(tool.category_tags)})" if tool.category_tags else ""
    return (
        f"{VERDICT_PREFIX}{tool.category or 'unclassified'}{tags}, "
        f"{tool.risk_level or 'unrated'} risk ({tool.risk_score})"
    )


def _apply(tool: Tool, override: RiskOverride) -> None:
    """Rewrite one row's classification with ``override``.

    The row holds the classifier's values (a fresh import, or a row just re-classified).
    An overridden category is the whole verdict: the classifier's secondary category tags
    go (they would otherwise keep "critical" findings alive on a tool the admin says is a
    plain write), the side-effect flag and MCP hints follow the category, and a risk level
    moves the 0-100 score into that level's band. A sensitive category is never low risk
    (the classifier's invariant): it is raised to medium, and the reason says so.
    """
    existing = [str(r) for r in (tool.reasons or [])]
    verdict = next((r for r in existing if r.startswith(VERDICT_PREFIX)), None) or _verdict_line(tool)
    base_reasons = [r for r in existing if not _is_override_line(r)]
    notes: list[str] = []
    annotations = dict(tool.annotations or {})
    if override.category:
        tool.category = override.category
        tool.category_tags = []
        tool.side_effect = override.category != Tool.Category.READ_ONLY
        annotations["readOnlyHint"] = not tool.side_effect
        if override.category == Tool.Category.CRITICAL:
            annotations["destructiveHint"] = True
        elif override.category in (Tool.Category.READ_ONLY, Tool.Category.SIDE_EFFECT):
            annotations["destructiveHint"] = False
        if not tool.side_effect:
            annotations["idempotentHint"] = True
    level = override.risk_level or tool.risk_level
    if tool.category in SENSITIVE_CATEGORIES and level in ("", "low"):
        level = "medium"
        notes.append(f"raised to medium: a {tool.category} tool is never low risk")
    if level:
        low, high = level_band(level)
        tool.risk_level = level
        tool.risk_score = min(max(int(tool.risk_score or 0), low), high)
    tool.annotations = annotations
    tool.reasons = [override_reason(override), verdict, *notes, *base_reasons]


def apply_overrides(*, project, tools: list[Tool]) -> None:
    """Apply the project's overrides to freshly classified ``Tool`` rows, in place.

    Called by the import (``apps.risk.analysis._persist``) on the unsaved rows, before
    ``bulk_create``, so every re-import keeps the admins' decisions. One query.
    """
    overrides = {o.operation_key: o for o in RiskOverride.objects.filter(project=project)}
    if not overrides:
        return
    for tool in tools:
        override = overrides.get(tool.operation_key)
        if override is not None:
            _apply(tool, override)


def _classifier_verdicts(version, rows: Iterable[Tool]) -> dict[str, object]:
    """operation_key -> the classifier's ``Classification`` of that operation, computed from
    the version's stored document exactly as the import did (parse, build, classify with
    the document for $refs). Used to undo an override without re-importing."""
    from dataclasses import replace

    from apps.inventory.toolgen import build_tools
    from apps.specs.parse import load_document

    from .classify import classify_tool
    from .pii import PiiScanner

    wanted = {row.operation_key: row.name for row in rows}
    parsed = load_document(bytes(version.raw), filename=version.filename, max_bytes=settings.SPEC_MAX_BYTES)
    scanner = PiiScanner(document=parsed.document)
    verdicts = {}
    for tool_def in build_tools(parsed):
        if tool_def.operation_key in wanted:
            # the row's name: an admin rename must not change the annotations' title fallback
            named = replace(tool_def, name=wanted[tool_def.operation_key])
            verdicts[tool_def.operation_key] = classify_tool(named, pii_scanner=scanner)
    return verdicts


def apply_classification(tool: Tool, classification) -> None:
    """Put a classifier verdict on a Tool row: the one mapping from ``Classification`` to columns,
    used by the import and by undoing an override."""
    tool.category = classification.category
    tool.category_tags = sorted(classification.tags)
    tool.risk_level = classification.risk_level
    tool.risk_score = int(classification.risk_score)
    tool.side_effect = bool(classification.side_effect)
    tool.pii = list(classification.pii)
    tool.reasons = list(classification.reasons)
    tool.annotations = dict(classification.annotations)


def _refresh_current_row(tool: Tool, override: RiskOverride | None) -> Tool:
    """Re-classify the current row of the operation and apply ``override`` (or none)."""
    row = current_tools(tool.project).select_for_update().filter(operation_key=tool.operation_key).first()
    if row is None:
        return tool
    verdict = _classifier_verdicts(row.spec_version, [row]).get(row.operation_key)
    if verdict is not None:
        apply_classification(row, verdict)
    else:
        # the stored document no longer yields this operation (cannot happen for a ready
        # version); keep the classifier reasons the row has
        log.warning("no classifier verdict for %s in %s", row.operation_key, row.spec_version_id)
        row.reasons = [r for r in row.reasons or [] if not _is_override_line(str(r))]
    if override is not None:
        _apply(row, override)
    row.save(update_fields=CLASSIFICATION_FIELDS)
    if row.pk == tool.pk:
        for name in CLASSIFICATION_FIELDS:
            setattr(tool, name, getattr(row, name))
    return row


def _clean(category: str, risk_level: str, justification: str) -> tuple[str, str, str]:
    category = (category or "").strip()
    risk_level = (risk_level or "").strip()
    justification = (justification or "").strip()
    if category and category not in Tool.Category.values:
        raise DomainError(
            f"Unknown category '{category}'; choose one of {', '.join(Tool.Category.values)}.", field="category"
        )
    if risk_level and risk_level not in Tool.RiskLevel.values:
        raise DomainError(
            f"Unknown risk level '{risk_level}'; choose one of {', '.join(Tool.RiskLevel.values)}.",
            field="risk_level",
        )
    if not category and not risk_level:
        raise DomainError("Choose a category, a risk level or both to override.", field="category")
    if not justification:
        raise DomainError(
            "A justification is required: say why the classifier is wrong for this tool.", field="justification"
        )
    if len(justification) > JUSTIFICATION_MAX:
        raise DomainError(f"Keep the justification under {JUSTIFICATION_MAX} characters.", field="justification")
    return category, risk_level, justification


def _snapshot(override: RiskOverride | None) -> dict | None:
    if override is None:
        return None
    return {
        "category": override.category,
        "risk_level": override.risk_level,
        "justification": override.justification,
        "by": override.actor_label,
    }


@transaction.atomic
def risk_override_set(
    *, tool: Tool, actor, category: str = "", risk_level: str = "", justification: str
) -> RiskOverride:
    """Create or change the override of ``tool``'s operation, audited as ``risk.overridden``,
    and rewrite the current row at once. Empty ``category``/``risk_level`` keep the
    classifier's value. Raises ``DomainError`` (with ``field``) on bad input."""
    category, risk_level, justification = _clean(category, risk_level, justification)
    if category in SENSITIVE_CATEGORIES and risk_level == "low":
        raise DomainError(
            f"A {category} tool cannot be low risk; choose medium or higher, or another category.",
            field="risk_level",
        )
    project = tool.project
    existing = (
        RiskOverride.objects.select_for_update().filter(project=project, operation_key=tool.operation_key).first()
    )
    before = _snapshot(existing)
    override = existing or RiskOverride(
        organization_id=project.organization_id, project=project, operation_key=tool.operation_key
    )
    override.category = category
    override.risk_level = risk_level
    override.justification = justification
    override.actor = actor if getattr(actor, "pk", None) else None
    override.actor_label = actor_label_for(actor)[:200]
    override.save()
    row = _refresh_current_row(tool, override)
    _pin_defaults(project)
    audit_record(
        organization=project.organization,
        event_type="risk.overridden",
        actor=actor,
        target=override,
        target_label=f"{row.name} ({tool.operation_key})",
        payload={
            "project": project.slug,
            "tool": row.name,
            "operation": tool.operation_key,
            "classifier": _verdict_from_reasons(row),
            "before": before,
            "after": _snapshot(override),
        },
    )
    return override


def _verdict_from_reasons(row: Tool) -> str:
    return next((str(r)[len(VERDICT_PREFIX) :] for r in row.reasons or [] if str(r).startswith(VERDICT_PREFIX)), "")


@transaction.atomic
def risk_override_remove(*, tool: Tool, actor) -> None:
    """Delete the override of ``tool``'s operation (audited as ``risk.override_removed``) and
    put the classifier's verdict back on the current row."""
    project = tool.project
    override = (
        RiskOverride.objects.select_for_update().filter(project=project, operation_key=tool.operation_key).first()
    )
    if override is None:
        raise NoOverride(f"{tool.name} has no classification override.")
    before = _snapshot(override)
    audit_record(
        organization=project.organization,
        event_type="risk.override_removed",
        actor=actor,
        target=override,
        target_label=f"{tool.name} ({tool.operation_key})",
        payload={"project": project.slug, "tool": tool.name, "operation": tool.operation_key, "before": before},
    )
    override.delete()
    _refresh_current_row(tool, None)
    _pin_defaults(project)


def _pin_defaults(project) -> None:
    """A category the override changed can make a tool on by the risk default somewhere: it is
    served with a pinned definition from then on, like any default-on tool (apps.governance,
    through hooks.OVERRIDE_CHANGED)."""
    from .hooks import OVERRIDE_CHANGED

    if not OVERRIDE_CHANGED:
        raise RuntimeError("No override hook: apps.governance is not installed or not ready.")
    for hook in OVERRIDE_CHANGED:
        hook(project=project)


EXPORT_FORMATS = ("json", "csv")


@transaction.atomic
def risk_overrides_export(*, project, actor, fmt: str) -> tuple[str, str]:
    """The project's overrides as labelled data (``docs/labelling-guide.md`` format) for
    ``bench/classify_eval.py --overrides``; audited as ``risk.overrides_exported``.
    Returns (body, content type). Raises ``DomainError`` for an unknown format."""
    from .selectors import overrides_as_labels  # selectors import this module's constants

    if fmt not in EXPORT_FORMATS:
        raise DomainError(f"Unknown export format {fmt!r}: use json or csv.", field="format")
    labels, skipped = overrides_as_labels(project)
    audit_record(
        organization=project.organization,
        event_type="risk.overrides_exported",
        actor=actor,
        target=project,
        target_label=project.slug,
        payload={"project": project.slug, "format": fmt, "labels": len(labels), "skipped_risk_level_only": skipped},
    )
    if fmt == "csv":
        return dump_csv(labels), "text/csv; charset=utf-8"
    return dump_json(labels), "application/json"
