from django.urls import path

from . import api

urlpatterns = [
    path("projects/<str:id>/tools/", api.ToolList.as_view(), name="api-tools"),
    path("projects/<str:id>/tools/<str:name>/", api.ToolDetail.as_view(), name="api-tool"),
    path("projects/<str:id>/token-bill/", api.TokenBill.as_view(), name="api-token-bill"),
    # the spec's version diff is a diff of tools: served here, under the specs/ path it always had
    path("projects/<str:id>/specs/diff/", api.SpecDiff.as_view(), name="api-spec-diff"),
]
