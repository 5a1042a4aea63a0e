"""The governance and documentation checklists of the security report. Pure: no Django.

Each item is decided from the snapshot dict alone (``snapshot.report_snapshot``), so the
verdict in a stored report can always be explained from the data stored beside it. An item
is ``done`` only when the evidence is actually in the report; ``evidence`` says where (an
anchor of the report, rendered with its page number) or what is missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DONE = "done"
MISSING = "missing"


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    status: str  # done | missing
    evidence: str
    anchor: str = ""  # id of the report section holding the evidence ("" = none)


def build(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        "governance": [asdict(item) for item in governance_items(data)],
        "documentation": [asdict(item) for item in documentation_items(data)],
    }


def _item(key: str, title: str, ok: bool, done: str, missing: str, anchor: str = "") -> Item:
    return Item(key=key, title=title, status=DONE if ok else MISSING, evidence=done if ok else missing,
                anchor=anchor if ok else "")


# The same rule as apps.governance.selectors.needs_approval, in words.
SENSITIVE_TOOL = "tool of high or critical risk or of a critical, administrative or billing category"
SENSITIVE_TOOL_WHY = "of high or critical risk or of a critical, administrative or billing category"


def _tools(n: int) -> str:
    return "1 tool is" if n == 1 else f"{n} tools are"


def _environments(n: int) -> str:
    return "the one environment" if n == 1 else f"all {n} environments"


def governance_items(data: dict[str, Any]) -> list[Item]:
    tools = data.get("tools") or []
    spec = data.get("spec")
    score = (data.get("score") or {}).get("value")
    project = data.get("project") or {}
    gov = data.get("governance") or {}
    approvals = gov.get("approvals") or {}
    credentials = gov.get("credentials") or {}
    audit = gov.get("audit") or {}
    unclassified = [t["name"] for t in tools if not t.get("category") or not t.get("risk_level")]
    uncovered = approvals.get("uncovered_high_risk") or []
    policies = approvals.get("policies") or []
    envs = audit.get("environments") or []
    cred_missing = credentials.get("missing") or []
    # Reports stored before definition pinning have no such section: nothing to claim either way.
    reviews = gov.get("definition_reviews")
    pending = (reviews or {}).get("pending") or []
    return [
        _item("inventory", "Complete tool inventory", bool(spec) and bool(tools),
              f"{len(tools)} tools from spec version {spec['number'] if spec else ''} with method, path, "
              "category and per-environment status",
              "No analysed spec version: import the OpenAPI document to build the inventory.", "inventory"),
        _item("classification", "Tool classification", bool(tools) and not unclassified,
              "Every tool has a category (what a call does: read-only, side-effect, critical, administrative, "
              "billing) and a risk level (how bad a misuse would be: low, medium, high, critical)",
              (f"{len(unclassified)} tools are not classified yet." if tools else "No tools to classify."),
              "inventory"),
        _item("risk_scoring", "Risk scoring", score is not None,
              f"Security Score {score}/100 with its breakdown; formula in the appendix",
              "No Security Score: the risk analysis has not scored the current spec version.", "summary"),
        *([_item("definition_review", "Tool definitions reviewed", not pending,
                 "Every enabled tool serves the definition an admin reviewed (pinned by its SHA-256 per "
                 "environment)",
                 f"{len(pending)} tool{'' if len(pending) == 1 else 's'} changed since review "
                 f"({', '.join(sorted({p['tool'] + ' in ' + p['environment'] for p in pending})[:5])}"
                 f"{'…' if len(pending) > 5 else ''}): agents keep the pinned definition until an admin "
                 "accepts the change.", "definitions")] if reviews is not None else []),
        _item("approval_workflows", "Approval workflow definitions", bool(policies) and not uncovered,
              f"{len(policies)} approval polic{'y' if len(policies) == 1 else 'ies'} cover every enabled "
              f"{SENSITIVE_TOOL}",
              (f"{_tools(len(uncovered))} enabled without an approval policy although {SENSITIVE_TOOL_WHY} "
               f"({', '.join(uncovered[:5])}{'…' if len(uncovered) > 5 else ''})." if uncovered
               else "No approval policy is defined."),
              "approvals"),
        _item("credential_storage", "Credential storage documentation",
              bool(credentials.get("configured")) and not cred_missing,
              "Scheme, storage (envelope encryption), key provider and rotation age of every upstream "
              "credential",
              (f"No credential is stored for: {', '.join(cred_missing[:6])}." if cred_missing
               else credentials.get("statement") or "No upstream credential is configured."),
              "credentials"),
        _item("audit_logging", "Audit logging configuration", bool(envs) and audit.get("chain_intact") is not False,
              f"Every call audited in {_environments(len(envs))} (auditing cannot be turned off); hash-chained "
              f"log, {audit.get('events_in_window', 0)} events in {audit.get('window_days', 30)} days",
              (f"The audit log's hash chain is broken: {audit.get('chain')}." if audit.get("chain_intact") is False
               else "No environment in scope."),
              "audit"),
        _item("security_review", "Security review documentation", bool(spec),
              f"This report: {len(data.get('findings') or [])} findings with severity and remediation, "
              f"generated {str(data.get('generated_at', ''))[:10]} by {data.get('generated_by', '')}",
              "No analysed spec version, so there is nothing to review yet.", "findings"),
        _item("rollback", "Rollback procedures", bool((project.get("rollback_procedure") or "").strip()),
              "Rollback procedure recorded on the project", "Not documented: add it under project settings.",
              "operations"),
        _item("incident_response", "Incident response plan",
              bool((project.get("incident_response_plan") or "").strip()),
              "Incident response plan recorded on the project", "Not documented: add it under project settings.",
              "operations"),
        _item("ownership", "Ownership assignment", bool((project.get("owner_contact") or "").strip()),
              f"Owner: {project.get('owner_contact', '')}", "No owner: set the owner contact in project settings.",
              "operations"),
    ]


def documentation_items(data: dict[str, Any]) -> list[Item]:
    credentials = (data.get("governance") or {}).get("credentials") or {}
    score = (data.get("score") or {}).get("value")
    tools = data.get("tools") or []
    classified = bool(tools) and all(t.get("risk_level") for t in tools)
    return [
        _item("architecture_diagram", "Architecture diagram", True,
              "Agent, MCPForge gateway, upstream API and their trust boundaries (generated)", "", "dataflow"),
        _item("data_flow_diagram", "Data-flow diagram", True,
              "Requests, responses, credential injection and audit writes (generated)", "", "dataflow"),
        _item("credential_flows", "Credential flows", bool(credentials.get("configured")),
              "How each credential reaches the upstream API, per environment",
              credentials.get("statement") or "No upstream credential is configured.", "credentials"),
        _item("risk_assessment", "Risk assessment", classified and score is not None,
              "Per-tool risk levels, findings with remediation and the Security Score",
              "The inventory is not fully classified and scored yet.", "findings"),
    ]
