from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("o/<slug:org_slug>/audit/", views.audit_log, name="log"),
    path("o/<slug:org_slug>/audit/export.<str:fmt>", views.audit_export, name="export"),
]
