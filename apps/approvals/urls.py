from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("o/<slug:org_slug>/approvals/", views.queue, name="queue"),
    path("o/<slug:org_slug>/approvals/badge/", views.badge, name="badge"),
    path("o/<slug:org_slug>/approvals/settings/", views.settings_page, name="settings"),
    path("o/<slug:org_slug>/approvals/<uuid:request_id>/", views.detail, name="detail"),
    path("o/<slug:org_slug>/approvals/<uuid:request_id>/decide/", views.decide, name="decide"),
]
