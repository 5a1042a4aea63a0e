from django.urls import path

from . import api

urlpatterns = [
    path("projects/<str:id>/specs/", api.SpecVersionList.as_view(), name="api-specs"),
    path("projects/<str:id>/specs/<int:number>/", api.SpecVersionDetail.as_view(), name="api-spec"),
    path("projects/<str:id>/specs/<int:number>/retry/", api.SpecVersionRetry.as_view(), name="api-spec-retry"),
]
