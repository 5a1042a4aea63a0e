"""OAuth routes at the site root: RFC 8414 and RFC 9728 documents under /.well-known/, the
authorization server under /oauth/. Only what MCPForge allows is mounted (no implicit,
password, device or introspection endpoints; no DOT application-management pages)."""

from django.urls import include, path, re_path
from oauth2_provider import views as dot

from . import views

oauth_patterns = ([
    path("authorize/", views.ConsentView.as_view(), name="authorize"),
    path("token/", dot.TokenView.as_view(), name="token"),
    path("revoke/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("register/", views.RegistrationView.as_view(), name="dcr-register"),
    # RFC 7592: the client reads/updates/deletes its own registration with its registration token
    path("register/<str:client_id>/", dot.DynamicClientRegistrationManagementView.as_view(),
         name="dcr-register-management"),
], "oauth2_provider")

urlpatterns = [
    path(".well-known/oauth-authorization-server", dot.OAuthServerMetadataView.as_view(),
         name="oauth-server-metadata"),
    re_path(r"^\.well-known/oauth-protected-resource/(?P<resource_path>mcp/.+)$",
            views.ProtectedResourceMetadataView.as_view(), name="oauth-resource-metadata"),
    path("oauth/", include(oauth_patterns)),
    path("o/<slug:org_slug>/oauth-clients/", views.clients, name="oauth_clients"),
    path("o/<slug:org_slug>/oauth-clients/<int:application_id>/<int:user_id>/revoke/", views.client_revoke,
         name="oauth_client_revoke"),
]
