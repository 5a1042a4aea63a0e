"""The report snapshot: everything a report shows, assembled at generation time.

``report_snapshot`` collects into one plain dict (stored on the report as ``data``) the
spec, tools, live score and findings, governance, credentials, audit and token bill of a
project. Rendering reads only that dict, so a report can be re-rendered years later and
still say exactly what was true when it was generated. Each section degrades to an
explicit "not configured" statement instead of failing. Reads only the project's
organization.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from apps.audit.events import EVENT_TYPES
from apps.audit.models import AuditEvent
from apps.inventory.selectors import current_tools, current_version
from apps.projects.models import Environment, Project
from apps.risk.score import FORMULA_MARKDOWN
from apps.specs.models import SpecVersion

from . import checklist

SNAPSHOT_SCHEMA = 1
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
RISK_ORDER = ("critical", "high", "medium", "low")
CATEGORY_LABELS = {"read_only": "Read-only", "side_effect": "Side-effect", "critical": "Critical",
                   "administrative": "Administrative", "billing": "Billing"}
AUDIT_WINDOW_DAYS = 30
TOP_FINDINGS = 5


# --------------------------------------------------------------------------- the snapshot


@dataclass
class Snapshot:
    data: dict
    spec_version: SpecVersion | None


def report_snapshot(*, project: Project, environment: Environment | None, generated_by_label: str,
                    report_id: str = "", previous: dict | None = None, now: datetime | None = None) -> Snapshot:
    """Everything the report shows, as JSON-ready data. Reads only ``project``'s organization."""
    now = now or timezone.now()
    organization = project.organization
    all_envs = list(project.environments.all())
    envs = [environment] if environment is not None else all_envs
    version = current_version(project)
    tools_qs = list(current_tools(project)) if version is not None else []

    governance = _governance_section(project, envs, tools_qs)
    tools = [_tool_row(tool, envs, governance) for tool in tools_qs]
    # The live score and findings under the project's governance *now* (apps.risk), not the
    # ones stored at import: a report must reflect the policies and credentials it documents.
    live_score, live_findings = _live_score(project, version)
    findings = _findings(live_findings)
    score = _score(live_score)
    summary = _summary(tools, findings)
    audit = _audit_section(organization, project, envs, now)
    credentials = _credentials_section(project, envs, version, tools_qs)
    data = {
        "schema": SNAPSHOT_SCHEMA,
        "report_id": report_id,
        "generated_at": now.isoformat(),
        "generated_by": generated_by_label or "system",
        "organization": {"name": organization.name, "slug": organization.slug},
        "project": {
            "name": project.name, "slug": project.slug, "description": project.description,
            "owner_contact": project.owner_contact, "rollback_procedure": project.rollback_procedure,
            "incident_response_plan": project.incident_response_plan,
        },
        "scope": {"label": environment.name if environment is not None else "All environments",
                  "environment": environment.slug if environment is not None else None,
                  "environments": [e.slug for e in envs]},
        "environments": [_environment_row(e) for e in envs],
        "spec": _spec(version),
        "score": score,
        "summary": summary,
        "tools": tools,
        "findings": findings,
        "changes": _changes(tools, score, previous),
        "governance": {**governance["public"], "credentials": credentials, "audit": audit},
    }
    data["token_bill"] = _token_bill(project, version, envs)
    for row in tools:
        row["tokens"] = data["token_bill"]["per_tool"].get(row["operation_key"], {"full": 0, "compact": 0})
    data["checklists"] = checklist.build(data)
    data["flow"] = _flow(data)
    return Snapshot(data=data, spec_version=version)


def _token_bill(project: Project, version: SpecVersion | None, envs: list[Environment]) -> dict:
    """What tools/list costs an agent per environment (real tokenizer, full and compact) and
    per tool; a listing past the budget names its heaviest tools and the fix."""
    from apps.inventory.selectors import environment_token_bill, tool_token_bill
    from apps.inventory.tokens import ENCODING, LISTING_TOKEN_BUDGET
    from apps.toolsets.selectors import toolset_token_bill

    if version is None:
        return {"encoding": ENCODING, "budget": LISTING_TOKEN_BUDGET, "environments": [], "toolsets": [],
                "per_tool": {}}
    slugs = {e.slug for e in envs}
    rows = [{k: v for k, v in row.items() if k != "environment"}
            for row in environment_token_bill(project, version) if row["slug"] in slugs]
    # toolsets (curated subsets with their own endpoints): their tools and what their listing costs
    toolsets = [{**{k: v for k, v in row.items() if k not in ("toolset", "environments")},
                 "description": row["toolset"].description, "listing_mode": row["toolset"].listing_mode,
                 "tool_names": list(row["toolset"].tool_names),
                 "environments": [e for e in row["environments"] if e["slug"] in slugs]}
                for row in toolset_token_bill(project, version)]
    return {"encoding": ENCODING, "budget": LISTING_TOKEN_BUDGET, "environments": rows, "toolsets": toolsets,
            "per_tool": tool_token_bill(version)}


def _environment_row(env: Environment) -> dict:
    return {"name": env.name, "slug": env.slug, "base_url": env.base_url,
            "allow_private_network": env.allow_private_network}


def _spec(version: SpecVersion | None) -> dict | None:
    if version is None:
        return None
    return {
        "number": version.number,
        "label": f"v{version.number} · {version.title or 'untitled'} {version.api_version}".strip(),
        "title": version.title, "api_version": version.api_version, "openapi_version": version.openapi_version,
        "sha256": version.sha256, "filename": version.filename, "source": version.get_source_display(),
        "source_url": version.source_url, "size_bytes": version.size_bytes,
        "imported_at": version.created_at.isoformat(), "imported_by": version.imported_by_label,
        "analysed_at": version.finished_at.isoformat() if version.finished_at else None,
        "servers": list(version.servers or []), "security_schemes": _schemes(version.security_schemes or {}),
        "tool_count": version.tool_count, "warning_count": len(version.warnings or []),
    }


def _schemes(schemes: dict) -> list[dict]:
    rows = []
    for name, scheme in sorted(schemes.items()):
        scheme = scheme if isinstance(scheme, dict) else {}
        kind = scheme.get("type", "")
        detail = ""
        if kind == "apiKey":
            detail = f"{scheme.get('in', '?')} {scheme.get('name', '')}".strip()
        elif kind == "http":
            detail = scheme.get("scheme", "")
        elif kind == "oauth2":
            detail = ", ".join(sorted((scheme.get("flows") or {}).keys()))
        elif kind == "openIdConnect":
            detail = scheme.get("openIdConnectUrl", "")
        rows.append({"name": name, "type": kind, "detail": detail})
    return rows


def _live_score(project: Project, version: SpecVersion | None) -> tuple[dict, list[dict]]:
    if version is None:
        return {}, []
    from apps.risk.selectors import project_score

    score, findings = project_score(project)
    return dict(score or {}), list(findings or [])


def _score(stored: dict) -> dict:
    """The Security Score (apps.risk.score.compute_score output, as a dict) for the report."""
    from .charts import score_band

    value = stored.get("score")
    value = round(value) if isinstance(value, int | float) else None
    deductions = [{"code": d.get("code", ""), "severity": d.get("severity", ""), "points": d.get("points", 0),
                   "tool_count": len(d.get("tools") or [])} for d in stored.get("deductions") or []]
    return {"value": value, "band": score_band(value)[1],
            "security": stored.get("security_score"), "data_validation": stored.get("data_validation_score"),
            "deductions": deductions, "formula_markdown": FORMULA_MARKDOWN}


def _findings(raw_findings: list[dict]) -> list[dict]:
    rows = []
    for raw in raw_findings:
        tools = list(raw.get("tools") or [])
        rows.append({
            "code": raw.get("code", ""), "severity": raw.get("severity", "info"),
            "category": raw.get("category", ""), "message": raw.get("message", ""),
            "remediation": raw.get("remediation", ""), "tools": tools, "tool_count": len(tools),
        })
    rows.sort(key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), -f["tool_count"], f["code"]))
    return rows


def _summary(tools: list[dict], findings: list[dict]) -> dict:
    by_category = Counter(t["category"] or "unclassified" for t in tools)
    by_risk = Counter(t["risk_level"] or "unclassified" for t in tools)
    by_severity = Counter(f["severity"] for f in findings)
    return {
        "tool_count": len(tools),
        "by_category": {key: by_category.get(key, 0) for key in [*CATEGORY_LABELS, "unclassified"]
                        if by_category.get(key, 0) or key != "unclassified"},
        "by_risk": {key: by_risk.get(key, 0) for key in [*RISK_ORDER, "unclassified"]
                    if by_risk.get(key, 0) or key != "unclassified"},
        "by_severity": {key: by_severity.get(key, 0) for key in SEVERITY_ORDER},
        "side_effect_count": sum(1 for t in tools if t["side_effect"]),
        "pii_count": sum(1 for t in tools if t["pii"]),
        "finding_count": len(findings),
        "top_findings": findings[:TOP_FINDINGS],
    }


def _changes(tools: list[dict], score: dict, previous: dict | None) -> dict:
    if previous is None:
        return {"previous": None, "tools_added": [], "tools_removed": [], "score_delta": None}
    now_names = [t["name"] for t in tools]
    before = set(previous.get("tools") or [])
    current = set(now_names)
    delta = None
    if score.get("value") is not None and previous.get("score") is not None:
        delta = score["value"] - previous["score"]
    return {
        "previous": {"id": previous["id"], "created_at": previous["created_at"], "score": previous["score"],
                     "spec": previous.get("spec", "")},
        "tools_added": [n for n in now_names if n not in before],
        "tools_removed": sorted(before - current),
        "score_delta": delta,
    }


def _tool_row(tool, envs: list[Environment], governance: dict) -> dict:
    per_env = governance["per_tool"].get(tool.operation_key, {})
    return {
        "name": tool.name, "operation_key": tool.operation_key, "method": tool.method, "path": tool.path,
        "summary": (tool.summary or tool.description or "")[:160], "tags": list(tool.tags or []),
        "deprecated": tool.deprecated, "category": tool.category, "category_tags": list(tool.category_tags or []),
        "risk_level": tool.risk_level, "risk_score": tool.risk_score, "side_effect": tool.side_effect,
        "pii": sorted({str(p) if not isinstance(p, dict) else str(p.get("kind", p)) for p in tool.pii or []}),
        "reasons": list(tool.reasons or [])[:6], "poisoning": bool(tool.poisoning),
        "enabled": {env.slug: bool(per_env.get(env.slug, {}).get("enabled", False)) for env in envs},
        "approval": {env.slug: per_env.get(env.slug, {}).get("approval", "") for env in envs},
    }


# --------------------------------------------------------------------------- audit


def _audit_section(organization, project: Project, envs: list[Environment], now: datetime) -> dict:
    """The audit chain (re-verified) and volume over the last 30 days: the project's
    events by type (most services put the project's slug in the payload, the gateway also the
    environment's; the others target the project, an environment or a spec version) and the
    organization's total."""
    since = now - timedelta(days=AUDIT_WINDOW_DAYS)
    recent = AuditEvent.objects.filter(organization=organization, created_at__gte=since)
    # Events naming the project in their payload, or targeting it, its environments or its spec versions.
    targets = [str(project.public_id), *(str(e.public_id) for e in project.environments.all()),
               *(str(v) for v in SpecVersion.objects.filter(project=project).values_list("public_id", flat=True))]
    in_scope = (Q(payload__project=project.slug) | Q(target_id__in=targets)) & (
        ~Q(payload__has_key="environment") | Q(payload__environment__in=[e.slug for e in envs]))
    counts = dict(recent.filter(in_scope).order_by().values_list("event_type").annotate(n=Count("id"))
                  .values_list("event_type", "n"))
    org_window = recent.count()
    total = AuditEvent.objects.filter(organization=organization).count()
    rows = [{"event_type": key, "description": label, "count": counts.get(key, 0)}
            for key, label in EVENT_TYPES.items() if counts.get(key, 0)]
    rows.sort(key=lambda r: (-r["count"], r["event_type"]))
    first = AuditEvent.objects.filter(organization=organization).order_by("seq").values_list("created_at", flat=True)
    chain_intact, chain = _chain_status(organization, total)
    return {
        "chain": chain,
        "chain_intact": chain_intact,
        "window_days": AUDIT_WINDOW_DAYS,
        "environments": [{"name": e.name, "slug": e.slug} for e in envs],
        "events_in_window": sum(counts.values()),
        "organization_events_in_window": org_window,
        "events_total": total,
        "first_event_at": first.first().isoformat() if total else None,
        "by_type": rows,
        "tool_calls_in_window": counts.get("tool.called", 0),
        "completed_calls_in_window": counts.get("tool.call_completed", 0),
        "denied_calls_in_window": counts.get("tool.call_denied", 0),
        "approvals_requested_in_window": counts.get("approval.requested", 0),
        "reports_in_window": counts.get("report.generated", 0),
        "documented_event_types": len(EVENT_TYPES),
    }


AUDIT_VERIFY_MAX_EVENTS = 200_000


def _chain_status(organization, total: int) -> tuple[bool | None, str]:
    """The audit chain recomputed now (apps.audit's verifier): intact (None when too long to
    re-verify here) and one sentence for the report."""
    from apps.audit.services import audit_verify_organization

    if total > AUDIT_VERIFY_MAX_EVENTS:
        return None, f"chain not re-verified for this report (over {AUDIT_VERIFY_MAX_EVENTS} events; run audit_verify)"
    checked, broken = audit_verify_organization(organization)
    if broken is None:
        return True, f"chain re-verified while generating this report: intact ({checked} events)"
    return False, f"CHAIN BROKEN at event #{broken.seq}: {broken.reason}"


# --------------------------------------------------------------------------- governance


def _governance_section(project: Project, envs: list[Environment], tools: list) -> dict:
    """Per-tool enabled state and approval per environment, the permissions matrix, the grants
    and the approval policies, all through apps.governance's selectors and pure rules (the
    same code the gateway enforces with)."""
    from apps.governance import grants as grant_rules
    from apps.governance import policies as policy_rules
    from apps.governance import selectors as gov
    from apps.governance.conditions import ConditionError

    refs = {t.operation_key: gov.tool_ref(t) for t in tools}
    policy_refs = gov.policies_for(project.pk)
    per_tool: dict[str, dict[str, dict]] = {t.operation_key: {} for t in tools}
    states_by_env: dict[int, dict[str, bool]] = {}
    for env in envs:
        states = gov.enabled_map(env, tools) if tools else {}
        states_by_env[env.pk] = states
        for tool in tools:
            try:
                need = policy_rules.requirement(policy_refs, refs[tool.operation_key], env.pk, {})
            except ConditionError:
                text = "invalid policy: calls refused"
            else:
                text = _requirement_text(need, policy_refs, refs[tool.operation_key], env.pk)
            per_tool[tool.operation_key][env.slug] = {"enabled": states.get(tool.operation_key, False),
                                                      "approval": text}

    env_ids = {env.pk for env in envs}
    grant_rows = [g for g in gov.grant_list(project) if g.environment_id is None or g.environment_id in env_ids]
    matrix = _permission_matrix(project, envs, tools, refs, states_by_env, grant_rows, gov, grant_rules)
    scope_slugs = {env.slug for env in envs}
    uncovered = sorted({f["tool"] for f in gov.unguarded_findings(project) if f["environment"] in scope_slugs})
    policies = [_policy_row(p, refs, gov) for p in gov.policy_list(project)
                if p.environment_id is None or p.environment_id in env_ids]
    enabled_counts = [{"name": env.name, "slug": env.slug, "count": sum(states_by_env[env.pk].values())}
                      for env in envs]
    return {
        "per_tool": per_tool,
        "public": {
            "permissions": {
                "configured": bool(grant_rows),
                "statement": "" if grant_rows else (
                    "No permission grant is defined: the gateway denies every tool call by default "
                    "(nothing is callable until an admin grants access)."),
                "grant_count": len(grant_rows),
                "grants": [_grant_row(g, gov) for g in grant_rows],
                "matrix": matrix,
                "enabled": enabled_counts,
            },
            "definition_reviews": _definition_reviews(project, envs, gov),
            "approvals": {
                "configured": bool(policies),
                "statement": "" if policies else (
                    "No approval policy is defined: every allowed call runs without human approval."),
                "policies": policies,
                "uncovered_high_risk": uncovered,
            },
        },
    }


def _definition_reviews(project: Project, envs: list[Environment], gov) -> dict:
    """Enabled tools whose definition a re-import changed and no admin accepted yet: agents in
    that environment still get the pinned (reviewed) definition."""
    env_ids = {env.pk for env in envs}
    rows = [s for s in gov.pending_reviews(project) if s.environment_id in env_ids]
    return {
        "pending": [{"environment": s.environment.name, "tool": s.pending_tool.name,
                     "operation_key": s.operation_key, "flagged": bool(s.pending_tool.poisoning),
                     "since": s.pending_since.isoformat() if s.pending_since else ""} for s in rows],
        "by_environment": [{"name": env.name, "count": sum(1 for s in rows if s.environment_id == env.pk)}
                           for env in envs],
    }


def _requirement_text(need, policy_refs, ref, environment_id) -> str:
    from apps.governance import policies as policy_rules

    if need is None:
        covering = policy_rules.applicable(policy_refs, ref, environment_id)
        return f"none ({covering[0].label})" if covering else ""
    count = need.approvals_required
    conditional = any(t.get("when") for p in policy_refs if p.id == need.policy_id for t in p.tiers)
    text = f"{count} approval{'s' if count != 1 else ''} · {need.policy_label}"
    return text + " (more above thresholds)" if conditional else text


def _grant_row(grant, gov) -> dict:
    ref = gov.grant_ref(grant)
    return {"effect": grant.effect, "principal": ref.describe_principal(), "target": _target_text(grant),
            "environment": grant.environment.name if grant.environment_id else "All environments",
            "created_by": grant.created_by_label, "note": grant.note}


def _target_text(row) -> str:
    """A grant's or policy's target in words; operations are named as the spec names them."""
    if row.all_tools:
        return "Every tool"
    parts = []
    if row.categories:
        parts.append("category " + ", ".join(CATEGORY_LABELS.get(c, c) for c in row.categories))
    if row.tags:
        parts.append("tag " + ", ".join(row.tags))
    if row.operation_keys:
        keys = list(row.operation_keys)
        parts.append(", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else ""))
    return "; ".join(parts) or "No tool"


def _policy_row(policy, refs: dict, gov) -> dict:
    target = gov.target_of(policy)
    tiers = []
    for tier in policy.tiers or []:
        when = tier.get("when") or []
        if when:
            cond = " and ".join(f"{c.get('field')} {c.get('operator')} {c.get('value')!r}" for c in when)
            n = int(tier.get("approvals", 0))
            tiers.append(f"if {cond}: {n} approval{'s' if n != 1 else ''}")
    default = policy.approvals_required if policy.kind == "multi" else {"none": 0, "single": 1}.get(policy.kind, 1)
    requirement = ("No approval" if default == 0 else
                   f"{default} approval{'s' if default != 1 else ''}"
                   + (", in order" if policy.order == "sequential" and default > 1 else ""))
    approvers = ", ".join(str(s.get("label") or s.get("value")) for s in policy.steps or [])
    return {
        "name": policy.name, "target": _target_text(policy),
        "environment": policy.environment.name if policy.environment_id else "All environments",
        "requirement": requirement, "tiers": tiers, "approvers": approvers,
        "expires": _duration(policy.expires_after), "justification": policy.justification_required,
        "source": policy.get_source_display() if policy.source != "manual" else "",
        "tool_count": sum(1 for ref in refs.values() if target.matches(ref)),
    }


def _duration(value) -> str:
    seconds = int(value.total_seconds()) if value else 0
    if seconds % 86400 == 0 and seconds:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0 and seconds:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{max(1, seconds // 60)} minutes"


def _permission_matrix(project, envs, tools, refs, states_by_env, grant_rows, gov, grant_rules) -> list[dict]:
    """Who can call how many tools where: every role (a member with that role and no team),
    every team named in a grant (its team grants alone) and every user named in a grant
    (their effective access), per environment, through grants.visible_tools."""
    from apps.accounts.roles import Role

    grants_by_env = {env.pk: gov.grants_for(env) for env in envs}
    subjects: list[tuple[str, object]] = [
        (f"Role {role.value}", grant_rules.Subject(user_id=f"role:{role.value}", role=role.value))
        for role in (Role.VIEWER, Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER)
    ]
    seen_teams, seen_users = set(), set()
    for grant in grant_rows:
        if grant.team_id and grant.team_id not in seen_teams:
            seen_teams.add(grant.team_id)
            subjects.append((f"Team {grant.team.name} (team grants)",
                             grant_rules.Subject(user_id=f"team:{grant.team_id}", role=None,
                                                 team_ids=frozenset({str(grant.team_id)}))))
        if grant.user_id and grant.user_id not in seen_users:
            seen_users.add(grant.user_id)
            subjects.append((f"User {grant.user.email or grant.user.get_username()}",
                             gov.subject_for(grant.user, project.organization_id)))
    rows = []
    for label, subject in subjects:
        cells = []
        for env in envs:
            visible = grant_rules.visible_tools(subject, list(refs.values()), env.pk,
                                                enabled_map=states_by_env[env.pk], grants=grants_by_env[env.pk])
            cells.append({"environment": env.slug, "count": len(visible),
                          "enabled": sum(states_by_env[env.pk].values())})
        rows.append({"principal": label, "cells": cells})
    return rows


# --------------------------------------------------------------------------- credentials


def _credentials_section(project: Project, envs: list[Environment], version: SpecVersion | None,
                         tools: list) -> dict:
    """How the gateway authenticates upstream per environment (apps.credentials.credential_flow):
    scheme, kind, storage and rotation age; never a secret. An environment lacks credentials
    when some tool has no security alternative whose schemes are all stored there (OpenAPI
    ``security`` lists alternatives: ApiKeyAuth *or* BasicAuth)."""
    from django.conf import settings

    from apps.credentials.selectors import credential_flow

    rows, missing, storage = [], [], ""
    for env in envs:
        stored = set()
        for flow in credential_flow(env):
            storage = storage or flow["storage"]
            if flow["configured"]:
                stored.add(flow["scheme"])
                rows.append({
                    "environment": env.name, "scheme": flow["scheme"], "kind": flow["kind_label"],
                    "placement": flow["placement"], "storage": "Envelope-encrypted in the database",
                    "rotated_at": flow["set_at"] or "", "age_days": flow["age_days"], "overdue": flow["stale"],
                    "version": flow["version"], "tools": flow["tools"], "token_url": flow["token_url"],
                })
        uncovered = [t for t in tools if not _authenticates(t.security or [], stored)]
        if uncovered:
            options = sorted({" + ".join(sorted(alt)) for t in uncovered for alt in (t.security or []) if alt})
            missing.append(f"{env.name} ({' or '.join(options[:3])}; {len(uncovered)} "
                           f"tool{'s' if len(uncovered) != 1 else ''})")
    schemes = (version.security_schemes if version else None) or {}
    if not schemes and not rows:
        statement = ("The specification declares no security scheme: the gateway calls the upstream API "
                     "without credentials.")
    elif not rows:
        statement = "No upstream credential is stored yet for the schemes the specification declares."
    else:
        statement = ""
    return {
        "configured": (bool(rows) or not schemes) and version is not None,
        "statement": statement if version is not None else "No analysed specification.",
        "storage": (storage + ".") if storage else "",
        "rows": rows,
        "missing": missing,
        "max_age_days": settings.CREDENTIAL_MAX_AGE_DAYS,
        "stale_count": sum(1 for r in rows if r["overdue"]),
    }


def _authenticates(security: list, stored: set[str]) -> bool:
    """Whether some alternative of an operation's security requirement is fully stored
    (an empty requirement list or an empty alternative means no authentication is needed)."""
    if not security:
        return True
    return any(set(alternative) <= stored for alternative in security)


# --------------------------------------------------------------------------- data-flow diagram


def _flow(data: dict) -> dict:
    """The short lines of the data-flow diagram (charts.FlowFacts), from the snapshot."""
    from urllib.parse import urlsplit

    gov = data["governance"]
    spec = data.get("spec") or {}
    envs = data.get("environments") or []
    audit = gov["audit"]
    creds = gov["credentials"]
    approvals = gov["approvals"]
    perms = gov["permissions"]
    total = data["summary"]["tool_count"]
    per_env = [f"{e['name']}: {e['count']} enabled" for e in perms["enabled"]]
    if len(per_env) > 3:
        per_env = [f"enabled in {len(per_env)} environments"]
    urls = sorted({e["base_url"] for e in envs if e.get("base_url")}) or list(spec.get("servers") or [])
    hosts = sorted({urlsplit(u).netloc or u for u in urls})
    schemes = [s["name"] for s in spec.get("security_schemes") or []]
    policy_count = len(approvals["policies"])
    uncovered = len(approvals["uncovered_high_risk"])
    return {
        "agent_lines": ["Any MCP client", "personal mcpf_ API token", "sees only granted tools"],
        "gateway_lines": [f"{total} tools in inventory", *per_env,
                          f"{perms['grant_count']} grant{'s' if perms['grant_count'] != 1 else ''}, default deny"],
        "upstream_title": spec.get("title") or "Upstream API",
        "upstream_lines": [*(hosts[:2] or ["no server URL"]),
                           ("auth: " + ", ".join(schemes[:2])) if schemes else "no auth scheme"],
        "credential_lines": [f"{len(creds['rows'])} stored, {len(creds['missing'])} env. missing",
                             "AES-256-GCM envelope", "never sent to agents"],
        "approval_lines": [f"{policy_count} polic{'y' if policy_count == 1 else 'ies'}",
                           f"{uncovered} risky tool{'' if uncovered == 1 else 's'} uncovered"],
        "audit_lines": ["every call, always on" if audit["chain_intact"] is not False else "HASH CHAIN BROKEN",
                        f"{audit['events_in_window']} events / {audit['window_days']} d"],
        "environments": [e["name"] for e in envs],
    }
