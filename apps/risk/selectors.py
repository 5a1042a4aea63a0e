"""Reads of the risk app: overrides, and the live Security Score of a project.

The score a page shows is computed on each read (cached per configuration, see
``project_score``), not the one stored at import: governance findings ("critical tool
without approval", "credentials not configured"...) must follow every policy, switch,
grant, credential and override change without a re-import.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Value
from django.utils import timezone

from apps.inventory.models import Tool, ToolRename
from apps.inventory.selectors import current_version
from apps.specs.domain import Finding, ToolDef

from .classify import Classification
from .evalset import Label
from .models import RiskOverride

log = logging.getLogger(__name__)

UNCLASSIFIED = "critical"  # fail closed, as governance does: an unclassified tool counts as the riskiest
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
FINDING_CATEGORIES = ("governance", "security", "data_validation", "quality")
FINDING_CATEGORY_LABELS = {
    "governance": "Governance",
    "security": "Security",
    "data_validation": "Data validation",
    "quality": "Quality",
}
SCORE_CACHE_SECONDS = 3600
SCORE_CACHE_VERSION = 2  # bump when findings change: cached scores are recomputed


# --------------------------------------------------------------------------- overrides


def overrides_of(project) -> dict[str, RiskOverride]:
    """operation_key -> override, for a project. One query."""
    return {o.operation_key: o for o in RiskOverride.objects.filter(project=project)}


def override_for(tool: Tool) -> RiskOverride | None:
    return RiskOverride.objects.filter(project_id=tool.project_id, operation_key=tool.operation_key).first()


# --------------------------------------------------------------------------- rows -> pure data


def tool_def_from_row(row: Tool) -> ToolDef:
    """The ``ToolDef`` a row was generated from, as far as rows keep it (no responses,
    parameters or request schema: the findings that need those come from the import)."""
    return ToolDef(
        name=row.name,
        operation_key=row.operation_key,
        method=row.method,
        path=row.path,
        operation_id=row.operation_id,
        description=row.description,
        input_schema=row.input_schema or {},
        output_schema=row.output_schema,
        tags=list(row.tags or []),
        summary=row.summary,
        deprecated=row.deprecated,
        arg_map=row.arg_map or {},
        body_content_type=row.body_content_type or None,
        security=list(row.security or []),
    )


def classification_from_row(row: Tool) -> Classification:
    """The classification stored on a row (overrides included)."""
    annotations = dict(row.annotations or {})
    return Classification(
        category=row.category or UNCLASSIFIED,
        tags=set(row.category_tags or []),
        risk_level=row.risk_level or UNCLASSIFIED,
        risk_score=int(row.risk_score or 0),
        side_effect=bool(row.side_effect) or not row.category,
        pii=[dict(p) for p in row.pii or []],
        reasons=[str(r) for r in row.reasons or []],
        annotations=annotations,
        destructive=bool(annotations.get("destructiveHint")),
        open_world=bool(annotations.get("openWorldHint")),
    )


def finding_from_dict(data: dict[str, Any]) -> Finding:
    return Finding(
        code=str(data.get("code", "")),
        severity=str(data.get("severity", "info")),
        message=str(data.get("message", "")),
        remediation=str(data.get("remediation", "")),
        tools=tuple(str(t) for t in data.get("tools") or ()),
        category=str(data.get("category", "quality")),
    )


def finding_as_dict(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "category": finding.category,
        "message": finding.message,
        "tools": list(finding.tools),
        "remediation": finding.remediation,
    }


# --------------------------------------------------------------------------- live score

# Only rows' classification columns are needed; schemas and descriptions stay in the database.
_SCORE_COLUMNS = (
    "name",
    "operation_key",
    "method",
    "path",
    "operation_id",
    "category",
    "category_tags",
    "risk_level",
    "risk_score",
    "side_effect",
    "pii",
    "annotations",
    "reasons",
    "security",
)


def _lean_rows(version) -> list[Tool]:
    return list(Tool.objects.filter(spec_version=version).only(*_SCORE_COLUMNS).order_by("position"))


def _lean_tool_def(row: Tool) -> ToolDef:
    # identity, method and security only: the governance findings read names and classifications
    return ToolDef(
        name=row.name,
        operation_key=row.operation_key,
        method=row.method,
        path=row.path,
        operation_id=row.operation_id,
        description="",
        input_schema={},
        output_schema=None,
        security=list(row.security or []),
    )


def compute_project_score(project, version) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Security Score of ``version``'s tools under the project's governance *now*.

    Governance findings are recomputed with ``apps.risk.score.security_findings`` from the
    rows' classifications (overrides included) and ``governance_facts(project)``; the other
    findings depend only on the document and were computed at import from the full spec
    (responses, parameters, servers, which rows do not keep), so they are taken from the
    version. Then ``compute_score`` over both, per the documented formula.
    """
    from .hooks import governance_facts  # apps.governance provides it
    from .pipeline import score_as_dict
    from .score import compute_score, security_findings, sort_findings

    rows = _lean_rows(version)
    classifications = {row.name: classification_from_row(row) for row in rows}
    live = security_findings([_lean_tool_def(r) for r in rows], classifications, None, governance_facts(project))
    governance = [f for f in live if f.category == "governance"]
    stored = [finding_from_dict(d) for d in version.findings or [] if d.get("category") != "governance"]
    findings = sort_findings(stored + governance)
    score = score_as_dict(compute_score(findings, classifications))
    return score, [finding_as_dict(f) for f in findings]


def _configuration_stamp(project, version) -> str:
    """A digest of everything the live score reads besides the immutable version: one query.

    (latest change, row count) of each source table catches creations, edits and deletions;
    the date makes credential ages (stale after N days) count without an event.
    """
    from apps.projects.models import Environment

    from .hooks import score_sources  # governance and credentials add their tables

    sources = [
        ("env", Environment.objects.filter(project=project)),
        *score_sources(project),
        ("override", RiskOverride.objects.filter(project=project)),
        ("rename", ToolRename.objects.filter(project=project)),
        ("tool", Tool.objects.filter(spec_version=version)),
    ]
    parts = [
        qs.order_by()  # no default ordering: each part is one aggregate row
        .annotate(src=Value(label))
        .values("src")
        .annotate(at=Max("updated_at"), n=Count("pk"))
        .values_list("src", "at", "n")
        for label, qs in sources
    ]
    rows = sorted(parts[0].union(*parts[1:], all=True).order_by(), key=lambda r: r[0])
    text = repr((version.pk, timezone.localdate().isoformat(), rows))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def project_score(project) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(ScoreResult as a dict, findings as dicts, most severe first) of the project's current
    version under its current governance; ``(None, [])`` before a spec is analysed.

    Cached in Django's cache (Redis) per (version, configuration stamp), so a page load costs
    two queries while nothing changed and a policy, switch, grant, credential or override
    change shows on the next load.
    """
    version = current_version(project)
    if version is None:
        return None, []
    key = f"risk:score:{SCORE_CACHE_VERSION}:{project.pk}:{_configuration_stamp(project, version)}"
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage slows the page down, it must not break it
        log.warning("score cache unavailable", exc_info=True)
        return compute_project_score(project, version)
    if cached is not None:
        return cached
    result = compute_project_score(project, version)
    try:
        cache.set(key, result, SCORE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        log.warning("score cache unavailable", exc_info=True)
    return result


# --------------------------------------------------------------------------- pages


@dataclass
class FindingRow:
    """One finding on the findings page: the finding plus its code's deduction and links."""

    code: str
    severity: str
    category: str
    message: str
    remediation: str
    tools: list[str]
    points: float
    linked: list[str]  # affected tools present in the current inventory (linkable)

    @property
    def category_label(self) -> str:
        return FINDING_CATEGORY_LABELS.get(self.category, self.category)


def finding_rows(
    findings: Iterable[dict[str, Any]], score: dict[str, Any] | None, current_names: set[str]
) -> list[FindingRow]:
    deductions = {d["code"]: d["points"] for d in (score or {}).get("deductions", [])}
    return [
        FindingRow(
            code=f["code"],
            severity=f["severity"],
            category=f.get("category", "quality"),
            message=f["message"],
            remediation=f.get("remediation", ""),
            tools=list(f.get("tools") or []),
            points=deductions.get(f["code"], 0.0),
            linked=[t for t in f.get("tools") or [] if t in current_names],
        )
        for f in findings
    ]


def filter_findings(findings: list[dict[str, Any]], *, severity: str = "", category: str = "") -> list[dict]:
    return [
        f
        for f in findings
        if (not severity or f["severity"] == severity) and (not category or f.get("category") == category)
    ]


def current_tool_names(project) -> set[str]:
    return set(Tool.objects.filter(project=project, spec_version__is_current=True).values_list("name", flat=True))


def inventory_counts(project) -> dict[str, Any]:
    """Tools of the current version by category and by risk level, plus overridden and PII
    counts, for the dashboard bar charts. One query."""
    rows = list(
        Tool.objects.filter(project=project, spec_version__is_current=True).values_list(
            "category", "risk_level", "pii", "reasons"
        )
    )
    categories = Counter(c or UNCLASSIFIED for c, _, _, _ in rows)
    levels = Counter(level or UNCLASSIFIED for _, level, _, _ in rows)
    from .services import OVERRIDE_PREFIX

    return {
        "total": len(rows),
        "categories": [(value, label, categories.get(value, 0)) for value, label in Tool.Category.choices],
        "levels": [(value, label, levels.get(value, 0)) for value, label in reversed(Tool.RiskLevel.choices)],
        "pii": sum(1 for _, _, pii, _ in rows if pii),
        "overridden": sum(1 for *_, reasons in rows if reasons and str(reasons[0]).startswith(OVERRIDE_PREFIX)),
    }


def severity_counts(findings: Iterable[dict[str, Any]]) -> list[tuple[str, int]]:
    counts = Counter(f["severity"] for f in findings)
    return [(s, counts.get(s, 0)) for s in SEVERITY_ORDER if counts.get(s)]


def overrides_as_labels(project) -> tuple[list[Label], int]:
    """The project's overrides in the benchmark's label format (``apps.risk.evalset``), and how
    many were left out because they change only the risk level (no category to learn from).
    ``spec`` is the current version's file name, so ``bench/classify_eval.py --specs DIR``
    finds the document; ``pii`` is unknown (an override says nothing about personal data)."""
    version = current_version(project)
    spec = (getattr(version, "filename", "") or "") or f"{project.slug}.json"
    labels: list[Label] = []
    skipped = 0
    for o in RiskOverride.objects.filter(project=project).order_by("operation_key"):
        if not o.category:
            skipped += 1
            continue
        labels.append(
            Label(
                spec=spec,
                operation=o.operation_key,
                category=o.category,
                pii=None,
                notes=f"override by {o.actor_label}: {o.justification}",
                source="override",
            )
        )
    return labels, skipped


def recent_overrides(project, limit: int = 50) -> list[RiskOverride]:
    return list(RiskOverride.objects.filter(project=project).select_related("actor").order_by("-updated_at")[:limit])
