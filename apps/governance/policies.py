"""Which approval policy applies to a call, and what it requires. Pure: no Django import.

A policy covers tools through the same ``grants.Target`` as a grant (named operations,
categories, tags or every tool) in one environment or all of them. For a call:

1. Policies whose environment and target match are ordered most specific first: a policy
   naming the tool beats one naming its tag, which beats its category, which beats "every
   tool"; an environment-specific policy beats an all-environments one; between equals,
   the stricter (more approvals in its default tier) comes first. A specific policy is how
   an admin says "this one tool needs no approval even though its category does".
2. The first policy whose tiers apply to the arguments decides (``conditions.select_policy_tier``):
   the matching tier's approval count is the answer, and 0 means no approval. A policy
   whose tiers have no default and none match "does not apply to these arguments", so the
   next policy is asked. Policies written in the UI always have a default tier.
3. Fail closed: a condition that cannot be decided on the arguments (a non-finite number,
   a string parsers read differently, a value over a cap) selects the deciding policy's
   strictest tier (``conditions.strictness``), and the ``reason`` says which condition.
4. ``requirement(..., received=[...])`` also evaluates the policies on each document the
   upstream actually receives (query string, headers, body as the gateway serialises
   them) and returns the strictest requirement over all documents.

Tier dicts follow ``conditions.py``; ``steps`` (who fills the first approvals) are shared
by the policy's tiers and cut to the tier's approval count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from . import conditions
from .grants import Target, ToolRef

KINDS = ("none", "single", "multi")
ORDERS = ("any", "sequential")
STEP_KINDS = ("team", "role")
MAX_STEPS = conditions.MAX_APPROVALS
_TARGET_ORDER = {"name": 0, "tag": 1, "category": 2, "all": 3}


@dataclass(frozen=True)
class PolicyRef:
    """A stored policy as plain data."""

    id: str
    label: str
    target: Target
    kind: str
    approvals_required: int
    order: str = "any"
    steps: tuple[Mapping[str, Any], ...] = ()
    tiers: tuple[Mapping[str, Any], ...] = ()
    environment_id: str | None = None
    expires_after: timedelta = timedelta(hours=24)
    justification_required: bool = False

    def __post_init__(self) -> None:
        if self.environment_id is not None:
            object.__setattr__(self, "environment_id", str(self.environment_id))


@dataclass(frozen=True)
class Requirement:
    """What the approval queue must collect before a call runs (the approvals engineer's input).

    ``steps`` lists ``{"kind": "team"|"role", "value": ..., "label": ...}`` for the first
    approvals; positions beyond it are "any reviewer". ``reason`` explains the choice.
    """

    policy_id: str
    policy_label: str
    kind: str
    approvals_required: int
    steps: list[dict[str, Any]] = field(default_factory=list)
    order: str = "any"
    expires_after: timedelta = timedelta(hours=24)
    justification_required: bool = False
    tier_index: int = 0
    reason: str = ""
    matched: str = ""  # for people: why the policy covers this call and which of its conditions matched


def build_tiers(kind: str, approvals_required: int, order: str,
                conditional: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The stored tier list: the conditional tiers, then the default tier from ``kind``."""
    default = {"none": 0, "single": 1}.get(kind, approvals_required)
    return [*(dict(t) for t in conditional if t.get("when")), {"approvals": default, "order": order}]


def validate_policy(*, kind: str, approvals_required: int, order: str, steps: Any,
                    tiers: Any) -> list[str]:
    """Every problem with a policy's shape, as user-facing messages (``[]`` = valid)."""
    errors: list[str] = []
    if kind not in KINDS:
        errors.append(f"Approval kind must be one of {', '.join(KINDS)}.")
    if order not in ORDERS:
        errors.append("Order must be 'any' or 'sequential'.")
    if kind == "multi" and not 2 <= approvals_required <= conditions.MAX_APPROVALS:
        errors.append(f"A multi-step policy needs 2 to {conditions.MAX_APPROVALS} approvals.")
    if not isinstance(steps, list):
        errors.append("Steps must be a list.")
    else:
        if len(steps) > MAX_STEPS:
            errors.append(f"At most {MAX_STEPS} named steps.")
        for i, step in enumerate(steps, start=1):
            if not isinstance(step, Mapping) or step.get("kind") not in STEP_KINDS or not step.get("value"):
                errors.append(f"Step {i} must name a team or a role.")
    errors.extend(f"Conditions: {e}" for e in conditions.validate_tiers(tiers))
    return errors


def _match(policy: PolicyRef, tool: ToolRef, environment_id: str) -> str | None:
    if policy.environment_id is not None and policy.environment_id != environment_id:
        return None
    return policy.target.match_kind(tool)


def _default_approvals(policy: PolicyRef) -> int:
    for tier in reversed(policy.tiers):
        if not tier.get("when"):
            return int(tier.get("approvals", 0))
    return 0


def applicable(policies: Sequence[PolicyRef], tool: ToolRef, environment_id: object) -> list[PolicyRef]:
    """The policies covering ``tool`` in the environment, most specific (then strictest) first."""
    env_id = str(environment_id)
    ranked = []
    for position, policy in enumerate(policies):
        kind = _match(policy, tool, env_id)
        if kind is not None:
            key = (_TARGET_ORDER[kind], 0 if policy.environment_id is not None else 1,
                   -_default_approvals(policy), position)
            ranked.append((key, policy))
    return [policy for _, policy in sorted(ranked, key=lambda item: item[0])]


def condition_text(condition: conditions.Condition) -> str:
    """A condition as people read it: ``amount > 1000``, ``currency not in ["EUR", "USD"]``."""
    import json

    operator = condition.operator.replace("_", " ")
    if condition.operator == "exists":
        return f"{condition.field} is present"
    return f"{condition.field} {operator} {json.dumps(condition.value, ensure_ascii=False)}"


def matched_text(policy: PolicyRef, tool: ToolRef, tier: conditions.Tier, document: str = "") -> str:
    """Why ``policy`` holds this call, in words: the part of its target that covers the tool
    and the tier that decided (conditions that matched, the default, or undecidable ones)."""
    from .grants import category_label

    kind = policy.target.match_kind(tool)
    covers = {
        "name": f"it names the tool {tool.name}",
        "tag": "it covers the tag " + ", ".join(sorted(policy.target.tags & tool.tags)),
        "category": f"it covers the {category_label(tool.category)} category",
        "all": "it covers every tool",
    }.get(kind or "", "it covers this tool")
    where = "in this environment" if policy.environment_id is not None else "in every environment"
    if tier.undecided:
        how = "a condition could not be decided, so its strictest tier applies (" + "; ".join(tier.undecided) + ")"
    elif tier.is_default:
        how = "no condition on the arguments: its default rule applies"
    else:
        how = "the arguments matched " + " and ".join(condition_text(c) for c in tier.when)
    return f"“{policy.label}” applies because {covers} {where}; {how}{document}."


def _policy_requirement(policy: PolicyRef, tier: conditions.Tier, document: str,
                        tool: ToolRef | None = None) -> Requirement:
    steps = [dict(step) for step in policy.steps][: tier.approvals]
    if tier.undecided:
        why = "strictest tier, because " + "; ".join(tier.undecided)
    elif tier.is_default:
        why = "default tier"
    else:
        why = "conditions " + " and ".join(f"{c.field} {c.operator} {c.value!r}" for c in tier.when)
    return Requirement(
        policy_id=policy.id,
        policy_label=policy.label,
        kind="single" if tier.approvals == 1 else "multi",
        approvals_required=tier.approvals,
        steps=steps,
        order=tier.order,
        expires_after=policy.expires_after,
        justification_required=policy.justification_required,
        tier_index=tier.index,
        reason=f"{policy.label}: {why}{document} -> {tier.approvals} approval{'s' if tier.approvals != 1 else ''}",
        matched=matched_text(policy, tool, tier, document) if tool is not None else "",
    )


def _requirement_for(policies: Sequence[PolicyRef], tool: ToolRef, environment_id: object,
                     document: Any, label: str) -> Requirement | None:
    for policy in applicable(policies, tool, environment_id):
        tier = conditions.select_policy_tier(list(policy.tiers), document)
        if tier is None:
            continue
        if tier.approvals == 0:
            return None
        return _policy_requirement(policy, tier, label, tool)
    return None


def strictness(need: Requirement | None) -> tuple[int, int]:
    """``conditions.strictness`` of a requirement; no requirement is the least strict."""
    if need is None:
        return (0, -1)
    return conditions.strictness(need.approvals_required, need.order)


def requirement(policies: Sequence[PolicyRef], tool: ToolRef, environment_id: object,
                arguments: Any, *, received: Sequence[Any] = ()) -> Requirement | None:
    """The approval a call needs, or ``None`` when none applies (or the deciding tier needs 0).

    The policies are evaluated on the tool ``arguments`` and, separately, on every document
    in ``received`` (what the upstream actually receives, e.g. the query string as a
    mapping, as the gateway serialises it); the strictest answer over all documents wins
    (``strictness``; on a tie the earlier document, so the arguments first). A condition
    that cannot be decided on a document selects its policy's strictest tier there.

    Invalid stored tiers raise ``conditions.ConditionError``: the gateway must refuse the
    call rather than skip approval (fail closed).
    """
    best = _requirement_for(policies, tool, environment_id, arguments, "")
    for number, document in enumerate(received, start=1):
        label = f" (on what the upstream receives, document {number})"
        need = _requirement_for(policies, tool, environment_id, document, label)
        if strictness(need) > strictness(best):
            best = need
    return best
