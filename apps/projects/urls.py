from django.urls import path

from . import views

app_name = "projects"

urlpatterns = [
    path("o/<slug:org_slug>/projects/new/", views.project_create, name="create"),
    path("o/<slug:org_slug>/p/<slug:project_slug>/", views.project_detail, name="detail"),
    path("o/<slug:org_slug>/p/<slug:project_slug>/settings/", views.project_settings, name="settings"),
    path("o/<slug:org_slug>/p/<slug:project_slug>/settings/environments/<slug:env_slug>/", views.environment_settings,
         name="environment"),
]
