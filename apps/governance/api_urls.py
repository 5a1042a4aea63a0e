"""REST endpoints of governance, included under /api/v1/."""

from django.urls import path

from . import api

P = "projects/<str:id>/"

urlpatterns = [
    path(P + "environments/<slug:env>/tools/", api.ToolStates.as_view(), name="api-tool-states"),
    path(P + "environments/<slug:env>/tools/bulk/", api.ToolBulk.as_view(), name="api-tool-bulk"),
    path(P + "grants/", api.GrantList.as_view(), name="api-grants"),
    path(P + "grants/<uuid:grant_id>/", api.GrantDetail.as_view(), name="api-grant"),
    path(P + "policies/", api.PolicyList.as_view(), name="api-policies"),
    path(P + "policies/suggestions/", api.PolicySuggestions.as_view(), name="api-policy-suggestions"),
    path(P + "policies/<uuid:policy_id>/", api.PolicyDetail.as_view(), name="api-policy"),
    path(P + "simulate/", api.Simulate.as_view(), name="api-simulate"),
    path(P + "definition-reviews/", api.DefinitionReviews.as_view(), name="api-definition-reviews"),
    path(P + "environments/<slug:env>/definition-reviews/", api.DefinitionReviews.as_view(),
         name="api-env-definition-reviews"),
    path(P + "definition-reviews/<uuid:review_id>/", api.DefinitionReviewDetail.as_view(),
         name="api-definition-review"),
    path(P + "definition-reviews/<uuid:review_id>/accept/", api.DefinitionReviewAccept.as_view(),
         name="api-definition-review-accept"),
]
