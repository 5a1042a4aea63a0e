"""The offline scan result: one JSON-able dict per spec, and its Markdown rendering.

``scan_result`` is what the ``scan`` management command prints and what the API returns
for a spec version; its shape is a contract (keys exactly as documented below), so the
richer objects (``Classification``, ``Finding``, ``ScoreResult``) are flattened here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.specs.domain import Finding, ParsedSpec, ToolDef

from .classify import classify_tools
from .score import FORMULA_MARKDOWN, GovernanceFacts, SpecInfo, compute_score, security_findings, sort_findings


def _quality_findings(tools: Sequence[ToolDef]) -> list[Finding]:
    """The inventory's quality findings (pure: no database)."""
    from apps.inventory.quality import quality_findings

    return list(quality_findings(list(tools)))


def scan_result(
    parsed: ParsedSpec,
    tools: list[ToolDef],
    *,
    governance: GovernanceFacts | None = None,
    quality: Sequence[Finding] | None = None,
) -> dict[str, Any]:
    """Classify, find and score; returns exactly::

        {"score": int,
         "tools": [{"name", "method", "path", "operation_id", "category", "risk_level",
                    "risk_score", "side_effect", "pii", "reasons", "annotations"}],
         "findings": [{"code", "severity", "message", "tools", "remediation"}]}

    ``quality``: quality findings to score with the rest; by default they are computed with
    ``apps.inventory.quality.quality_findings`` when that module exists.
    """
    document = parsed.document if isinstance(parsed.document, dict) else None
    classifications = classify_tools(tools, document=document)
    findings = security_findings(tools, classifications, SpecInfo.from_parsed(parsed), governance)
    findings += list(_quality_findings(tools) if quality is None else quality)
    findings = sort_findings(findings)
    score = compute_score(findings, classifications)
    return {
        "score": score.score,
        "tools": [
            {
                "name": tool.name,
                "method": tool.method,
                "path": tool.path,
                "operation_id": tool.operation_id,
                "category": classifications[tool.name].category,
                "risk_level": classifications[tool.name].risk_level,
                "risk_score": classifications[tool.name].risk_score,
                "side_effect": classifications[tool.name].side_effect,
                "pii": [dict(p) for p in classifications[tool.name].pii],
                "reasons": list(classifications[tool.name].reasons),
                "annotations": dict(classifications[tool.name].annotations),
            }
            for tool in tools
        ],
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "message": f.message,
                "tools": list(f.tools),
                "remediation": f.remediation,
            }
            for f in findings
        ],
    }


def _cell(text: Any) -> str:
    """Markdown table cells: no pipes or newlines."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


_LEVEL_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def to_markdown(result: dict[str, Any], *, title: str = "MCPForge scan", include_formula: bool = False) -> str:
    """Render a ``scan_result`` dict as a Markdown report (score, findings, tools by risk)."""
    tools = list(result.get("tools", []))
    findings = list(result.get("findings", []))
    lines = [f"# {title}", "", f"**Security Score: {result.get('score', 0)}/100**", ""]
    counts: dict[str, int] = {}
    for tool in tools:
        counts[tool.get("risk_level", "low")] = counts.get(tool.get("risk_level", "low"), 0) + 1
    summary = ", ".join(f"{counts[level]} {level}" for level in _LEVEL_ORDER if counts.get(level))
    lines += [f"{len(tools)} tools: {summary or 'none'}.", ""]

    lines += ["## Findings", ""]
    if not findings:
        lines += ["No findings.", ""]
    for f in findings:
        lines.append(f"- **{f.get('severity', '').upper()}** `{f.get('code', '')}` - {_cell(f.get('message', ''))}")
        if f.get("remediation"):
            lines.append(f"  - Remediation: {_cell(f['remediation'])}")
    lines.append("")

    lines += [
        "## Tools",
        "",
        "| Tool | Operation | Category | Risk | Side effect | PII | Why |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in sorted(
        tools, key=lambda t: (_LEVEL_ORDER.get(t.get("risk_level"), 9), -t.get("risk_score", 0), t.get("name", ""))
    ):
        kinds = sorted({p.get("kind", "") for p in tool.get("pii", [])})
        lines.append(
            "| `{}` | {} `{}` | {} | {} ({}) | {} | {} | {} |".format(
                _cell(tool.get("name", "")),
                _cell(tool.get("method", "")),
                _cell(tool.get("path", "")),
                _cell(tool.get("category", "")),
                _cell(tool.get("risk_level", "")),
                tool.get("risk_score", 0),
                "yes" if tool.get("side_effect") else "no",
                _cell(", ".join(kinds)) or "-",
                _cell("; ".join(tool.get("reasons", [])[:4])),
            )
        )
    lines.append("")
    if include_formula:
        lines += [FORMULA_MARKDOWN.rstrip(), ""]
    return "\n".join(lines)
