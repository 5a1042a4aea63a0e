"""Who may call which tool where: permission resolution. Pure: no Django import.

``resolve`` is the single source of truth used by *both* the MCP gateway (enforcement) and
the policy simulator page (explanation); ``visible_tools`` is a precomputed-index variant
of the same rules for ``tools/list`` and is property-tested to agree with ``resolve``
tool by tool. Keeping the rules in one pure module is what makes "the simulator said
allowed but the gateway said no" impossible.

Rules, in order
---------------
1. A tool disabled in the environment is never callable, whatever the grants say.
2. A grant *applies* when its principal matches the subject, its environment matches
   (``None`` = every environment; a grant for staging never applies in production) and
   its target matches the tool.
3. Deny wins: if any applicable grant denies, the call is denied, no matter how specific
   an allow is (a user-level allow does not punch through a role-level deny). Policies
   stay auditable because no ordering or priority has to be reasoned about.
4. Default deny: without an applicable allow grant nothing is callable.

Principals
----------
* ``user``: the subject's user id.
* ``team``: any of the subject's team ids.
* ``role``: "at least this role". A grant for ``member`` also applies to reviewers,
  admins and owners (ranks from ``apps.accounts.roles``), so "members may read" does not
  need five grants, and promoting someone never removes access. The same semantics hold
  for deny grants: a role deny for ``member`` denies members *and everyone above*. To
  keep a lower role out, simply do not allow it (default deny) rather than denying it.
  A subject without a role (not an organization member) matches no role grant.

Targets
-------
A target matches when it is ``all_tools``, or the tool's name is in ``tool_names``, or
its category is in ``categories``, or it shares a tag with ``tags`` (any of them; tags
compare exactly, case-sensitively, as OpenAPI tags do). A target with nothing set
matches nothing.

Identifiers (user, team, environment ids) are compared as strings so database integers
and UUIDs from different layers compare equal.

When several grants of the deciding effect apply, the one reported in the ``Decision``
is the most specific (user > team > role, then environment-specific > global, then
name > tag > category > all tools, then input order). This only affects the explanation,
never the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from apps.accounts.roles import RANK, Role

__all__ = [
    "ApprovalKind",
    "ApprovalSuggestion",
    "Decision",
    "Effect",
    "Grant",
    "GrantEvaluation",
    "PrincipalKind",
    "Subject",
    "Target",
    "ToolCategory",
    "ToolRef",
    "default_enabled",
    "resolve",
    "suggested_approval",
    "visible_tools",
]

DEVELOPMENT_SLUG = "development"


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class PrincipalKind(StrEnum):
    ROLE = "role"
    TEAM = "team"
    USER = "user"


class ToolCategory(StrEnum):
    """Risk categories assigned by the classifier (``apps.risk``)."""

    READ_ONLY = "read_only"
    SIDE_EFFECT = "side_effect"
    CRITICAL = "critical"
    ADMINISTRATIVE = "administrative"
    BILLING = "billing"


def _category(value: str) -> ToolCategory:
    try:
        return ToolCategory(value)
    except ValueError:
        allowed = ", ".join(c.value for c in ToolCategory)
        raise ValueError(f"unknown tool category {value!r} (expected one of: {allowed})") from None


def _str_set(values: Iterable[object] | None) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):  # a bare string would otherwise become a set of characters
        return frozenset({values})
    return frozenset(str(v) for v in values)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Subject:
    """The caller: user id, organization role (``None`` if not a member) and team ids.

    ``label`` (e.g. the email) only improves explanations; matching uses ``user_id``.
    """

    user_id: str
    role: str | None
    team_ids: frozenset[str] = frozenset()
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id", str(self.user_id))
        object.__setattr__(self, "team_ids", _str_set(self.team_ids))

    @property
    def rank(self) -> int | None:
        """Role rank, or ``None`` for no/unknown role (which then matches no role grant)."""
        if self.role is None:
            return None
        try:
            return RANK[Role(self.role)]
        except ValueError:
            return None

    @property
    def name(self) -> str:
        return self.label or f"user {self.user_id}"

    def describe(self) -> str:
        role = self.role or "no role"
        teams = len(self.team_ids)
        return f"{self.name} ({role}, {teams} team{'s' if teams != 1 else ''})"


@dataclass(frozen=True)
class ToolRef:
    """The facts about a tool that permissions depend on."""

    name: str
    category: str
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", _category(self.category).value)
        object.__setattr__(self, "tags", _str_set(self.tags))


@dataclass(frozen=True)
class Target:
    """Which tools a grant covers; see the module docstring for matching semantics."""

    all_tools: bool = False
    tool_names: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool_names", _str_set(self.tool_names))
        object.__setattr__(self, "tags", _str_set(self.tags))
        object.__setattr__(self, "categories", frozenset(_category(c).value for c in _str_set(self.categories)))

    @classmethod
    def any_tool(cls) -> Target:
        return cls(all_tools=True)

    @classmethod
    def names(cls, *names: str) -> Target:
        return cls(tool_names=frozenset(names))

    @classmethod
    def category(cls, *categories: str) -> Target:
        return cls(categories=frozenset(categories))

    @classmethod
    def tag(cls, *tags: str) -> Target:
        return cls(tags=frozenset(tags))

    @property
    def is_empty(self) -> bool:
        return not (self.all_tools or self.tool_names or self.categories or self.tags)

    def match_kind(self, tool: ToolRef) -> str | None:
        """The narrowest part of the target that matches ``tool`` ("name", "tag",
        "category", "all") or ``None``."""
        if tool.name in self.tool_names:
            return "name"
        if not self.tags.isdisjoint(tool.tags):
            return "tag"
        if tool.category in self.categories:
            return "category"
        if self.all_tools:
            return "all"
        return None

    def matches(self, tool: ToolRef) -> bool:
        return self.match_kind(tool) is not None

    def describe(self) -> str:
        if self.all_tools:
            return "any tool"
        parts = []
        if self.tool_names:
            parts.append(_plural("tool", self.tool_names))
        if self.categories:
            parts.append(_plural("category", frozenset(category_label(c) for c in self.categories), "categories"))
        if self.tags:
            parts.append(_plural("tag", self.tags))
        return " or ".join(parts) if parts else "no tool"


def category_label(category: str) -> str:
    """A category as people read it: "read-only", "side-effect" (never the stored "read_only")."""
    return str(category).replace("_", "-")


def _plural(word: str, values: frozenset[str], plural: str | None = None) -> str:
    items = sorted(values)
    if len(items) == 1:
        return f"{word} {items[0]}"
    return f"{plural or word + 's'} {', '.join(items)}"


@dataclass(frozen=True)
class Grant:
    """One permission rule.

    ``id`` and the ``*_label`` fields only feed explanations ("allowed by grant #12: team
    Support may call ..."); matching uses ``principal_value`` and ``environment_id``.
    """

    effect: Effect
    principal_kind: PrincipalKind
    principal_value: str
    target: Target
    environment_id: str | None = None
    id: int | str | None = None
    principal_label: str = ""
    environment_label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "effect", Effect(self.effect))
        kind = PrincipalKind(self.principal_kind)
        object.__setattr__(self, "principal_kind", kind)
        value = str(self.principal_value)
        if kind is PrincipalKind.ROLE:
            try:
                value = Role(value).value
            except ValueError:
                allowed = ", ".join(r.value for r in Role)
                raise ValueError(f"unknown role {value!r} in role grant (expected one of: {allowed})") from None
        object.__setattr__(self, "principal_value", value)
        if self.environment_id is not None:
            object.__setattr__(self, "environment_id", str(self.environment_id))

    @property
    def label(self) -> str:
        return f"grant #{self.id}" if self.id is not None else "an unsaved grant"

    def describe_principal(self) -> str:
        name = self.principal_label or self.principal_value
        if self.principal_kind is PrincipalKind.ROLE:
            return f"role {name}" if self.principal_value == Role.OWNER else f"role {name} or higher"
        return f"{self.principal_kind.value} {name}"

    def describe_environment(self) -> str:
        if self.environment_id is None:
            return "every environment"
        return self.environment_label or f"environment {self.environment_id}"

    def describe(self) -> str:
        verb = "may call" if self.effect is Effect.ALLOW else "may not call"
        return f"{self.describe_principal()} {verb} {self.target.describe()} in {self.describe_environment()}"


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class GrantEvaluation:
    """How one grant fared for one (subject, tool, environment): for the simulator page."""

    grant: Grant
    applies: bool
    note: str


@dataclass(frozen=True)
class Decision:
    """The verdict. ``code`` is machine-readable: allowed | disabled | denied | no_grant."""

    allowed: bool
    reason: str
    matched: Grant | None
    considered: list[GrantEvaluation] = field(default_factory=list)
    code: str = ""


# --------------------------------------------------------------------------- matching


def _principal_applies(grant: Grant, subject: Subject, subject_rank: int | None) -> bool:
    kind = grant.principal_kind
    if kind is PrincipalKind.USER:
        return grant.principal_value == subject.user_id
    if kind is PrincipalKind.TEAM:
        return grant.principal_value in subject.team_ids
    return subject_rank is not None and subject_rank >= RANK[Role(grant.principal_value)]


def _environment_applies(grant: Grant, environment_id: str) -> bool:
    return grant.environment_id is None or grant.environment_id == environment_id


_PRINCIPAL_ORDER = {PrincipalKind.USER: 0, PrincipalKind.TEAM: 1, PrincipalKind.ROLE: 2}
_TARGET_ORDER = {"name": 0, "tag": 1, "category": 2, "all": 3}


def _specificity(grant: Grant, match_kind: str, position: int) -> tuple[int, int, int, int]:
    return (
        _PRINCIPAL_ORDER[grant.principal_kind],
        0 if grant.environment_id is not None else 1,
        _TARGET_ORDER[match_kind],
        position,
    )


def _why_not_principal(grant: Grant, subject: Subject) -> str:
    kind = grant.principal_kind
    if kind is PrincipalKind.USER:
        return f"does not apply: for {grant.describe_principal()}, not {subject.name}"
    if kind is PrincipalKind.TEAM:
        return f"does not apply: {subject.name} is not in {grant.describe_principal()}"
    return f"does not apply: for {grant.describe_principal()}, user has {subject.role or 'no role'}"


def resolve(
    subject: Subject,
    tool: ToolRef,
    environment_id: object,
    *,
    enabled: bool,
    grants: Sequence[Grant],
    environment_name: str | None = None,
) -> Decision:
    """Decide whether ``subject`` may call ``tool`` in ``environment_id``.

    ``considered`` lists every grant in input order with whether it applied and why not,
    so the simulator can show its work; the gateway just reads ``allowed``/``reason``.
    ``environment_name`` only improves the wording of reasons.
    """
    env_id = str(environment_id)
    env_text = environment_name or f"environment {env_id}"
    rank = subject.rank
    considered: list[GrantEvaluation] = []
    best: dict[Effect, tuple[tuple[int, int, int, int], Grant]] = {}
    for position, grant in enumerate(grants):
        if not _principal_applies(grant, subject, rank):
            considered.append(GrantEvaluation(grant, False, _why_not_principal(grant, subject)))
            continue
        if not _environment_applies(grant, env_id):
            note = f"does not apply: only in {grant.describe_environment()}, not {env_text}"
            considered.append(GrantEvaluation(grant, False, note))
            continue
        kind = grant.target.match_kind(tool)
        if kind is None:
            note = (f"does not apply: targets {grant.target.describe()}, "
                    f"not {tool.name} ({category_label(tool.category)})")
            considered.append(GrantEvaluation(grant, False, note))
            continue
        considered.append(GrantEvaluation(grant, True, f"applies: {grant.effect.value}s via {kind}"))
        key = _specificity(grant, kind, position)
        current = best.get(grant.effect)
        if current is None or key < current[0]:
            best[grant.effect] = (key, grant)

    if not enabled:
        return Decision(
            allowed=False,
            reason=f"denied: tool {tool.name} is disabled in {env_text}",
            matched=None,
            considered=considered,
            code="disabled",
        )
    if Effect.DENY in best:
        grant = best[Effect.DENY][1]
        return Decision(
            allowed=False,
            reason=f"denied by {grant.label}: {grant.describe()}",
            matched=grant,
            considered=considered,
            code="denied",
        )
    if Effect.ALLOW in best:
        grant = best[Effect.ALLOW][1]
        return Decision(
            allowed=True,
            reason=f"allowed by {grant.label}: {grant.describe()}",
            matched=grant,
            considered=considered,
            code="allowed",
        )
    return Decision(
        allowed=False,
        reason=f"denied: no grant allows {subject.describe()} to call {tool.name} in {env_text}",
        matched=None,
        considered=considered,
        code="no_grant",
    )


@dataclass
class _TargetIndex:
    """Union of the targets of several grants, answering "does any match?" in O(tags)."""

    all_tools: bool = False
    names: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)

    def add(self, target: Target) -> None:
        self.all_tools = self.all_tools or target.all_tools
        self.names |= target.tool_names
        self.categories |= target.categories
        self.tags |= target.tags

    def matches(self, tool: ToolRef) -> bool:
        # Same predicate as Target.match_kind, over the union of targets.
        return (
            self.all_tools
            or tool.name in self.names
            or tool.category in self.categories
            or not self.tags.isdisjoint(tool.tags)
        )


def visible_tools(
    subject: Subject,
    tools: Iterable[ToolRef],
    environment_id: object,
    *,
    enabled_map: Mapping[str, bool],
    grants: Sequence[Grant],
) -> list[ToolRef]:
    """The tools ``resolve`` would allow, in input order, for ``tools/list``.

    Grants are filtered once by principal and environment (they do not depend on the
    tool), and their targets are merged into one set index per effect, so the cost is
    O(grants + tools × tags) instead of O(tools × grants). A tool missing from
    ``enabled_map`` counts as disabled (fail closed).
    """
    env_id = str(environment_id)
    rank = subject.rank
    allow, deny = _TargetIndex(), _TargetIndex()
    for grant in grants:
        if _principal_applies(grant, subject, rank) and _environment_applies(grant, env_id):
            (allow if grant.effect is Effect.ALLOW else deny).add(grant.target)
    return [
        tool for tool in tools if enabled_map.get(tool.name, False) and allow.matches(tool) and not deny.matches(tool)
    ]


# --------------------------------------------------------------------------- defaults


def default_enabled(category: str, environment_slug: str) -> bool:
    """Whether a newly imported tool starts enabled in an environment.

    Product rule: read-only and side-effect tools are enabled in *development* only;
    everything else (and every tool in staging, production or any other environment)
    starts disabled until an admin enables it. Being conservative here is cheap: an admin
    flips a switch, whereas an accidentally exposed ``deleteCustomer`` is not undoable.
    """
    cat = _category(category)
    in_development = environment_slug.strip().lower() == DEVELOPMENT_SLUG
    return in_development and cat in (ToolCategory.READ_ONLY, ToolCategory.SIDE_EFFECT)


class ApprovalKind(StrEnum):
    NONE = "none"
    SINGLE = "single"
    MULTI = "multi"


@dataclass(frozen=True)
class ApprovalSuggestion:
    """What approval policy the UI pre-fills for a tool; an admin can change it."""

    kind: ApprovalKind
    approvals_required: int
    reason: str


BILLING_TAG = "billing"


def suggested_approval(category: str, tags: Iterable[str] = ()) -> ApprovalSuggestion:
    """Default human-approval requirement by risk.

    critical -> single approval, administrative -> single, billing -> multi-step (2
    approvals), everything else -> none. A critical tool tagged ``billing`` (any case)
    moves money irreversibly and gets the billing treatment: multi-step, 2 approvals.
    """
    cat = _category(category)
    billing_tagged = any(str(t).strip().lower() == BILLING_TAG for t in tags)
    if cat is ToolCategory.BILLING:
        return ApprovalSuggestion(ApprovalKind.MULTI, 2, "billing tools need two approvals")
    if cat is ToolCategory.CRITICAL and billing_tagged:
        return ApprovalSuggestion(ApprovalKind.MULTI, 2, "critical tool tagged billing needs two approvals")
    if cat is ToolCategory.CRITICAL:
        return ApprovalSuggestion(ApprovalKind.SINGLE, 1, "critical tools need one approval")
    if cat is ToolCategory.ADMINISTRATIVE:
        return ApprovalSuggestion(ApprovalKind.SINGLE, 1, "administrative tools need one approval")
    return ApprovalSuggestion(ApprovalKind.NONE, 0, f"{cat.value} tools need no approval")
