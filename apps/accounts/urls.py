from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/new/", views.org_create, name="org_create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/<slug:org_slug>/", views.org_home, name="org_home"),
    path("o/<slug:org_slug>/members/", views.members, name="members"),
    path("o/<slug:org_slug>/members/<uuid:member_id>/role/", views.member_role, name="member_role"),
    path("o/<slug:org_slug>/members/<uuid:member_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "o/<slug:org_slug>/invitations/<uuid:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("o/<slug:org_slug>/teams/", views.teams, name="teams"),
    path("o/<slug:org_slug>/teams/<slug:team_slug>/", views.team_detail, name="team_detail"),
    path("o/<slug:org_slug>/sign-in/", views.signin_settings, name="signin_settings"),
    path("o/<slug:org_slug>/tokens/", views.tokens, name="tokens"),
    path("o/<slug:org_slug>/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
