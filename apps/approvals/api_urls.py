"""REST endpoints of this app, included under /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("organizations/<slug:org_slug>/approvals/", api.ApprovalRequestList.as_view(), name="api-approvals"),
    path("organizations/<slug:org_slug>/approval-notifications/", api.WebhookSettingsDetail.as_view(),
         name="api-approval-notifications"),
    path("organizations/<slug:org_slug>/approval-notifications/test/", api.WebhookTest.as_view(),
         name="api-approval-notifications-test"),
    path("approvals/<uuid:request_id>/", api.ApprovalRequestDetail.as_view(), name="api-approval"),
    path("approvals/<uuid:request_id>/decision/", api.ApprovalDecisionCreate.as_view(), name="api-approval-decide"),
]
