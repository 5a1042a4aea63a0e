"""The one way to reach a tenant's objects: membership first (404 if none), then role (403).

Views, API endpoints and the MCP gateway all go through these helpers, so "an outsider
sees nothing, a member without the role is refused" holds everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

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
            raise PermissionDenied(f"Your role ({self.role}) does not allow this.")
        return self


def membership_for(user, organization_id: int) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(organization_id=organization_id, user=user).select_related("user").first()


def org_access(user, org_slug: str, capability: str = "org.view") -> Access:
    """Access to the organization named in the URL: 404 for non-members, 403 for a weak role."""
    membership = (
        Membership.objects.select_related("organization", "user").filter(organization__slug=org_slug, user=user).first()
        if getattr(user, "is_authenticated", False)
        else None
    )
    if membership is None:
        raise Http404("No such organization.")
    return Access(membership.organization, membership).require(capability)


def access_for_org_id(user, organization_id: int, capability: str) -> Access:
    membership = membership_for(user, organization_id)
    if membership is None:
        raise Http404("Not found.")
    return Access(membership.organization, membership).require(capability)


def user_organizations(user):
    if not getattr(user, "is_authenticated", False):
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).order_by("name")
