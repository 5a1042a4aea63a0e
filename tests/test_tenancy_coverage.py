"""Issue 23 item 3: every endpoint under /api/v1/ is behind the one tenancy base
(apps/accounts/api_base.py), declares what it is scoped by and the capability of every handler
(the base resolves it; no API module calls the access helpers by hand), and that base fails
closed when a handler forgets the access check."""

from __future__ import annotations

import ast
import pathlib

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, path
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from apps.accounts.api_base import SCOPES, TenantAPIView, TenantGuardMixin, TenantResolveMixin, TenantScopedMixin

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


HANDLERS = ("get", "post", "put", "patch", "delete")

# Views behind the base that may resolve tenancy themselves instead of declaring it. Keep this
# short; each entry says why. (Empty: every org-scoped endpoint declares its scope.)
UNDECLARED: dict[str, str] = {}


def undeclared(view) -> list[str]:
    """What ``view`` fails to declare: a scope the base knows, a capability per handler."""
    problems = []
    handlers = [m.upper() for m in HANDLERS if hasattr(view, m)]
    if isinstance(view, type) and issubclass(view, TenantResolveMixin):
        if view.scope not in SCOPES:
            problems.append(f"scope {view.scope!r} is not one of {sorted(SCOPES)}")
        if view.scope == "object" and view.get_scope_object is TenantResolveMixin.get_scope_object:
            problems.append('scope "object" without get_scope_object()')
    elif not (isinstance(view, type) and issubclass(view, TenantScopedMixin)):
        return ["neither TenantAPIView/TenantResolveMixin (declared scope) nor TenantScopedMixin (scoped queryset)"]
    problems += [f"no capability for {m}" for m in handlers if m not in getattr(view, "capabilities", {})]
    return problems


def test_every_tenant_endpoint_declares_its_scope_and_capabilities():
    missing = [f"{route} -> {view.__module__}.{view.__name__}: {'; '.join(problems)}"
               for route, view in api_endpoints()
               if route not in NOT_TENANT and isinstance(view, type) and view.__name__ not in UNDECLARED
               and (problems := undeclared(view))]
    assert missing == [], ("declare `scope` and `capabilities` (apps/accounts/api_base.py) instead of "
                           "resolving tenancy by hand:\n" + "\n".join(missing))


def test_the_declaration_check_sees_a_missing_capability():
    class Half(TenantAPIView):
        scope = "project"
        capabilities = {"GET": "project.view"}

        def get(self, request, id): ...

        def delete(self, request, id): ...

    class NoScope(TenantResolveMixin, ListAPIView):
        capabilities = {"GET": "org.view"}

    assert undeclared(Half) == ["no capability for DELETE"]
    assert undeclared(NoScope) == ["scope None is not one of ['object', 'organization', 'project']"]


# The access helpers the base calls for a view; an API module calling one itself does tenancy by hand.
BY_HAND = {"org_access", "project_access_by_id", "access_for_org_id", "membership_for"}
APPS = pathlib.Path(__file__).resolve().parent.parent / "apps"


def test_no_api_module_resolves_tenancy_by_hand():
    calls = []
    for module in sorted(APPS.glob("*/api*.py")):
        if module.name == "api_base.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in BY_HAND:
                    calls.append(f"{module.relative_to(APPS.parent)}:{node.lineno} {name}()")
    assert calls == [], "declare the scope on the view instead:\n" + "\n".join(calls)


class Forgetful(TenantAPIView):
    """A handler that forgot its access check."""

    def get(self, request):
        return Response({"secret": "another tenant's rows"})


class Declared(TenantAPIView):
    """Declares its scope: the handlers only read what the base resolved."""

    scope = "organization"
    capabilities = {"GET": "org.view", "POST": "member.manage"}

    def get(self, request, org_slug):
        return Response({"org": self.organization.slug, "role": self.role, "member": self.membership.pk})

    def post(self, request, org_slug):
        return Response({"done": True})


urlpatterns = [path("forgetful/", Forgetful.as_view()), path("declared/<slug:org_slug>/", Declared.as_view())]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_handler_that_skips_the_access_check_answers_404(people, api_for, caplog):
    response = api_for(people.owner).get("/forgetful/")
    assert response.status_code == 404 and "secret" not in response.content.decode()
    assert "without resolving tenancy" in caplog.text


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_declared_scope_is_resolved_by_the_base(people, api_for):
    from apps.audit.models import AuditEvent

    slug = people.org.slug
    read = api_for(people.viewer).get(f"/declared/{slug}/")
    assert read.status_code == 200 and read.json()["org"] == slug and read.json()["role"] == "viewer"
    assert api_for(people.outsider).get(f"/declared/{slug}/").status_code == 404
    refused = api_for(people.viewer).post(f"/declared/{slug}/")
    assert refused.status_code == 403 and "done" not in refused.content.decode()
    row = AuditEvent.objects.filter(organization=people.org, event_type="access.refused").latest("seq")
    assert row.payload["capability"] == "member.manage" and row.payload["role"] == "viewer"
    assert api_for(people.admin).post(f"/declared/{slug}/").json() == {"done": True}
