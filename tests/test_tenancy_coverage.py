"""Issue 23 item 3: every endpoint under /api/v1/ is behind the one tenancy base
(apps/accounts/api_base.py), and that base fails closed when a handler forgets the access check."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, path
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView, TenantGuardMixin

# The only endpoints that are not about one tenant's data (each reviewed by hand):
NOT_TENANT = {
    "api/v1/schema/": "the OpenAPI document",
    "api/v1/docs/": "Swagger UI over the schema",
    "api/v1/me/": "the caller's own account",
    "api/v1/organizations/": "the caller's memberships, scoped by memberships_of",
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def api_endpoints():
    return [(route, getattr(cb, "cls", None) or getattr(cb, "view_class", None) or cb)
            for route, cb in _walk(get_resolver().url_patterns) if route.startswith("api/v1/")]


def test_the_walk_sees_the_api():
    routes = {route for route, _ in api_endpoints()}
    assert len(routes) > 40
    assert "api/v1/projects/<str:id>/grants/" in routes
    assert "api/v1/organizations/<slug:org_slug>/approvals/" in routes


def test_every_api_endpoint_is_behind_the_tenant_base():
    outside = [f"{route} -> {view.__module__}.{getattr(view, '__name__', view)}"
               for route, view in api_endpoints()
               if route not in NOT_TENANT and not (isinstance(view, type) and issubclass(view, TenantGuardMixin))]
    assert outside == [], "endpoints not behind apps.accounts.api_base (use TenantAPIView):\n" + "\n".join(outside)


def test_the_allow_list_names_only_existing_routes():
    routes = {route for route, _ in api_endpoints()}
    assert set(NOT_TENANT) <= routes


class Forgetful(TenantAPIView):
    """A handler that forgot its access check."""

    def get(self, request):
        return Response({"secret": "another tenant's rows"})


urlpatterns = [path("forgetful/", Forgetful.as_view())]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_handler_that_skips_the_access_check_answers_404(people, api_for, caplog):
    response = api_for(people.owner).get("/forgetful/")
    assert response.status_code == 404 and "secret" not in response.content.decode()
    assert "without resolving tenancy" in caplog.text
