from django.urls import path

from . import views

app_name = "gateway"

P = "o/<slug:org_slug>/p/<slug:project_slug>/connect/"

urlpatterns = [
    path(P, views.connect, name="connect"),
    path(P + "<slug:env_slug>/", views.connect, name="connect_env"),
]
