"""Every governance read. The MCP gateway (enforcement) and the pages (explanation) call the
same functions here, which call the same pure rules (grants.py, policies.py, conditions.py),
so the simulator cannot disagree with the gateway.

Tools are identified by ``operation_key`` throughout: it is the ``ToolRef.name`` handed to
grants.py and the key of ``enabled_map``, so a rename or re-import changes nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q

from apps.accounts.models import Membership, Team
from apps.inventory.models import Tool
from apps.inventory.selectors import current_tools

from . import conditions, grants, hooks, policies, rules
from .models import ApprovalPolicy, Grant, ToolSetting
from .policies import Requirement

__all__ = [
    "Requirement",
    "approval_requirement",
    "callable_tools",
    "decide",
    "enabled_map",
    "governance_facts",
]

SENSITIVE_CATEGORIES = ("critical", "administrative", "billing")
# The inventory shows two axes: the category (what a call does) and the risk level (how bad a
# misuse would be). A tool needs an approval policy when either axis says so.
HIGH_RISK_LEVELS = ("high", "critical")
UNCLASSIFIED_CATEGORY = rules.UNCLASSIFIED_CATEGORY

# --------------------------------------------------------------------------- mapping to pure data

tool_category = rules.tool_category
tool_tags = rules.tool_tags
tool_ref = rules.tool_ref
has_approval = rules.has_approval


def environment_ref(environment) -> rules.EnvironmentRef:
    return rules.EnvironmentRef(id=environment.pk, slug=environment.slug, name=environment.name)


def target_of(row) -> grants.Target:
    return grants.Target(all_tools=row.all_tools, tool_names=frozenset(row.operation_keys or ()),
                         categories=frozenset(row.categories or ()), tags=frozenset(row.tags or ()))


def principal_label(grant: Grant) -> str:
    if grant.principal_kind == Grant.PrincipalKind.TEAM:
        return grant.team.name
    if grant.principal_kind == Grant.PrincipalKind.USER:
        return grant.user.email or grant.user.get_username()
    return grant.role


def grant_ref(grant: Grant) -> grants.Grant:
    value = {"role": grant.role, "team": grant.team_id, "user": grant.user_id}[grant.principal_kind]
    return grants.Grant(
        effect=grant.effect, principal_kind=grant.principal_kind, principal_value=str(value),
        target=target_of(grant), environment_id=grant.environment_id, id=grant.pk,
        principal_label=principal_label(grant),
        environment_label=grant.environment.name if grant.environment_id else "",
    )


def policy_ref(policy: ApprovalPolicy) -> policies.PolicyRef:
    return policies.PolicyRef(
        id=str(policy.public_id), label=policy.name, target=target_of(policy), kind=policy.kind,
        approvals_required=policy.approvals_required, order=policy.order, steps=tuple(policy.steps or ()),
        tiers=tuple(policy.tiers or ()), environment_id=policy.environment_id,
        expires_after=policy.expires_after, justification_required=policy.justification_required,
    )


# --------------------------------------------------------------------------- the interface


def enabled_map(environment, tools: Iterable[Tool]) -> dict[str, bool]:
    """operation_key -> enabled in ``environment`` for ``tools``. One query.

    An explicit ``ToolSetting`` row (an admin's switch) wins; otherwise ``rules.default_enabled``
    (the risk default for the environment; a tool whose description looks like a prompt
    injection stays disabled until an admin switched it on). Tools loaded without
    ``poisoning`` get it in one more query.
    """
    tools = list(tools)
    deferred = [t.pk for t in tools if "poisoning" in t.get_deferred_fields()]
    if deferred:
        flags = dict(Tool.objects.filter(pk__in=deferred).values_list("pk", "poisoning"))
        for tool in tools:
            if tool.pk in flags:
                tool.poisoning = flags[tool.pk]
    keys = [t.operation_key for t in tools]
    env = environment_ref(environment)
    switches = {
        (env.id, key): enabled for key, enabled in
        ToolSetting.objects.filter(environment=environment, operation_key__in=keys, by_default=False)
        .values_list("operation_key", "enabled")
    } if keys else {}
    env_rules = rules.ProjectRules(switches=switches)
    return {t.operation_key: rules.is_enabled(env_rules, t, env) for t in tools}


def subject_for(user, organization_id: int) -> grants.Subject:
    """The caller as grants.py sees them: role in the organization (None if not a member)
    and their team ids there. Two queries."""
    if user is None or not getattr(user, "is_authenticated", False):
        return grants.Subject(user_id="anonymous", role=None)
    role = Membership.objects.filter(organization_id=organization_id, user=user).values_list("role", flat=True).first()
    team_ids = Team.objects.filter(organization_id=organization_id, members=user).values_list("pk", flat=True)
    return grants.Subject(user_id=str(user.pk), role=role, team_ids=frozenset(str(t) for t in team_ids),
                          label=user.email or user.get_username())


def grants_for(environment) -> list[grants.Grant]:
    """The grants that can apply in ``environment`` (its own and the all-environment ones). One query."""
    rows = (
        Grant.objects.filter(project_id=environment.project_id)
        .filter(Q(environment__isnull=True) | Q(environment_id=environment.pk))
        .select_related("team", "user", "environment")
        .order_by("created_at", "pk")
    )
    return [grant_ref(g) for g in rows]


def project_rules(project_id: int, *, with_policies: bool = True) -> rules.ProjectRules:
    """Every grant, approval policy (unless ``with_policies`` is false: permission decisions
    do not read them) and explicit tool switch of the project as ``rules.ProjectRules``.
    Three queries. The gateway caches the result per project config version
    (apps/gateway/snapshot.py); everything else reads it fresh."""
    grant_rows = (Grant.objects.filter(project_id=project_id).select_related("team", "user", "environment")
                  .order_by("created_at", "pk"))
    switches = {(str(env_id), key): enabled for env_id, key, enabled in
                ToolSetting.objects.filter(project_id=project_id, by_default=False)
                .values_list("environment_id", "operation_key", "enabled")}
    return rules.ProjectRules(grants=tuple(grant_ref(g) for g in grant_rows),
                              policies=tuple(policies_for(project_id)) if with_policies else (), switches=switches)


def decide(user, tool: Tool, environment) -> grants.Decision:
    """Whether ``user`` may call ``tool`` in ``environment``, and why (which grant, or disabled).

    The policy simulator page, its API and the approvals worker's re-check use this; the
    gateway calls the same ``rules.decide`` with its cached rules. Four queries.
    """
    subject = subject_for(user, environment.organization_id)
    project = project_rules(environment.project_id, with_policies=False)
    return rules.decide(project, subject, tool, environment_ref(environment))


def callable_tools(user, environment) -> list[Tool]:
    """The current tools ``user`` may call in ``environment`` (enabled AND granted), in document
    order. Five queries whatever the number of tools (membership, teams, grants, switches,
    tools); agrees with ``decide`` tool by tool."""
    subject = subject_for(user, environment.organization_id)
    if subject.role is None:
        return []
    project = project_rules(environment.project_id, with_policies=False)
    return rules.callable_tools(project, subject, current_tools(environment.project), environment_ref(environment))


def policies_for(project_id: int) -> list[policies.PolicyRef]:
    rows = ApprovalPolicy.objects.filter(project_id=project_id).order_by("created_at", "pk")
    return [policy_ref(p) for p in rows]


def approval_requirement(tool: Tool, environment, arguments: dict) -> Requirement | None:
    """What approval a call of ``tool`` with ``arguments`` in ``environment`` needs, or None.

    Returns ``Requirement(policy_id, policy_label, kind "single"|"multi", approvals_required,
    steps [{"kind": "team"|"role", "value", "label"}] (empty = any reviewer), order
    "sequential"|"any", expires_after, justification_required, tier_index, reason)``.
    Policy choice and tiers: see policies.py. A stored policy with invalid tiers raises
    ``conditions.ConditionError`` (fail closed). One query.
    """
    return rules.approval_requirement(rules.ProjectRules(policies=tuple(policies_for(environment.project_id))),
                                      tool, environment_ref(environment), arguments)


# --------------------------------------------------------------------------- pages


MATRIX_TOOL_FIELDS = ("name", "operation_key", "method", "path", "category", "category_tags", "tags", "poisoning",
                      "risk_level", "position", "project_id", "spec_version_id", "organization_id")


@dataclass
class MatrixRow:
    tool: Tool
    cells: list[dict] = field(default_factory=list)


def needs_approval(tool) -> bool:
    """Whether an enabled tool without an approval policy is a finding: a sensitive category
    (critical, administrative, billing) or a high or critical risk level."""
    return tool_category(tool) in SENSITIVE_CATEGORIES or (tool.risk_level or "") in HIGH_RISK_LEVELS


def sensitivity_text(tool) -> str:
    """Why ``needs_approval`` holds, in the inventory's words (category and/or risk level)."""
    parts = []
    if tool_category(tool) in SENSITIVE_CATEGORIES:
        parts.append(f"category {tool_category(tool).replace('_', '-')}")
    if (tool.risk_level or "") in HIGH_RISK_LEVELS:
        parts.append(f"{tool.risk_level} risk")
    return ", ".join(parts)


def matrix(project, environments: Sequence, *, q: str = "", category: str = "", tag: str = "",
           operation_key: str = "") -> list[MatrixRow]:
    """Tools x environments for the permissions page: enabled state, whether an admin set it,
    and whether an enabled sensitive tool lacks an approval policy (a finding)."""
    # only what the matrix shows: schemas of hundreds of tools are not worth decoding here
    tools = current_tools(project).only(*MATRIX_TOOL_FIELDS)
    if operation_key:
        tools = tools.filter(operation_key=operation_key)
    tools = list(tools)
    if q:
        ql = q.lower()
        tools = [t for t in tools if ql in t.name.lower() or ql in t.operation_key.lower()]
    if category:
        tools = [t for t in tools if tool_category(t) == category]
    if tag:
        tools = [t for t in tools if tag in tool_tags(t)]
    keys = [t.operation_key for t in tools]
    explicit = {
        (s.environment_id, s.operation_key): s
        for s in ToolSetting.objects.filter(project=project, operation_key__in=keys, by_default=False)
    } if keys else {}
    refs = policies_for(project.pk)
    rows = []
    for tool in tools:
        ref = tool_ref(tool)
        row = MatrixRow(tool=tool)
        for env in environments:
            setting = explicit.get((env.pk, tool.operation_key))
            default = rules.default_enabled(tool, env.slug)
            enabled = setting.enabled if setting else default
            row.cells.append({
                "environment": env, "enabled": enabled, "explicit": setting is not None, "default": default,
                "unguarded": enabled and needs_approval(tool) and not has_approval(refs, ref, env.pk),
                # enabling it asks for a reason (services.confirmation_needed)
                "confirm": not enabled and env.slug != grants.DEVELOPMENT_SLUG
                and tool_category(tool) in SENSITIVE_CATEGORIES,
            })
        rows.append(row)
    return rows


def tools_matching(project, *, category: str = "", tag: str = "") -> list[Tool]:
    """Current tools of a category and/or carrying a tag (bulk actions)."""
    return [t for t in current_tools(project)
            if (not category or tool_category(t) == category) and (not tag or tag in tool_tags(t))]


def project_tag_choices(project) -> list[str]:
    tags: set[str] = set()
    for tool in current_tools(project).only("tags", "category_tags"):
        tags |= tool_tags(tool)
    return sorted(tags)


def grant_list(project):
    return (Grant.objects.filter(project=project).select_related("team", "user", "environment")
            .order_by("environment__position", "created_at"))


def policy_list(project):
    return ApprovalPolicy.objects.filter(project=project).select_related("environment").order_by("name")


def unguarded_findings(project) -> list[dict]:
    """Sensitive tools enabled somewhere without any approval policy covering them there."""
    environments = list(project.environments.all())
    findings = []
    for row in matrix(project, environments):
        for cell in row.cells:
            if cell["unguarded"]:
                findings.append({
                    "code": "tool_enabled_without_approval",
                    "severity": "high",
                    "tool": row.tool.name,
                    "operation_key": row.tool.operation_key,
                    "environment": cell["environment"].slug,
                    "title": f"{row.tool.name} ({sensitivity_text(row.tool)}) is enabled in "
                             f"{cell['environment'].name} without an approval policy",
                })
    return findings


@dataclass(frozen=True)
class Suggestion:
    """A policy the risk rules recommend; the admin accepts it to create it."""

    key: str
    name: str
    kind: str
    approvals_required: int
    reason: str
    categories: tuple[str, ...] = ()
    operation_keys: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


def suggested_policies(project) -> list[Suggestion]:
    """Approval policies suggested from risk (grants.suggested_approval) that do not exist yet.

    Critical and administrative tools: one approval; billing: two. Suggestions target the
    category, so tools added by a later import are covered too; critical tools tagged
    billing get a tool-level suggestion (two approvals), which outranks the category one.
    """
    tools = list(current_tools(project))
    existing = list(ApprovalPolicy.objects.filter(project=project, environment__isnull=True))
    by_category: dict[str, list[Tool]] = {}
    billing_critical: list[Tool] = []
    verdicts = {}
    for tool in tools:
        verdict = grants.suggested_approval(tool_category(tool), tool_tags(tool))
        if verdict.kind == grants.ApprovalKind.NONE:
            continue
        verdicts[tool.operation_key] = verdict
        if tool_category(tool) == "critical" and verdict.kind == grants.ApprovalKind.MULTI:
            billing_critical.append(tool)
        else:
            by_category.setdefault(tool_category(tool), []).append(tool)
    out: list[Suggestion] = []
    labels = {"critical": "Critical", "administrative": "Administrative", "billing": "Billing"}
    # Category names the axis explicitly: "Critical-category tools" is not "critical risk".
    for category in ("billing", "critical", "administrative"):
        members = by_category.get(category)
        if not members or any(p.categories == [category] and not p.operation_keys and not p.tags
                              for p in existing):
            continue
        verdict = verdicts[members[0].operation_key]
        out.append(Suggestion(
            key=f"category:{category}", name=f"{labels[category]}-category tools: {_kind_text(verdict)}",
            kind=verdict.kind.value, approvals_required=verdict.approvals_required, reason=verdict.reason,
            categories=(category,), tools=tuple(t.name for t in members)))
    if billing_critical:
        keys = tuple(t.operation_key for t in billing_critical)
        covered = any(set(keys) <= set(p.operation_keys or ()) for p in existing)
        if not covered:
            verdict = verdicts[keys[0]]
            out.append(Suggestion(
                key="billing-critical", name=f"Critical billing tools: {_kind_text(verdict)}",
                kind=verdict.kind.value, approvals_required=verdict.approvals_required, reason=verdict.reason,
                operation_keys=keys, tools=tuple(t.name for t in billing_critical)))
    out += _risk_level_suggestion(tools, existing)
    return out


def _risk_level_suggestion(tools: list[Tool], existing: list) -> list[Suggestion]:
    """High- or critical-risk tools whose category needs no approval (a read-only tool returning
    bank details): one tool-level policy, single approval, unless some all-environment policy
    already requires a human for each of them."""
    refs = [policy_ref(p) for p in existing]
    risky = [t for t in tools if (t.risk_level or "") in HIGH_RISK_LEVELS
             and tool_category(t) not in SENSITIVE_CATEGORIES and not has_approval(refs, tool_ref(t), None)]
    if not risky:
        return []
    levels = " or ".join(sorted({t.risk_level for t in risky}, key=HIGH_RISK_LEVELS.index))
    return [Suggestion(
        key="risk:high", name="High- or critical-risk tools: single approval", kind=grants.ApprovalKind.SINGLE.value,
        approvals_required=1,
        reason=f"{levels} risk level although the category needs no approval by default",
        operation_keys=tuple(t.operation_key for t in risky), tools=tuple(t.name for t in risky))]


def _kind_text(verdict: grants.ApprovalSuggestion) -> str:
    n = verdict.approvals_required
    return "single approval" if n == 1 else f"{n} approvals"


def member(organization, user_ref) -> object | None:
    """A member of ``organization`` named by user id or email, else None (outsiders are not found)."""
    User = get_user_model()
    ref = str(user_ref or "").strip()
    members = User.objects.filter(memberships__organization=organization)
    if ref.isdigit():
        return members.filter(pk=int(ref)).first()
    return members.filter(email__iexact=ref).first() if ref else None


@dataclass
class Simulation:
    """The simulator's answer: the same Decision the gateway computes, plus the approval a call
    with the given arguments would need if allowed."""

    decision: grants.Decision
    requirement: Requirement | None = None
    requirement_error: str = ""


def simulate(*, user, tool: Tool, environment, arguments: dict | None = None) -> Simulation:
    """What the gateway would do: ``decide`` (the enforcement function itself) and
    ``approval_requirement`` for ``arguments``."""
    result = Simulation(decision=decide(user, tool, environment))
    try:
        result.requirement = approval_requirement(tool, environment, arguments or {})
    except conditions.ConditionError as exc:
        result.requirement_error = f"A stored policy is invalid, calls would be refused: {exc}"
    return result


# --------------------------------------------------------------------------- Security Score input


def _weakest_approval(refs: Sequence[policies.PolicyRef], ref: grants.ToolRef, environment_id) -> str:
    """The least approval an agent can get away with for this tool here ("none"|"single"|"multi"):
    the smallest tier of the deciding policy; a policy without a default tier can fall through
    to the next one, so that one counts as well."""
    least: int | None = None
    for policy in policies.applicable(refs, ref, environment_id):
        counts = [int(t.get("approvals", 0)) for t in policy.tiers]
        least = min([*counts, *([least] if least is not None else [])]) if counts else least
        if any(not t.get("when") for t in policy.tiers):
            break
    else:
        least = 0  # arguments matching no tier of any policy run without approval
    return "none" if not least else "single" if least == 1 else "multi"


def governance_facts(project, environment=None):
    """The project's governance as ``apps.risk.score.GovernanceFacts`` (one ``EnvironmentFacts``
    per environment, or only ``environment``), read live so the Security Score follows every
    switch, grant, policy and credential change. Tools are named by ``Tool.name``.

    * enabled_tools: enabled in that environment (explicit switch or risk default);
    * approval_policies: tool -> the weakest approval an agent can get (none|single|multi);
    * credentials_configured: every enabled tool's security requirement can be met by the
      credentials stored there (trivially true when tools need none);
    * credential_age_days: age of the oldest credential those tools use;
    * restricted_tools: tools a plain member without teams may not call (access narrowed to
      specific teams, users or senior roles).

    Five queries plus one per environment.
    """
    from apps.risk.score import EnvironmentFacts, GovernanceFacts

    environments = [environment] if environment is not None else list(project.environments.all())
    # Only the columns read below: the schemas are most of a row (a Box import reads this first).
    tools = list(current_tools(project).only("operation_key", "name", "category", "category_tags", "tags",
                                             "poisoning", "security"))
    refs = {t.operation_key: tool_ref(t) for t in tools}
    explicit = {(s.environment_id, s.operation_key): s.enabled
                for s in ToolSetting.objects.filter(project=project, by_default=False)
                .only("environment_id", "operation_key", "enabled")}
    policy_refs = policies_for(project.pk)
    all_grants = [grant_ref(g) for g in Grant.objects.filter(project=project).select_related("team", "user",
                                                                                          "environment")]
    credentials = hooks.active_credential_ages(project)  # apps.credentials (governance never imports it)
    baseline = grants.Subject(user_id="__baseline_member__", role="member")
    facts = GovernanceFacts()
    for env in environments:
        states = {t.operation_key: explicit.get((env.pk, t.operation_key),
                                                rules.default_enabled(t, env.slug))
                  for t in tools}
        enabled = [t for t in tools if states[t.operation_key]]
        env_grants = [g for g in all_grants if g.environment_id in (None, str(env.pk))]
        open_to_members = {r.name for r in grants.visible_tools(baseline, [refs[t.operation_key] for t in enabled],
                                                                env.pk, enabled_map=states, grants=env_grants)}
        stored = credentials.get(env.pk, {})
        configured, used = True, set()
        for tool in enabled:
            alternatives = [req for req in (tool.security or []) if isinstance(req, dict)]
            if not alternatives:
                continue
            usable = [req for req in alternatives if all(name in stored for name in req)]
            if not usable:
                configured = False
            else:
                used |= set(usable[0])
        ages = [stored[name] for name in used]
        facts.environments.append(EnvironmentFacts(
            name=env.name,
            enabled_tools={t.name for t in enabled},
            approval_policies={t.name: _weakest_approval(policy_refs, refs[t.operation_key], env.pk) for t in enabled},
            credentials_configured=configured,
            credential_age_days=max(ages) if ages else None,
            restricted_tools={t.name for t in enabled if t.operation_key not in open_to_members},
        ))
    return facts


# --------------------------------------------------------------------------- pinned definitions


def stale_pins(project_id: int) -> dict[str, dict[str, Tool | None]]:
    """environment id -> operation_key -> the ``Tool`` row the gateway must serve there instead
    of the current one (a pinned definition that a re-import changed), or None when an enabled
    tool has no pinned row (nothing is served: fail closed). Only enabled switches whose pinned
    row is not in the current version appear. Two queries (one when nothing is stale)."""
    rows = ToolSetting.objects.filter(project_id=project_id, enabled=True).values_list(
        "environment_id", "operation_key", "pinned_tool_id", "pinned_tool__spec_version__is_current")
    stale = [(str(env_id), key, pk) for env_id, key, pk, current in rows if not current]
    tools = Tool.objects.in_bulk([pk for _, _, pk in stale if pk]) if any(pk for _, _, pk in stale) else {}
    out: dict[str, dict[str, Tool | None]] = {}
    for env_id, key, pk in stale:
        out.setdefault(env_id, {})[key] = tools.get(pk) if pk else None
    return out


def pending_reviews(project, environment=None):
    """Enabled tools whose definition a re-import changed and no admin has accepted yet, per
    environment (oldest change first)."""
    rows = ToolSetting.objects.filter(project=project, enabled=True, pending_tool__isnull=False)
    if environment is not None:
        rows = rows.filter(environment=environment)
    return (rows.select_related("environment", "pending_tool__spec_version", "pinned_tool")
            .order_by("environment__position", "pending_since", "operation_key"))


def pending_review_count(project) -> int:
    return ToolSetting.objects.filter(project=project, enabled=True, pending_tool__isnull=False).count()


def pending_review(project, setting_id) -> ToolSetting:
    """One pending review of ``project`` by its public id (404 otherwise: another project's
    setting is not found)."""
    from django.http import Http404

    row = (ToolSetting.objects.filter(project=project, public_id=setting_id)
           .select_related("environment", "pending_tool", "pinned_tool", "project__organization").first())
    if row is None:
        raise Http404("No such definition review")
    return row


@dataclass
class DefinitionReview:
    """What the review page and the API show: the pinned and the new definition, which
    sections changed, a side-by-side HTML diff per changed section and the scan's findings."""

    setting: ToolSetting
    old: dict
    new: dict | None
    changed: list[str]
    poisoning: list[str]
    diffs: list[tuple[str, str]] = field(default_factory=list)  # (section, HTML table)

    @property
    def pending(self) -> bool:
        return self.new is not None

    @property
    def needs_override(self) -> bool:
        return bool(self.poisoning)


def _section_lines(definition: dict, section: str) -> list[str]:
    from apps.inventory.definitions import REVIEW_SECTIONS, pretty_json

    fields = REVIEW_SECTIONS[section]
    if section == "description":  # one line per paragraph line; the page wraps them
        return (definition.get("description") or "").splitlines() or [""]
    if section == "method/path":
        return [f"{definition.get('method', '')} {definition.get('path', '')}"]
    if len(fields) == 1:
        return pretty_json(definition.get(fields[0])).splitlines()
    return pretty_json({f: definition.get(f) for f in fields}).splitlines()


def definition_review(setting: ToolSetting) -> DefinitionReview:
    """The review of one environment's pinned definition against the pending one. Diffs are
    ``difflib.HtmlDiff`` tables (it escapes the text: descriptions are untrusted)."""
    import difflib

    from apps.inventory.definitions import REVIEW_SECTIONS, changed_sections, definition_of

    old = setting.pinned_definition or {}
    new = definition_of(setting.pending_tool) if setting.pending_tool_id else None
    changed = changed_sections(old, new) if new is not None else []
    review = DefinitionReview(setting=setting, old=old, new=new, changed=changed,
                              poisoning=list(setting.pending_tool.poisoning or []) if new is not None else [])
    if new is not None:
        differ = difflib.HtmlDiff(tabsize=2)  # no wrapcolumn: the page wraps long lines (CSS)
        for section in REVIEW_SECTIONS:
            if section in changed:
                table = differ.make_table(_section_lines(old, section), _section_lines(new, section),
                                          fromdesc="Pinned (served now)", todesc="New (this import)",
                                          context=section not in ("description", "method/path"), numlines=3)
                review.diffs.append((section, _mark_flagged(table, review.poisoning)))
    return review


_QUOTED = re.compile(r"'([^']{3,200})'")
_TAG = re.compile(r"(<[^>]*>)")


def _mark_flagged(table: str, findings: Sequence[str]) -> str:
    """``table`` (escaped HtmlDiff markup) made readable and marked, in text nodes only (never
    inside a tag): HtmlDiff's ``&nbsp;`` back to spaces (the page keeps them with pre-wrap and
    can break lines between words), and the text the poisoning scan quotes in its findings
    wrapped in ``<mark>``."""
    snippets = {html.escape(m, quote=False) for finding in findings for m in _QUOTED.findall(finding)}
    pattern = re.compile("|".join(re.escape(s) for s in sorted(snippets, key=len, reverse=True)),
                         re.IGNORECASE) if snippets else None

    def text(part: str) -> str:
        part = part.replace("&nbsp;", " ")
        if pattern is None:
            return part
        return pattern.sub(lambda m: f'<mark class="mf-flagged" title="flagged by the poisoning scan">{m.group(0)}'
                                     "</mark>", part)

    return "".join(part if part.startswith("<") else text(part) for part in _TAG.split(table))
