"""The whole analysis of one document, as plain functions over plain data (no Django): parse
(apps.specs), build tools, quality and token cost (apps.inventory), classify, scan and score
(apps.risk). It lives in risk, the highest app it drives (dependencies point down).

The Celery task, the ``scan`` CLI and the benchmarks all run this same code, so what the
benchmark measures is what the worker does (minus persisting rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from apps.specs.domain import Finding, ParsedSpec, ToolDef
from apps.specs.parse import load_document

Progress = Callable[[str, int], None]


@dataclass
class AnalysisResult:
    parsed: ParsedSpec
    tools: list[ToolDef]
    classifications: dict[str, Any] = field(default_factory=dict)  # tool name -> Classification
    poisoning: dict[str, list[str]] = field(default_factory=dict)  # tool name -> reasons
    findings: list[Finding] = field(default_factory=list)
    score: dict[str, Any] = field(default_factory=dict)
    token_estimate: int = 0
    timings_ms: dict[str, int] = field(default_factory=dict)


def _noop(stage: str, percent: int) -> None:
    return None


def analyse(
    data: bytes,
    *,
    filename: str = "",
    max_bytes: int = 25 * 1024 * 1024,
    renames: dict[str, str] | None = None,
    previous_names: dict[str, str] | None = None,
    governance: Any = None,
    progress: Progress = _noop,
) -> AnalysisResult:
    """Parse -> build tools -> quality findings -> classify -> security findings and score.

    ``progress(stage, percent)`` is called between stages (the worker stores it for the
    progress bar). Raises ``SpecError`` for an unusable document.
    """
    # Imported here so that importing this module (views, URL loading) stays cheap.
    from apps.inventory.quality import quality_findings
    from apps.inventory.tokens import listing_tokens
    from apps.inventory.toolgen import build_tools, tool_definition

    timings: dict[str, int] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = int((now - clock) * 1000)
        clock = now

    progress("parsing", 10)
    parsed = load_document(data, filename=filename, max_bytes=max_bytes)
    lap("parse")
    progress("building", 40)
    tools = build_tools(parsed, renames=renames, previous_names=previous_names)
    lap("build")
    progress("analysing", 70)
    quality = quality_findings(tools)
    scanned = scan_poisoning(parsed, tools)
    classifications, findings, score = classify_and_score(parsed, tools, quality, governance, scanned)
    # Only strong signals (instructions to the model, hidden characters...) disable a tool by default.
    poisoning = {name: [r for r, strong in found if strong] for name, found in scanned.items()}
    poisoning = {name: reasons for name, reasons in poisoning.items() if reasons}
    lap("classify")
    result = AnalysisResult(
        parsed=parsed,
        tools=tools,
        classifications=classifications,
        poisoning=poisoning,
        findings=findings,
        score=score,
        token_estimate=listing_tokens(tool_definition(t) for t in tools),
        timings_ms=timings,
    )
    return result


def classify_and_score(
    parsed: ParsedSpec, tools: list[ToolDef], quality: list[Finding], governance: Any, poisoning: Any = None
):
    """Classification, poisoning scan, security findings and the score for a tool list."""
    from .classify import classify_tools
    from .score import compute_score, security_findings, sort_findings

    classifications = classify_tools(tools, document=parsed.document)
    findings = sort_findings(security_findings(tools, classifications, parsed, governance, poisoning) + list(quality))
    score = compute_score(findings, classifications)
    return classifications, findings, score_as_dict(score)


def scan_poisoning(parsed: ParsedSpec, tools: list[ToolDef]) -> dict[str, list[tuple[str, bool]]]:
    """Descriptions are untrusted text: per tool, (reason, is_strong) pairs for text that looks
    like instructions to the model."""
    from .poisoning import document_hosts, scan_tools_detailed

    return scan_tools_detailed(tools, known_hosts=document_hosts(parsed.document, parsed.servers))


def score_as_dict(score: Any) -> dict[str, Any]:
    if isinstance(score, dict):
        return score
    return asdict(score)


def finding_as_dict(finding: Finding) -> dict[str, Any]:
    data = asdict(finding)
    data["tools"] = list(finding.tools)
    return data
