"""A project's governance as plain data, and the decisions made from it. Pure: no Django import.

``ProjectRules`` holds what every permission and approval decision in one project reads
besides the caller and the tool: its grants (for all environments), its approval policies
and the admins' explicit tool switches. ``selectors.project_rules`` loads it in three
queries; the MCP gateway keeps it in memory per project config version (see
migrations/0002_config_version.py), the simulator and the pages load it fresh. Both call
the functions here, so they cannot disagree.

Tools are described by duck typing (``operation_key``, ``category``, ``tags``,
``category_tags``, ``poisoning``), so a ``Tool`` row or any light object will do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import grants, policies

UNCLASSIFIED_CATEGORY = "critical"  # fail closed: an unclassified tool is treated as the riskiest


@dataclass(frozen=True)
class EnvironmentRef:
    """The facts about an environment that decisions read."""

    id: str
    slug: str
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.id))


@dataclass(frozen=True)
class ProjectRules:
    """Grants (in creation order), approval policies (in creation order) and explicit tool
    switches ``(environment id, operation_key) -> enabled`` of one project."""

    grants: tuple[grants.Grant, ...] = ()
    policies: tuple[policies.PolicyRef, ...] = ()
    switches: Mapping[tuple[str, str], bool] = field(default_factory=dict)

    def grants_in(self, environment_id: object) -> list[grants.Grant]:
        """The grants that can apply in the environment: its own and the all-environment ones."""
        env_id = str(environment_id)
        return [g for g in self.grants if g.environment_id is None or g.environment_id == env_id]


def tool_category(tool: Any) -> str:
    return tool.category or UNCLASSIFIED_CATEGORY


def tool_tags(tool: Any) -> frozenset[str]:
    """OpenAPI tags plus the classifier's secondary category tags ("billing" on a refund GET)."""
    return frozenset(str(t) for t in [*(tool.tags or []), *(tool.category_tags or [])])


def tool_ref(tool: Any) -> grants.ToolRef:
    return grants.ToolRef(name=tool.operation_key, category=tool_category(tool), tags=tool_tags(tool))


def default_enabled(tool: Any, environment_slug: str) -> bool:
    """The state of a tool no admin has switched: the risk default for the environment,
    except that a tool whose description looks like a prompt injection stays disabled until
    an admin has reviewed it and switched it on explicitly."""
    return grants.default_enabled(tool_category(tool), environment_slug) and not tool.poisoning


def is_enabled(rules: ProjectRules, tool: Any, environment: EnvironmentRef) -> bool:
    """An explicit switch wins; otherwise ``default_enabled``."""
    switch = rules.switches.get((environment.id, tool.operation_key))
    return switch if switch is not None else default_enabled(tool, environment.slug)


def decide(rules: ProjectRules, subject: grants.Subject, tool: Any, environment: EnvironmentRef, *,
           ref: grants.ToolRef | None = None) -> grants.Decision:
    """Whether ``subject`` may call ``tool`` in ``environment``, and why (``grants.resolve``).
    ``ref``: ``tool_ref(tool)`` when the caller already has it (the gateway's hot path)."""
    return grants.resolve(subject, ref or tool_ref(tool), environment.id, enabled=is_enabled(rules, tool, environment),
                          grants=rules.grants_in(environment.id), environment_name=environment.name)


def callable_tools(rules: ProjectRules, subject: grants.Subject, tools: Iterable[Any],
                   environment: EnvironmentRef) -> list[Any]:
    """The tools ``decide`` allows, in input order (``grants.visible_tools``, which is
    property-tested to agree with ``grants.resolve``). A subject without a role sees none."""
    if subject.role is None:
        return []
    tools = list(tools)
    refs = {t.operation_key: tool_ref(t) for t in tools}
    states = {t.operation_key: is_enabled(rules, t, environment) for t in tools}
    visible = grants.visible_tools(subject, refs.values(), environment.id, enabled_map=states,
                                   grants=rules.grants_in(environment.id))
    keep = {ref.name for ref in visible}
    return [t for t in tools if t.operation_key in keep]


def approval_requirement(rules: ProjectRules, tool: Any, environment: EnvironmentRef,
                         arguments: Mapping[str, Any] | None, *,
                         received: Sequence[Any] = (), ref: grants.ToolRef | None = None,
                         ) -> policies.Requirement | None:
    """What approval a call with ``arguments`` needs (``policies.requirement``, also
    evaluated on each ``received`` document: what the upstream actually receives); raises
    ``conditions.ConditionError`` for a stored policy with invalid tiers (fail closed)."""
    return policies.requirement(rules.policies, ref or tool_ref(tool), environment.id, arguments or {},
                                received=received)


def has_approval(refs: Sequence[policies.PolicyRef], ref: grants.ToolRef, environment_id: object) -> bool:
    """Whether some policy can require a human for this tool here (any tier with approvals)."""
    for policy in policies.applicable(refs, ref, environment_id):
        if any(int(t.get("approvals", 0)) > 0 for t in policy.tiers):
            return True
    return False
