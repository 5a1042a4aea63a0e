"""REST endpoints of credentials, included under /api/v1/."""

from django.urls import path

from . import api

P = "projects/<str:id>/environments/<slug:env>/credentials/"

urlpatterns = [
    path(P, api.CredentialList.as_view(), name="api-credentials"),
    path(P + "<str:scheme>/", api.CredentialSet.as_view(), name="api-credential"),
    path(P + "<str:scheme>/rotate/", api.CredentialRotate.as_view(), name="api-credential-rotate"),
]
