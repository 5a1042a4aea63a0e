"""REST endpoints of this app, included under /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("projects/<str:id>/findings/", api.ProjectFindings.as_view(), name="api-findings"),
    path("projects/<str:id>/score/", api.ProjectScore.as_view(), name="api-score"),
    path("projects/<str:id>/tools/<str:name>/override/", api.ToolOverride.as_view(), name="api-tool-override"),
    path("projects/<str:id>/overrides/export/", api.OverridesExport.as_view(), name="api-overrides-export"),
]
