"""The one DRF base for tenant data (NetBox's ``BaseViewSet`` is the model).

Every org-scoped endpoint under /api/v1/ derives from ``TenantAPIView`` (hand-written
handlers) or from ``TenantScopedMixin`` (generic list/retrieve views whose querysets are scoped
to the caller's organizations, each HTTP method naming the capability it needs). Both carry
``TenantGuardMixin``: a handler that answers 2xx without ever resolving the caller's
memberships (``apps.accounts.access``: org_access, project_access_by_id, membership_for,
memberships_of) is refused with a 404 and logged, so a forgotten access check fails closed
instead of leaking another tenant's data. tests/test_tenancy_coverage.py fails when an
endpoint under /api/v1/ is not behind this base (an explicit allow-list names the few that are
not about one tenant: schema, docs, me, organizations list, OAuth discovery)."""

from __future__ import annotations

import logging

from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import refusals

from . import access as access_helpers
from . import roles
from .access import membership_for, memberships_of

logger = logging.getLogger(__name__)


class TenantGuardMixin:
    """Fail closed when a handler answered without resolving tenancy (see the module docstring)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        access_helpers.tenancy_watch()  # after authentication: only the handler's own checks count

    def finalize_response(self, request, response, *args, **kwargs):
        if (request.method != "OPTIONS" and response.status_code < 400
                and not access_helpers.tenancy_resolved()):
            logger.error("%s answered %s %s without resolving tenancy: refused", type(self).__name__,
                         request.method, request.path)
            response = Response({"detail": "Not found."}, status=404)
        return super().finalize_response(request, response, *args, **kwargs)


class TenantAPIView(TenantGuardMixin, APIView):
    """Base of every hand-written org-scoped endpoint: its handlers resolve access with the
    helpers of apps.accounts.access (or apps.projects.selectors.project_access_by_id)."""


class TenantScopedMixin(TenantGuardMixin):
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
