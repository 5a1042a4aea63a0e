from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("o/<slug:org_slug>/p/<slug:project_slug>/tools/", views.tool_list, name="list"),
    path("o/<slug:org_slug>/p/<slug:project_slug>/tools/<str:tool_name>/", views.tool_detail, name="detail"),
]
