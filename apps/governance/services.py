"""Every governance write: tool switches, grants, approval policies. Each one validates,
changes rows and records an audit event with before/after in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction

from apps.accounts.models import Membership, Team
from apps.accounts.roles import Role
from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import DomainError
from apps.inventory.selectors import current_tools

from . import conditions, grants, policies, selectors
from .models import DEFAULT_APPROVAL_EXPIRY, ApprovalPolicy, Grant, ToolSetting

CATEGORIES = tuple(c.value for c in grants.ToolCategory)
MAX_EXPIRY = timedelta(days=30)
MIN_EXPIRY = timedelta(minutes=5)


def _require_environment(project, environment) -> None:
    if environment is not None and environment.project_id != project.pk:
        raise DomainError("That environment belongs to another project.", field="environment")


# --------------------------------------------------------------------------- tool switches


@dataclass
class ToggleResult:
    """What a switch changed, and the findings it raised (sensitive tool enabled without approval)."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


REASON_MAX = 500


def confirmation_needed(environment, tools) -> list:
    """The tools whose enabling in ``environment`` must be confirmed with a reason: critical,
    administrative and billing tools anywhere but development (an unknown environment counts
    as production)."""
    if environment.slug.strip().lower() == grants.DEVELOPMENT_SLUG:
        return []
    return [t for t in tools if selectors.tool_category(t) in selectors.SENSITIVE_CATEGORIES]


@transaction.atomic
def tool_set_enabled(*, project, environment, operation_keys: Iterable[str], enabled: bool, actor,
                     bulk: dict | None = None, reason: str = "") -> ToggleResult:
    """Enable or disable operations in one environment (explicit rows override the risk default).

    Unknown operation keys are refused. One ``tool.enabled``/``tool.disabled`` event lists
    every operation with its before/after state; enabling a critical, administrative or
    billing tool that no approval policy covers there is reported in ``findings``.
    """
    _require_environment(project, environment)
    keys = list(dict.fromkeys(operation_keys))
    if not keys:
        raise DomainError("Pick at least one tool.")
    tools = {t.operation_key: t for t in current_tools(project).filter(operation_key__in=keys)}
    unknown = [k for k in keys if k not in tools]
    if unknown:
        raise DomainError(f"Unknown tool(s): {', '.join(unknown[:5])}.")
    before = selectors.enabled_map(environment, tools.values())
    reason = str(reason or "").strip()
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason is too long (at most {REASON_MAX} characters).", field="reason")
    if enabled and not reason:
        confirm = confirmation_needed(environment, [tools[k] for k in keys if not before[k]])
        if confirm:
            names = ", ".join(t.name for t in confirm[:5]) + (" …" if len(confirm) > 5 else "")
            raise DomainError(f"Enabling {names} in {environment.name} needs a reason: critical, administrative "
                              "and billing tools are confirmed with a reason, recorded in the audit log.",
                              field="reason")
    existing = {s.operation_key: s for s in ToolSetting.objects.select_for_update().filter(
        environment=environment, operation_key__in=keys)}
    label = actor_label_for(actor)
    result = ToggleResult()
    changes = []
    for key in keys:
        row = existing.get(key)
        if row is None:
            ToolSetting.objects.create(organization=project.organization, project=project, environment=environment,
                                       operation_key=key, enabled=enabled, changed_by=actor, changed_by_label=label)
        elif row.enabled != enabled:
            row.enabled, row.changed_by, row.changed_by_label = enabled, actor, label
            row.save(update_fields=["enabled", "changed_by", "changed_by_label", "updated_at"])
        (result.changed if before[key] != enabled else result.unchanged).append(key)
        changes.append({"operation_key": key, "tool": tools[key].name, "before": before[key], "after": enabled})
    if enabled:
        refs = selectors.policies_for(project.pk)
        for key in keys:
            ref = selectors.tool_ref(tools[key])
            if selectors.needs_approval(tools[key]) and not selectors.has_approval(refs, ref, environment.pk):
                result.findings.append(f"{tools[key].name} ({selectors.sensitivity_text(tools[key])}) is enabled "
                                       f"in {environment.name} "
                                       "without an approval policy.")
    payload: dict[str, Any] = {"environment": environment.slug, "changes": changes, "findings": result.findings}
    if bulk:
        payload["bulk"] = bulk
    if reason:
        payload["reason"] = reason
    audit_record(organization=project.organization, event_type="tool.enabled" if enabled else "tool.disabled",
                 actor=actor, target=environment, payload=payload)
    return result


def tool_bulk_set(*, project, environment, enabled: bool, actor, category: str = "", tag: str = "",
                  reason: str = "") -> ToggleResult:
    """"Enable all read-only in staging", "disable everything tagged admin": every current tool
    of a category and/or tag. Audited as one event naming the filter."""
    if not category and not tag:
        raise DomainError("Choose a category or a tag for a bulk change.")
    if category and category not in CATEGORIES:
        raise DomainError(f"Unknown category '{category}'.", field="category")
    tools = selectors.tools_matching(project, category=category, tag=tag)
    if not tools:
        raise DomainError("No tool matches that category/tag.")
    return tool_set_enabled(project=project, environment=environment, operation_keys=[t.operation_key for t in tools],
                            enabled=enabled, actor=actor, bulk={"category": category, "tag": tag}, reason=reason)


# --------------------------------------------------------------------------- grants and targets


def _clean_target(project, *, all_tools: bool, operation_keys: Sequence[str], categories: Sequence[str],
                  tags: Sequence[str]) -> dict[str, Any]:
    keys = sorted({str(k).strip() for k in operation_keys or () if str(k).strip()})
    cats = sorted({str(c).strip() for c in categories or () if str(c).strip()})
    tag_list = sorted({str(t).strip() for t in tags or () if str(t).strip()})
    bad = [c for c in cats if c not in CATEGORIES]
    if bad:
        raise DomainError(f"Unknown category '{bad[0]}' (expected one of {', '.join(CATEGORIES)}).",
                          field="categories")
    if keys:
        known = set(current_tools(project).filter(operation_key__in=keys).values_list("operation_key", flat=True))
        missing = [k for k in keys if k not in known]
        if missing:
            raise DomainError(f"Unknown tool(s): {', '.join(missing[:5])}.", field="operation_keys")
    if not (all_tools or keys or cats or tag_list):
        raise DomainError("Choose the tools: all tools, some tools, categories or tags.", field="operation_keys")
    return {"all_tools": bool(all_tools), "operation_keys": keys, "categories": cats, "tags": tag_list}


def _target_snapshot(row) -> dict[str, Any]:
    return {"all_tools": row.all_tools, "operation_keys": list(row.operation_keys), "categories": list(row.categories),
            "tags": list(row.tags)}


def grant_snapshot(grant: Grant) -> dict[str, Any]:
    return {
        "effect": grant.effect, "principal_kind": grant.principal_kind,
        "principal": selectors.principal_label(grant),
        "environment": grant.environment.slug if grant.environment_id else None,
        **_target_snapshot(grant), "note": grant.note,
        "description": selectors.grant_ref(grant).describe(),
    }


@transaction.atomic
def grant_create(*, project, actor, effect: str, principal_kind: str, environment=None, role: str = "",
                 team: Team | None = None, user=None, all_tools: bool = False, operation_keys: Sequence[str] = (),
                 categories: Sequence[str] = (), tags: Sequence[str] = (), note: str = "") -> Grant:
    """"Team Support may call read-only tools in production". Principal: a role (that role or
    higher), a team of the organization or a member of it; environment None = every one."""
    _require_environment(project, environment)
    if effect not in Grant.Effect.values:
        raise DomainError("Effect must be allow or deny.", field="effect")
    org = project.organization
    principal: dict[str, Any] = {"role": "", "team": None, "user": None}
    if principal_kind == Grant.PrincipalKind.ROLE:
        if role not in [r.value for r in Role]:
            raise DomainError("Choose a role.", field="role")
        principal["role"] = role
    elif principal_kind == Grant.PrincipalKind.TEAM:
        if team is None or team.organization_id != org.pk:
            raise DomainError("Choose a team of this organization.", field="team")
        principal["team"] = team
    elif principal_kind == Grant.PrincipalKind.USER:
        if user is None or not Membership.objects.filter(organization=org, user=user).exists():
            raise DomainError("Choose a member of this organization.", field="user")
        principal["user"] = user
    else:
        raise DomainError("Grant to a role, a team or a user.", field="principal_kind")
    target = _clean_target(project, all_tools=all_tools, operation_keys=operation_keys, categories=categories,
                           tags=tags)
    grant = Grant.objects.create(organization=org, project=project, environment=environment, effect=effect,
                                 principal_kind=principal_kind, note=(note or "")[:300], created_by=actor,
                                 created_by_label=actor_label_for(actor), **principal, **target)
    audit_record(organization=org, event_type="grant.created", actor=actor, target=grant,
                 target_label=selectors.grant_ref(grant).describe()[:300],
                 payload={"project": project.slug, "before": None, "after": grant_snapshot(grant)})
    return grant


@transaction.atomic
def grant_delete(*, grant: Grant, actor) -> None:
    """Remove a grant; the audit event keeps what it said."""
    snapshot = grant_snapshot(grant)
    audit_record(organization=grant.organization, event_type="grant.deleted", actor=actor, target=grant,
                 target_label=snapshot["description"][:300],
                 payload={"project": grant.project.slug, "before": snapshot, "after": None})
    grant.delete()


# --------------------------------------------------------------------------- approval policies


def _clean_steps(organization, steps: Sequence[dict] | None) -> list[dict[str, str]]:
    """Team steps are stored by slug with the name as label (approvals match either); roles by value."""
    out = []
    teams = {t.slug: t for t in Team.objects.filter(organization=organization)}
    for i, step in enumerate(steps or [], start=1):
        if not isinstance(step, dict):
            raise DomainError(f"Step {i} must name a team or a role.", field="steps")
        kind, value = str(step.get("kind", "")).strip(), str(step.get("value", "")).strip()
        if kind == "team":
            team = teams.get(value) or next((t for t in teams.values() if t.name == value or str(t.public_id) == value),
                                            None)
            if team is None:
                raise DomainError(f"Step {i}: no team '{value}' in this organization.", field="steps")
            out.append({"kind": "team", "value": team.slug, "label": team.name})
        elif kind == "role":
            if value not in [r.value for r in Role]:
                raise DomainError(f"Step {i}: unknown role '{value}'.", field="steps")
            out.append({"kind": "role", "value": value, "label": value})
        else:
            raise DomainError(f"Step {i} must name a team or a role.", field="steps")
    return out


def _clean_policy(project, *, name: str, kind: str, approvals_required: int | None, order: str,
                  steps: Sequence[dict] | None, conditional_tiers: Sequence[dict] | None,
                  expires_after: timedelta | None, justification_required: bool, environment,
                  all_tools: bool, operation_keys, categories, tags) -> dict[str, Any]:
    _require_environment(project, environment)
    name = (name or "").strip()
    if not name:
        raise DomainError("Name the policy.", field="name")
    if kind not in policies.KINDS:
        raise DomainError("Choose no approval, single or multi-step.", field="kind")
    approvals = {"none": 0, "single": 1}.get(kind, approvals_required or 2)
    expires_after = expires_after if expires_after is not None else DEFAULT_APPROVAL_EXPIRY
    if not MIN_EXPIRY <= expires_after <= MAX_EXPIRY:
        raise DomainError("Requests must expire after 5 minutes to 30 days.", field="expires_after")
    clean_steps = _clean_steps(project.organization, steps)
    if kind == "none" and clean_steps:
        raise DomainError("A policy without approval cannot name approval steps.", field="steps")
    conditional = list(conditional_tiers or [])
    # Rules are checked one by one first so the admin sees "rule 1: ..." for what they typed.
    for index, tier in enumerate(conditional, start=1):
        if not isinstance(tier, dict) or not tier.get("when"):
            raise DomainError(f"Condition tier {index} needs at least one rule.", field="tiers")
        for r, rule in enumerate(tier["when"], start=1):
            problems = conditions.validate_rule(rule)
            if problems:
                raise DomainError(f"Condition tier {index}, rule {r}: {'; '.join(problems)}.", field="tiers")
    tiers = policies.build_tiers(kind, approvals, order, conditional)
    problems = policies.validate_policy(kind=kind, approvals_required=approvals, order=order, steps=clean_steps,
                                        tiers=tiers)
    if problems:
        raise DomainError(" ".join(problems), field="tiers")
    target = _clean_target(project, all_tools=all_tools, operation_keys=operation_keys, categories=categories,
                           tags=tags)
    return {"name": name[:120], "kind": kind, "approvals_required": approvals, "order": order, "steps": clean_steps,
            "tiers": tiers, "expires_after": expires_after, "justification_required": bool(justification_required),
            "environment": environment, **target}


def policy_snapshot(policy: ApprovalPolicy) -> dict[str, Any]:
    return {
        "name": policy.name, "kind": policy.kind, "approvals_required": policy.approvals_required,
        "order": policy.order, "steps": list(policy.steps), "tiers": list(policy.tiers),
        "expires_after_seconds": int(policy.expires_after.total_seconds()),
        "justification_required": policy.justification_required,
        "environment": policy.environment.slug if policy.environment_id else None, **_target_snapshot(policy),
    }


@transaction.atomic
def policy_create(*, project, actor, name: str, kind: str, approvals_required: int | None = None,
                  order: str = "any", steps: Sequence[dict] | None = None,
                  conditional_tiers: Sequence[dict] | None = None, expires_after: timedelta | None = None,
                  justification_required: bool = False, environment=None, all_tools: bool = False,
                  operation_keys: Sequence[str] = (), categories: Sequence[str] = (), tags: Sequence[str] = (),
                  source: str = ApprovalPolicy.Source.MANUAL) -> ApprovalPolicy:
    """Create an approval policy. ``conditional_tiers`` are ``{"when": [rules], "approvals": n,
    "order": ...}`` dicts checked with ``conditions.validate_rule``; the default tier comes from
    ``kind``/``approvals_required``."""
    fields = _clean_policy(project, name=name, kind=kind, approvals_required=approvals_required, order=order,
                           steps=steps, conditional_tiers=conditional_tiers, expires_after=expires_after,
                           justification_required=justification_required, environment=environment,
                           all_tools=all_tools, operation_keys=operation_keys, categories=categories, tags=tags)
    policy = ApprovalPolicy.objects.create(organization=project.organization, project=project, source=source,
                                           created_by=actor, created_by_label=actor_label_for(actor), **fields)
    audit_record(organization=project.organization, event_type="policy.created", actor=actor, target=policy,
                 payload={"project": project.slug, "before": None, "after": policy_snapshot(policy)})
    return policy


def conditional_tiers_of(policy: ApprovalPolicy) -> list[dict]:
    return [dict(t) for t in policy.tiers if t.get("when")]


@transaction.atomic
def policy_update(*, policy: ApprovalPolicy, actor, **changes) -> ApprovalPolicy:
    """Change any policy field (same arguments as ``policy_create``); unspecified fields keep
    their value. Audited with the full before/after."""
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
    allowed = {"name", "kind", "approvals_required", "order", "steps", "conditional_tiers", "expires_after",
               "justification_required", "environment", "all_tools", "operation_keys", "categories", "tags"}
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    current = {
        "name": policy.name, "kind": policy.kind, "approvals_required": policy.approvals_required,
        "order": policy.order, "steps": policy.steps, "conditional_tiers": conditional_tiers_of(policy),
        "expires_after": policy.expires_after, "justification_required": policy.justification_required,
        "environment": policy.environment, "all_tools": policy.all_tools, "operation_keys": policy.operation_keys,
        "categories": policy.categories, "tags": policy.tags,
    }
    before = policy_snapshot(policy)
    fields = _clean_policy(policy.project, **{**current, **changes})
    for key, value in fields.items():
        setattr(policy, key, value)
    policy.save()
    after = policy_snapshot(policy)
    if after != before:
        audit_record(organization=policy.organization, event_type="policy.updated", actor=actor, target=policy,
                     payload={"project": policy.project.slug, "before": before, "after": after})
    return policy


@transaction.atomic
def policy_delete(*, policy: ApprovalPolicy, actor) -> None:
    snapshot = policy_snapshot(policy)
    audit_record(organization=policy.organization, event_type="policy.deleted", actor=actor, target=policy,
                 payload={"project": policy.project.slug, "before": snapshot, "after": None})
    policy.delete()


@transaction.atomic
def accept_suggested_policies(*, project, actor, keys: Sequence[str] | None = None) -> list[ApprovalPolicy]:
    """Create the risk-suggested policies (all of them, or those whose ``key`` is listed)."""
    created = []
    for suggestion in selectors.suggested_policies(project):
        if keys is not None and suggestion.key not in keys:
            continue
        created.append(policy_create(
            project=project, actor=actor, name=suggestion.name, kind=suggestion.kind,
            approvals_required=suggestion.approvals_required, categories=suggestion.categories,
            operation_keys=suggestion.operation_keys, source=ApprovalPolicy.Source.SUGGESTED))
    if keys and not created:
        raise DomainError("That suggestion no longer applies (already accepted?).")
    return created
