"""REST API v1. Each app owns its endpoints; this file only lists them."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts import api as accounts_api
from apps.audit import api as audit_api
from apps.projects import api as projects_api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("me/", accounts_api.Me.as_view(), name="api-me"),
    path("organizations/", accounts_api.OrganizationList.as_view(), name="api-organizations"),
    path("organizations/<slug:org_slug>/sign-in-domains/", accounts_api.SignInDomains.as_view(),
         name="api-signin-domains"),
    path("organizations/<slug:org_slug>/members/", accounts_api.MemberList.as_view(), name="api-members"),
    path("organizations/<slug:org_slug>/members/<uuid:member_id>/", accounts_api.MemberDetail.as_view(),
         name="api-member"),
    path("organizations/<slug:org_slug>/invitations/<uuid:invitation_id>/", accounts_api.InvitationDetail.as_view(),
         name="api-invitation"),
    path("organizations/<slug:org_slug>/teams/", accounts_api.TeamList.as_view(), name="api-teams"),
    path("organizations/<slug:org_slug>/teams/<slug:team_slug>/", accounts_api.TeamDetail.as_view(), name="api-team"),
    path("organizations/<slug:org_slug>/teams/<slug:team_slug>/members/<uuid:member_id>/",
         accounts_api.TeamMember.as_view(), name="api-team-member"),
    path("organizations/<slug:org_slug>/audit-events/", audit_api.AuditEventList.as_view(), name="api-audit-events"),
    path("projects/", projects_api.ProjectListCreate.as_view(), name="api-projects"),
    path("projects/<str:id>/", projects_api.ProjectDetail.as_view(), name="api-project"),
    path("projects/<str:id>/environments/", projects_api.EnvironmentList.as_view(), name="api-environments"),
    path("projects/<str:id>/environments/<slug:env>/upstream/", projects_api.EnvironmentUpstream.as_view(),
         name="api-environment-upstream"),
    # per-app endpoints (each app's api_urls.py)
    path("", include("apps.specs.api_urls")),
    path("", include("apps.inventory.api_urls")),
    path("", include("apps.risk.api_urls")),
    path("", include("apps.governance.api_urls")),
    path("", include("apps.credentials.api_urls")),
    path("", include("apps.approvals.api_urls")),
    path("", include("apps.gateway.api_urls")),
    path("", include("apps.reports.api_urls")),
    path("", include("apps.toolsets.api_urls")),
]
