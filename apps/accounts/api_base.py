"""The one DRF base for tenant data (NetBox's ``BaseViewSet`` and restricted querysets are the model).

Every org-scoped endpoint under /api/v1/ derives from ``TenantAPIView`` (hand-written handlers)
or from ``TenantScopedMixin`` (generic list/retrieve views whose querysets are scoped to the
caller's organizations). Neither calls the access helpers by hand: a view *declares* what it is
about and what each HTTP method needs, and the base resolves it in ``initial()``::

    class EnvironmentList(TenantAPIView):
        scope = "project"                     # the project named by the URL kwarg ``id``
        capabilities = {"GET": "project.view", "POST": "project.manage"}

Scopes (``SCOPES``): ``"organization"`` (URL kwarg ``org_slug``, through ``org_access``),
``"project"`` (URL kwarg ``id``, through ``project_access_by_id``; registered by apps.projects,
which sits above accounts) and ``"object"`` (the view's ``get_scope_object()`` names an
object with an ``organization_id``; through ``access_for_org_id``). The helpers are the ones
the pages use, so the answers stay the same everywhere: 404 for an outsider or an unknown
object, 403 for a role without the capability (noted for the refusal audit,
apps/audit/refusals.py). Handlers then read ``self.access``, ``self.organization``,
``self.membership``, ``self.role`` and, for a project, ``self.project``; an object-level rule
on top (approvals: "the requester, or may decide") is one function of its app, called from
the view.

Both bases carry ``TenantGuardMixin``: a handler that answers 2xx without the caller's
memberships ever being resolved (``apps.accounts.access.memberships_of``) is refused with a 404
and logged, so a forgotten declaration fails closed instead of leaking another tenant's data.
tests/test_tenancy_coverage.py fails when an endpoint under /api/v1/ is not behind this base or
does not declare its scope and a capability for every handler (a short allow-list names the few
that are not about one tenant: schema, docs, me, organizations list)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import refusals

from . import access as access_helpers
from . import roles
from .access import Access, access_for_org_id, membership_for, memberships_of, org_access

logger = logging.getLogger(__name__)


class TenantGuardMixin:
    """Fail closed when a handler answered without resolving tenancy (see the module docstring)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        access_helpers.tenancy_watch()  # after authentication: only this request's resolution counts

    def finalize_response(self, request, response, *args, **kwargs):
        if (request.method != "OPTIONS" and response.status_code < 400
                and not access_helpers.tenancy_resolved()):
            logger.error("%s answered %s %s without resolving tenancy: refused", type(self).__name__,
                         request.method, request.path)
            response = Response({"detail": "Not found."}, status=404)
        return super().finalize_response(request, response, *args, **kwargs)


def _organization_scope(view, user, capability: str) -> Access:
    return org_access(user, view.kwargs[view.org_kwarg], capability)


def _object_scope(view, user, capability: str) -> Access:
    view.scope_object = view.get_scope_object()
    return access_for_org_id(user, view.scope_object.organization_id, capability)


# scope name -> resolve(view, user, capability) -> Access (404 outsider, 403 role, refusal noted).
# Apps above accounts register theirs (apps/projects/apps.py: "project").
SCOPES: dict[str, Callable[[Any, Any, str], Access]] = {"organization": _organization_scope, "object": _object_scope}


def register_scope(name: str, resolve: Callable[[Any, Any, str], Access]) -> None:
    SCOPES[name] = resolve


class TenantResolveMixin(TenantGuardMixin):
    """Resolves the tenancy a view declares (see the module docstring) before its handler runs.

    ``scope``: a name in ``SCOPES``. ``capabilities``: {"GET": "project.view", "PUT": ...}, one
    per handler (HEAD follows GET). A method without a capability is not resolved here: it has
    no handler (405) or is OPTIONS (metadata, no tenant data); the guard still refuses a 2xx."""

    scope: str | None = None
    capabilities: dict[str, str] = {}
    org_kwarg = "org_slug"
    project_kwarg = "id"

    access: Access | None = None
    organization = None
    membership = None
    project = None
    scope_object = None

    @property
    def role(self) -> str | None:
        return self.access.role if self.access else None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        capability = self.capabilities.get("GET" if request.method == "HEAD" else request.method)
        if capability is not None:
            self.resolve_tenancy(request.user, capability)

    def resolve_tenancy(self, user, capability: str) -> None:
        resolve = SCOPES.get(self.scope or "")
        if resolve is None:
            raise ImproperlyConfigured(f"{type(self).__name__}.scope must be one of {sorted(SCOPES)}, "
                                       f"not {self.scope!r}")
        access = resolve(self, user, capability)
        self.access, self.organization, self.membership = access, access.organization, access.membership

    def get_scope_object(self):
        """For ``scope = "object"``: the object named in the URL (raise Http404 when there is none)."""
        raise ImproperlyConfigured(f"{type(self).__name__} has scope 'object' but no get_scope_object()")


class TenantAPIView(TenantResolveMixin, APIView):
    """Base of every hand-written org-scoped endpoint: declare ``scope`` and ``capabilities``."""


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

    def organization_named(self, org_slug: str) -> Access:
        """For a write naming its organization in the body (not the URL): 404 for a non-member,
        then the role this method needs (``check_role``: 403, refusal noted)."""
        access = org_access(self.request.user, org_slug, "org.view")
        self.check_role(access.organization.pk)
        return access

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
