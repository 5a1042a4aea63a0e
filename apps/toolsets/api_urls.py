"""REST endpoints of toolsets, included under /api/v1/."""

from django.urls import path

from . import api

P = "projects/<str:id>/"

urlpatterns = [
    path(P + "toolsets/", api.ToolsetList.as_view(), name="api-toolsets"),
    path(P + "toolsets/<slug:toolset>/", api.ToolsetDetail.as_view(), name="api-toolset"),
    path(P + "environments/<slug:env>/listing/", api.EnvironmentListing.as_view(), name="api-environment-listing"),
]
