"""Who may fill which approval step. Pure: no Django import.

A policy's requirement is snapshotted onto each request as ``approvals_required``, a list of
``steps`` (``{"kind": "team"|"role", "value": ...}``) and an ``order`` (``sequential`` or
``any``). The request needs ``max(approvals_required, len(steps))`` approvals; positions
beyond the listed steps are "any reviewer" steps, so "two approvals, one of them from
Finance" is ``approvals_required=2, steps=[team finance]``.

* ``sequential``: the k-th approval must satisfy step k. Finance cannot sign step 2 before
  step 1 is done, which is what "first the team lead, then Finance" means.
* ``any``: approvals may arrive in any order; an approval counts when the approvers so far
  can be assigned to distinct steps they each satisfy (bipartite matching, so an early
  approver who happens to qualify for two steps never blocks a later one).

Every approver is judged on a snapshot of their role and teams taken when they decided
(``Approver``), so a later team change neither revokes nor invents a past approval.
Role steps mean "at least this role", the same semantics as role grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from apps.accounts.roles import RANK, Role

__all__ = [
    "Approver",
    "Order",
    "Plan",
    "Step",
    "StepKind",
    "assign",
    "normalise_steps",
    "plan",
]


class StepKind(StrEnum):
    TEAM = "team"
    ROLE = "role"
    ANY = "any"


class Order(StrEnum):
    SEQUENTIAL = "sequential"
    ANY = "any"


@dataclass(frozen=True)
class Step:
    """One required approval: from a team, from a role (or higher), or from any reviewer."""

    kind: StepKind
    value: str = ""
    label: str = ""

    def describe(self) -> str:
        if self.kind == StepKind.TEAM:
            return f"team {self.label or self.value}"
        if self.kind == StepKind.ROLE:
            article = "an" if self.value[:1].lower() in "aeiou" else "a"
            return f"{article} {self.value} or higher"
        return "any reviewer"

    def as_dict(self) -> dict:
        return {"kind": str(self.kind), "value": self.value, "label": self.label}


@dataclass(frozen=True)
class Approver:
    """An approver as they stood when deciding: user id, organization role and team keys
    (each team's id, slug and name, so a step may name a team either way)."""

    user_id: str
    role: str
    teams: frozenset[str] = frozenset()
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id", str(self.user_id))
        object.__setattr__(self, "teams", frozenset(str(t).lower() for t in self.teams))


def _rank(role: str) -> int | None:
    try:
        return RANK[Role(role)]
    except ValueError:
        return None


def satisfies(step: Step, approver: Approver) -> bool:
    if step.kind == StepKind.TEAM:
        return step.value.lower() in approver.teams
    if step.kind == StepKind.ROLE:
        have, need = _rank(approver.role), _rank(step.value)
        return have is not None and need is not None and have >= need
    return True


def normalise_steps(raw_steps: Sequence[dict] | None, approvals_required: int) -> list[Step]:
    """The full list of steps a request needs: the listed ones, padded with "any reviewer"
    steps up to ``approvals_required``. Raises ValueError on a malformed step."""
    steps: list[Step] = []
    for i, raw in enumerate(raw_steps or [], start=1):
        if not isinstance(raw, dict):
            raise ValueError(f"approval step {i} must be an object with kind and value")
        try:
            kind = StepKind(str(raw.get("kind", "")).lower())
        except ValueError:
            raise ValueError(f"approval step {i} has an unknown kind {raw.get('kind')!r} (team, role or any)") from None
        value = str(raw.get("value", "") or "").strip()
        if kind != StepKind.ANY and not value:
            raise ValueError(f"approval step {i} ({kind}) needs a value")
        if kind == StepKind.ROLE and _rank(value) is None:
            raise ValueError(f"approval step {i} names an unknown role {value!r}")
        steps.append(Step(kind=kind, value=value, label=str(raw.get("label", "") or "")))
    if approvals_required < 1 and not steps:
        raise ValueError("an approval requirement needs at least one approval")
    while len(steps) < approvals_required:
        steps.append(Step(kind=StepKind.ANY))
    return steps


def _match(steps: Sequence[Step], approvers: Sequence[Approver]) -> dict[int, int] | None:
    """Assign every approver to a distinct step they satisfy (Kuhn's augmenting paths);
    None when impossible. Returns approver index -> step index."""
    step_owner: dict[int, int] = {}

    def try_assign(a: int, seen: set[int]) -> bool:
        for s, step in enumerate(steps):
            if s in seen or not satisfies(step, approvers[a]):
                continue
            seen.add(s)
            if s not in step_owner or try_assign(step_owner[s], seen):
                step_owner[s] = a
                return True
        return False

    for a in range(len(approvers)):
        if not try_assign(a, set()):
            return None
    return {a: s for s, a in step_owner.items()}


def assign(steps: Sequence[Step], order: str, approvers: Sequence[Approver]) -> dict[int, int] | None:
    """approver index -> step index for approvals given in this order, or None if they do
    not form a valid prefix of the requirement."""
    if len(approvers) > len(steps):
        return None
    if Order(order) == Order.SEQUENTIAL:
        if all(satisfies(steps[i], a) for i, a in enumerate(approvers)):
            return {i: i for i in range(len(approvers))}
        return None
    return _match(steps, approvers)


@dataclass(frozen=True)
class Plan:
    """Where a request stands: which approver fills which step, and what is still open."""

    steps: tuple[Step, ...]
    order: Order
    filled: dict[int, int] = field(default_factory=dict)  # step index -> approver index

    @property
    def complete(self) -> bool:
        return len(self.filled) == len(self.steps)

    @property
    def open_steps(self) -> list[int]:
        return [i for i in range(len(self.steps)) if i not in self.filled]

    @property
    def next_steps(self) -> list[int]:
        """Steps an approval may fill now: the first open one when sequential, all open ones otherwise."""
        open_steps = self.open_steps
        if self.order == Order.SEQUENTIAL:
            return open_steps[:1]
        return open_steps

    def waiting_for(self) -> str:
        nxt = self.next_steps
        if not nxt:
            return ""
        names = sorted({self.steps[i].describe() for i in nxt})
        return " or ".join(names)


def plan(steps: Sequence[Step], order: str, approvers: Sequence[Approver]) -> Plan:
    """The progress of a request whose approvals so far are ``approvers`` (in decision order).
    Approvals that do not fit (which the service never writes) simply fill nothing."""
    mapping = assign(steps, order, approvers)
    if mapping is None:
        # Keep the longest prefix that fits so a corrupted history still renders.
        mapping = {}
        for n in range(len(approvers), -1, -1):
            candidate = assign(steps, order, approvers[:n])
            if candidate is not None:
                mapping = candidate
                break
    return Plan(steps=tuple(steps), order=Order(order), filled={s: a for a, s in mapping.items()})


def check_candidate(steps: Sequence[Step], order: str, approvers: Sequence[Approver],
                    candidate: Approver) -> tuple[int | None, str]:
    """Whether ``candidate`` may approve next: (step index they fill, "") or (None, reason)."""
    if any(a.user_id == candidate.user_id for a in approvers):
        return None, "You have already approved this request; an approver counts once."
    current = plan(steps, order, approvers)
    if current.complete:
        return None, "This request already has every approval it needs."
    mapping = assign(steps, order, [*approvers, candidate])
    if mapping is None:
        total = len(steps)
        nxt = current.next_steps
        where = f"Step {nxt[0] + 1} of {total}" if len(nxt) == 1 else "The remaining steps"
        return None, f"{where} waits for {current.waiting_for()}; you do not qualify."
    return mapping[len(approvers)], ""
