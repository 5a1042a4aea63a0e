from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("o/<slug:org_slug>/p/<slug:project_slug>/tools/", views.tool_list, name="list"),
    path("o/<slug:org_slug>/p/<slug:project_slug>/tools/<str:tool_name>/", views.tool_detail, name="detail"),
    # the spec's version diff is a diff of tools: served here, under the specs/ path it always had
    path("o/<slug:org_slug>/p/<slug:project_slug>/specs/diff/", views.spec_diff, name="spec_diff"),
]
