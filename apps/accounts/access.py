"""The one way to reach a tenant's objects: membership first (404 if none), then role (403).

Views, API endpoints and the MCP gateway all go through these helpers, so "an outsider
sees nothing, a member without the role is refused" holds everywhere.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.audit import refusals

from . import roles
from .models import Membership, Organization


@dataclass(frozen=True)
class Access:
    """The caller's standing in one organization."""

    organization: Organization
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def user(self):
        return self.membership.user

    def can(self, capability: str) -> bool:
        return roles.has_capability(self.role, capability)

    def require(self, capability: str) -> Access:
        if not self.can(capability):
            message = f"Your role ({self.role}) does not allow this."
            refusals.note_refusal(self.membership, capability=capability, reason=message)
            raise PermissionDenied(message)
        return self


# A personal token belongs to the organization it was created in. The REST authentication
# binds the request's user to that organization (``bind_token``); every helper below then
# treats the user as a member of that organization only, so a token of org B is an outsider
# (404) in org A even when its user is also a member of A. Browser sessions are not bound.
_TOKEN_ORG_ATTR = "_mcpforge_token_organization_id"  # noqa: S105 - an attribute name


def bind_token(user, organization_id: int) -> None:
    """Scope ``user`` (this request's instance) to the token's organization."""
    setattr(user, _TOKEN_ORG_ATTR, organization_id)


def token_organization_id(user) -> int | None:
    """The organization the caller's token is bound to, or None for a browser session."""
    return getattr(user, _TOKEN_ORG_ATTR, None)


# Set by the DRF tenant base (apps/accounts/api_base.py) for one request; memberships_of marks
# it, so the base can refuse a successful answer that never went through tenancy.
_tenancy_seen: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar("mcpforge_tenancy_seen",
                                                                                  default=None)


def tenancy_watch() -> None:
    """Start watching this request: ``tenancy_resolved()`` is False until memberships_of runs."""
    _tenancy_seen.set([False])


def tenancy_resolved() -> bool:
    seen = _tenancy_seen.get()
    return bool(seen and seen[0])


def memberships_of(user):
    """The memberships this caller may act through: all of them for a session, only the
    token's organization for a token. The one place tenancy is scoped."""
    seen = _tenancy_seen.get()
    if seen is not None:
        seen[0] = True
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    qs = Membership.objects.filter(user=user)
    bound = token_organization_id(user)
    if bound is not None:
        qs = qs.filter(organization_id=bound)
    return qs


def membership_for(user, organization_id: int) -> Membership | None:
    membership = (memberships_of(user).filter(organization_id=organization_id)
                  .select_related("user", "organization").first())
    refusals.note_membership(membership)  # a 403 on a write is audited in this organization
    return membership


def org_access(user, org_slug: str, capability: str = "org.view") -> Access:
    """Access to the organization named in the URL: 404 for non-members, 403 for a weak role."""
    membership = memberships_of(user).select_related("organization", "user").filter(organization__slug=org_slug).first()
    if membership is None:
        raise Http404("No such organization.")
    refusals.note_membership(membership)  # a 403 on a write is audited in this organization
    return Access(membership.organization, membership).require(capability)


def access_for_org_id(user, organization_id: int, capability: str) -> Access:
    membership = membership_for(user, organization_id)
    if membership is None:
        raise Http404("Not found.")
    return Access(membership.organization, membership).require(capability)


def user_organizations(user):
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(pk__in=memberships_of(user).values("organization_id")).order_by("name")
