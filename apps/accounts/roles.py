"""Organization roles and what each may do. Pure: no Django import.

Roles are ordered; a capability names the lowest role that has it, so one table answers
"may a reviewer upload a spec?" for every view, API endpoint and template.
"""

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    REVIEWER = "reviewer"
    MEMBER = "member"
    VIEWER = "viewer"


RANK = {Role.VIEWER: 10, Role.MEMBER: 20, Role.REVIEWER: 30, Role.ADMIN: 40, Role.OWNER: 50}

# capability -> lowest role that holds it
CAPABILITIES: dict[str, Role] = {
    "org.view": Role.VIEWER,
    "project.view": Role.VIEWER,
    "report.download": Role.VIEWER,
    "audit.view": Role.REVIEWER,
    "token.manage_own": Role.MEMBER,
    "spec.import": Role.MEMBER,
    "report.generate": Role.MEMBER,
    "approval.decide": Role.REVIEWER,
    "project.manage": Role.ADMIN,
    "governance.manage": Role.ADMIN,
    "approval.configure": Role.ADMIN,
    "credentials.manage": Role.ADMIN,
    "tool.rename": Role.ADMIN,
    "risk.override": Role.ADMIN,
    "risk.export_overrides": Role.REVIEWER,  # overrides as labelled data for the classifier benchmark
    "member.manage": Role.ADMIN,
    "team.manage": Role.ADMIN,
    "audit.export": Role.ADMIN,
    "org.manage": Role.OWNER,
}


def has_capability(role: str | None, capability: str) -> bool:
    if role is None:
        return False
    needed = CAPABILITIES[capability]
    return RANK[Role(role)] >= RANK[needed]


def at_least(role: str | None, minimum: str) -> bool:
    if role is None:
        return False
    return RANK[Role(role)] >= RANK[Role(minimum)]


def assignable_roles(actor_role: str) -> list[Role]:
    """An admin may hand out roles up to admin; only an owner creates owners."""
    if actor_role == Role.OWNER:
        return list(Role)
    return [r for r in Role if RANK[r] <= RANK[Role.ADMIN]] if at_least(actor_role, Role.ADMIN) else []
