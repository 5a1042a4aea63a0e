from django.urls import path

from . import views

app_name = "governance"

P = "o/<slug:org_slug>/p/<slug:project_slug>/governance/"

urlpatterns = [
    path(P, views.index, name="index"),
    path(P + "permissions/", views.permissions, name="permissions"),
    path(P + "permissions/toggle/", views.toggle, name="toggle"),
    path(P + "permissions/toggle/confirm/", views.toggle_confirm, name="toggle_confirm"),
    path(P + "permissions/bulk/", views.bulk, name="bulk"),
    path(P + "grants/", views.grants, name="grants"),
    path(P + "grants/<uuid:grant_id>/delete/", views.grant_delete, name="grant_delete"),
    path(P + "policies/", views.policies, name="policies"),
    path(P + "policies/new/", views.policy_edit, name="policy_new"),
    path(P + "policies/suggestions/accept/", views.accept_suggestions, name="accept_suggestions"),
    path(P + "policies/<uuid:policy_id>/", views.policy_edit, name="policy_edit"),
    path(P + "policies/<uuid:policy_id>/delete/", views.policy_delete, name="policy_delete"),
    path(P + "simulator/", views.simulator, name="simulator"),
    path(P + "reviews/", views.reviews, name="reviews"),
    path(P + "reviews/<uuid:setting_id>/", views.review, name="review"),
]
