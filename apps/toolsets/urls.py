from django.urls import path

from . import views

app_name = "toolsets"

P = "o/<slug:org_slug>/p/<slug:project_slug>/toolsets/"

urlpatterns = [
    path(P, views.index, name="index"),
    path(P + "environments/<slug:env_slug>/listing/", views.listing, name="listing"),
    path(P + "<slug:toolset_slug>/", views.detail, name="detail"),
    path(P + "<slug:toolset_slug>/delete/", views.delete, name="delete"),
]
