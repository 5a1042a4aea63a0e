from django.urls import path

from . import views

app_name = "reports"

P = "o/<slug:org_slug>/p/<slug:project_slug>/reports/"

urlpatterns = [
    path(P, views.report_list, name="list"),
    path(P + "generate/", views.report_generate, name="generate"),
    path(P + "<uuid:report_id>/row/", views.report_row, name="row"),
    path(P + "<uuid:report_id>/retry/", views.report_retry, name="retry"),
    path(P + "<uuid:report_id>/pdf/", views.report_download, name="pdf"),
    path(P + "<uuid:report_id>/", views.report_view, name="view"),
]
