"""Snapshot dict -> HTML (Django template) -> PDF (WeasyPrint).

Rendering reads only the snapshot, never the database, so a stored report renders the same
way for as long as its data is kept. WeasyPrint gets a URL fetcher that refuses everything
but inline ``data:`` URLs: the HTML is self-contained (CSS and SVG inline), and a report
must never make the server fetch a URL that came from an uploaded spec.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from apps.risk.pii import kind_label

from . import charts

# WeasyPrint logs every layout step at INFO: hundreds of lines per report in the worker log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

GLOSSARY = (
    ("MCP", "Model Context Protocol: how AI agents discover and call tools."),
    ("Tool", "One operation of the upstream API exposed to agents (one OpenAPI operation)."),
    ("Gateway", "The MCPForge endpoint agents connect to; it enforces permissions, approvals and audit "
                "before calling the upstream API."),
    ("Environment", "A deployment stage (development, staging, production) with its own MCP endpoint, "
                    "enabled tools, credentials and policies."),
    ("Category", "What a tool does: read-only, side-effect, critical (irreversible or destructive), "
                 "administrative (identity, access, settings) or billing (money)."),
    ("Risk level", "Low, medium, high or critical, from the tool's category, personal data and other signals."),
    ("Side effect", "The tool changes state in the upstream system (anything but a pure read)."),
    ("PII", "Personally identifiable information the tool accepts or returns (email, phone, card, address…)."),
    ("Grant", "An allow or deny rule: which role, team or user may call which tools in which environment. "
              "Deny wins; without an allow nothing is callable."),
    ("Approval policy", "Which tool calls wait for one or more human approvals before they run."),
    ("Envelope encryption", "Each secret is encrypted with its own data key, which is itself encrypted by a "
                            "key-encryption key (KEK) held outside the database."),
    ("Audit log", "Append-only, hash-chained record of every change and tool call; altering a past event "
                  "breaks the chain."),
    ("Security Score", "0–100 summary of the project's risk posture (higher is safer); formula in Appendix A."),
    ("Finding", "A problem in the spec or its governance, with severity, affected tools and remediation."),
)

SEVERITY_COLORS = {"critical": "#7f1d1d", "high": "#ef4444", "medium": "#f59e0b", "low": "#10b981", "info": "#64748b"}


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def chart_context(data: dict[str, Any]) -> dict[str, str]:
    """The SVG charts of a snapshot, marked safe (charts.py escapes every label itself)."""
    summary = data.get("summary") or {}
    by_risk = summary.get("by_risk") or {}
    by_category = summary.get("by_category") or {}
    by_severity = summary.get("by_severity") or {}
    score = (data.get("score") or {}).get("value")
    risk_slices = [charts.Slice(k.capitalize(), v, charts.RISK_COLORS.get(k, "#9ca3af")) for k, v in by_risk.items()]
    category_slices = [charts.Slice(_category_label(k), v, charts.CATEGORY_COLORS.get(k, "#9ca3af"))
                       for k, v in by_category.items()]
    severity_slices = [charts.Slice(k.capitalize(), v, SEVERITY_COLORS.get(k, "#64748b"))
                       for k, v in by_severity.items()]
    return {
        "gauge_cover": mark_safe(charts.gauge(score, width=250)),  # noqa: S308 - escaped by charts.py
        "gauge_summary": mark_safe(charts.gauge(score, width=200)),  # noqa: S308
        "risk_donut": mark_safe(charts.donut(risk_slices, size=130, center_label="tools",  # noqa: S308
                                             legend_width=150)),
        "category_bars": mark_safe(charts.bar_chart(category_slices, width=300, bar_height=15,  # noqa: S308
                                                    label_width=100, empty_text="No tools")),
        "severity_bars": mark_safe(charts.bar_chart(severity_slices, width=300, bar_height=15,  # noqa: S308
                                                    label_width=100, empty_text="No findings")),
        "flow_diagram": mark_safe(charts.data_flow_diagram(_flow_facts(data), width=680)),  # noqa: S308
    }


def _category_label(key: str) -> str:
    return {"read_only": "Read-only", "side_effect": "Side-effect", "administrative": "Administrative",
            "critical": "Critical", "billing": "Billing"}.get(key, key.replace("_", " ").capitalize())


def _flow_facts(data: dict[str, Any]) -> charts.FlowFacts:
    flow = data.get("flow") or {}
    return charts.FlowFacts(
        agent_lines=flow.get("agent_lines") or ("MCP client",),
        gateway_lines=flow.get("gateway_lines") or (),
        upstream_title=flow.get("upstream_title") or "Upstream API",
        upstream_lines=flow.get("upstream_lines") or (),
        credential_lines=flow.get("credential_lines") or (),
        approval_lines=flow.get("approval_lines") or (),
        audit_lines=flow.get("audit_lines") or (),
        environments=flow.get("environments") or (),
    )


def _approval_summary(approval: dict[str, str], env_names: dict[str, str]) -> str:
    """One cell for the inventory: the policy if every environment agrees, else per environment."""
    values = {v for v in approval.values()}
    if not approval or values == {""}:
        return ""
    if len(values) == 1:
        return next(iter(values))
    return "; ".join(f"{env_names.get(slug, slug)}: {text or 'none'}" for slug, text in approval.items())


def tool_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    env_names = {e["slug"]: e["name"] for e in data.get("environments") or []}
    rows = []
    for tool in data.get("tools") or []:
        pii = tool.get("pii") or []
        enabled = tool.get("enabled") or {}
        rows.append({**tool, "approval_text": _approval_summary(tool.get("approval") or {}, env_names),
                     "enabled_in": [name for slug, name in env_names.items() if enabled.get(slug)],
                     "pii_shown": [kind_label(k) for k in pii[:PII_SHOWN]], "pii_more": max(0, len(pii) - PII_SHOWN)})
    return rows


FINDING_TOOLS_SHOWN = 12
PII_SHOWN = 4
CHANGES_SHOWN = 60


def finding_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for finding in data.get("findings") or []:
        tools = finding.get("tools") or []
        rows.append({**finding, "tools_shown": tools[:FINDING_TOOLS_SHOWN],
                     "tools_more": max(0, len(tools) - FINDING_TOOLS_SHOWN)})
    return rows


def _changes_context(data: dict[str, Any]) -> dict[str, Any]:
    changes = data.get("changes") or {}
    added, removed = changes.get("tools_added") or [], changes.get("tools_removed") or []
    return {"changes_added": added[:CHANGES_SHOWN], "changes_added_more": max(0, len(added) - CHANGES_SHOWN),
            "changes_removed": removed[:CHANGES_SHOWN],
            "changes_removed_more": max(0, len(removed) - CHANGES_SHOWN)}


def report_html(data: dict[str, Any]) -> str:
    """The complete, self-contained HTML document of a report (also what the PDF is made from)."""
    envs = data.get("environments") or []
    context = {
        "tool_rows": tool_rows(data),
        "finding_rows": finding_rows(data),
        **_changes_context(data),
        "checklist_groups": [("Governance checklist", (data.get("checklists") or {}).get("governance") or []),
                             ("Documentation checklist",
                              (data.get("checklists") or {}).get("documentation") or [])],
        "d": data,
        "generated_at": _when(data.get("generated_at")),
        "imported_at": _when((data.get("spec") or {}).get("imported_at")),
        "previous_at": _when(((data.get("changes") or {}).get("previous") or {}).get("created_at")),
        "env_slugs": [e["slug"] for e in envs],
        "env_names": [e["name"] for e in envs],
        "glossary": GLOSSARY,
        "category_labels": {k: _category_label(k) for k in
                            ("read_only", "side_effect", "critical", "administrative", "billing")},
        **chart_context(data),
    }
    return render_to_string("reports/document/report.html", context)


class _StepHandler(logging.Handler):
    """Turns WeasyPrint's progress log ("Step 5 - Creating layout - Page 12") into calls of
    ``on_step(step, page)``, so the worker can move the progress bar during the long PDF stage."""

    def __init__(self, on_step):
        super().__init__(logging.INFO)
        self.on_step = on_step

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if not text.startswith("Step "):
            return
        try:
            step = int(text[5:].split(" ", 1)[0])
        except ValueError:
            return
        page = 0
        if " - Page " in text:
            digits = text.rsplit(" - Page ", 1)[1].split(" ", 1)[0]
            page = int(digits) if digits.isdigit() else 0
        self.on_step(step, page)


def report_pdf(html: str, on_step=None) -> tuple[bytes, int]:
    """(PDF bytes, page count) of a report's HTML. ``on_step(step, page)`` follows WeasyPrint's
    stages (1-4 parsing and styling, 5 layout page by page, 6-7 writing the PDF)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    progress_log = logging.getLogger("weasyprint.progress")
    handler = _StepHandler(on_step) if on_step else None
    if handler:
        progress_log.addHandler(handler)
        progress_log.setLevel(logging.INFO)
        progress_log.propagate = False  # the steps feed the progress bar, not the worker log
    try:
        fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
        document = HTML(string=html, url_fetcher=fetcher, base_url="about:blank").render()
        buffer = io.BytesIO()
        document.write_pdf(buffer)
    finally:
        if handler:
            progress_log.removeHandler(handler)
            progress_log.setLevel(logging.WARNING)
            progress_log.propagate = True
    return buffer.getvalue(), len(document.pages)
