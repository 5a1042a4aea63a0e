"""REST endpoints of this app, included under /api/v1/."""

from django.urls import path

from . import api

P = "projects/<str:id>/reports/"

urlpatterns = [
    path(P, api.ReportListCreate.as_view(), name="api-reports"),
    path(P + "<str:rid>/", api.ReportDetail.as_view(), name="api-report"),
    path(P + "<str:rid>/retry/", api.ReportRetry.as_view(), name="api-report-retry"),
    path(P + "<str:rid>/pdf", api.ReportPdf.as_view(), name="api-report-pdf"),
    path(P + "<str:rid>/json", api.ReportJson.as_view(), name="api-report-json"),
]
