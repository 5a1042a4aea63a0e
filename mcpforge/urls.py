"""Top-level routes. Apps own their URL modules."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("mcpforge.api_urls")),
    path("", include("apps.accounts.urls")),
    path("", include("apps.projects.urls")),
    path("", include("apps.audit.urls")),
    path("", include("apps.specs.urls")),
    path("", include("apps.inventory.urls")),
    path("", include("apps.risk.urls")),
    path("", include("apps.governance.urls")),
    path("", include("apps.toolsets.urls")),
    path("", include("apps.credentials.urls")),
    path("", include("apps.approvals.urls")),
    path("", include("apps.gateway.urls")),
    path("", include("apps.reports.urls")),
    path("", include("apps.oauth.urls")),
]
