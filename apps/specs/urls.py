from django.urls import path

from . import views

app_name = "specs"

P = "o/<slug:org_slug>/p/<slug:project_slug>/specs/"

urlpatterns = [
    path(P + "import/", views.spec_import, name="import"),
    path(P, views.version_list, name="versions"),
    path(P + "<int:number>/", views.version_detail, name="version"),
    path(P + "<int:number>/progress/", views.version_progress, name="progress"),
    path(P + "<int:number>/retry/", views.version_retry, name="retry"),
]
