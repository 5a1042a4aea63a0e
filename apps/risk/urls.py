from django.urls import path

from . import views

app_name = "risk"

urlpatterns = [
    path("o/<slug:org_slug>/p/<slug:project_slug>/findings/", views.findings, name="findings"),
    path("o/<slug:org_slug>/p/<slug:project_slug>/score/", views.score_formula, name="score"),
    path(
        "o/<slug:org_slug>/p/<slug:project_slug>/overrides/export.<str:fmt>",
        views.overrides_export,
        name="overrides_export",
    ),
    path(
        "o/<slug:org_slug>/p/<slug:project_slug>/tools/<str:tool_name>/override/",
        views.override_set,
        name="override_set",
    ),
    path(
        "o/<slug:org_slug>/p/<slug:project_slug>/tools/<str:tool_name>/override/remove/",
        views.override_remove,
        name="override_remove",
    ),
]
