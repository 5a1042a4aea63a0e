from django.urls import path

from . import views

app_name = "credentials"

P = "o/<slug:org_slug>/p/<slug:project_slug>/governance/credentials/"

urlpatterns = [
    path(P, views.index, name="index"),
    path(P + "<slug:env_slug>/", views.environment, name="environment"),
    path(P + "<slug:env_slug>/schemes/<str:scheme_name>/", views.credential_set, name="set"),
]
