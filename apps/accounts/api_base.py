"""The one DRF base for tenant data: querysets are scoped to the caller's organizations,
and each HTTP method names the capability it needs (403 when the role lacks it)."""

from __future__ import annotations

from rest_framework import generics
from rest_framework.exceptions import PermissionDenied

from apps.audit import refusals

from . import roles
from .access import membership_for, memberships_of


class TenantScopedMixin:
    """Subclasses set ``queryset``, ``org_lookup`` (path to the organization) and
    ``capabilities`` ({"GET": "project.view", "POST": "project.manage", ...}).
    Objects of organizations the caller is not in are simply not in the queryset: 404."""

    org_lookup = "organization"
    capabilities: dict[str, str] = {}

    def get_queryset(self):
        qs = super().get_queryset()
        org_ids = memberships_of(self.request.user).values("organization_id")
        return qs.filter(**{f"{self.org_lookup}__in": org_ids})

    def capability_for_request(self) -> str:
        return self.capabilities.get(self.request.method, self.capabilities.get("GET", "org.view"))

    def check_role(self, organization_id: int) -> str:
        membership = membership_for(self.request.user, organization_id)
        role = membership.role if membership else None
        capability = self.capability_for_request()
        if not roles.has_capability(role, capability):
            message = f"Your role ({role}) does not allow this."
            refusals.note_refusal(membership, capability=capability, reason=message)
            raise PermissionDenied(message)
        return role

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        org_id = obj
        for part in self.org_lookup.split("__"):
            org_id = getattr(org_id, part)
        self.check_role(org_id.pk if hasattr(org_id, "pk") else org_id)


class TenantListAPIView(TenantScopedMixin, generics.ListAPIView):
    pass


class TenantRetrieveAPIView(TenantScopedMixin, generics.RetrieveAPIView):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
