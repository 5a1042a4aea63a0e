"""An OAuth access token's mirror in the gateway's token table, and the endpoint it is bound to.

django-oauth-toolkit issues and stores the tokens (digests only: COMPLIANT_BCP_RFC9700_TOKEN_STORAGE).
Each access token it issues gets an ``ApiToken`` row with the same SHA-256 digest, the same
expiry and the user and organization of its resource, so the gateway authenticates it with the
statement it uses for personal tokens, and its revocation (the row's ``revoked_at``) bumps the
organization's caller epoch like any token change: it takes effect on the next call.
``TokenBinding`` is the RFC 8707 audience: the one endpoint the token opens, an environment's or
(``toolset_slug``) one of its toolsets'. Audiences are exact: a token bound to a toolset endpoint
works only there, and an environment's token is refused at that environment's toolset endpoints.
"""

from django.db import models

from apps.accounts.models import ApiToken
from apps.projects.models import Environment


class TokenBinding(models.Model):
    api_token = models.OneToOneField(ApiToken, on_delete=models.CASCADE, related_name="oauth_binding")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    toolset_slug = models.CharField(max_length=60, blank=True, default="", help_text="'': the environment's endpoint")
    # DOT's AccessToken primary key (no FK: DOT deletes the row on revocation, the mirror stays revoked)
    access_token_id = models.BigIntegerField(unique=True)
    application_id = models.BigIntegerField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"OAuth token {self.access_token_id} → environment {self.environment_id}"


class ClientRegistration(models.Model):
    """An OAuth client registered by open dynamic client registration (RFC 7591, ``/oauth/register/``).

    A registration belongs to no organization (anyone may register, before anyone signs in),
    so it cannot go into an organization's audit chain when it happens. It is kept here, with
    where it came from, and written into an organization's chain (``oauth.client_registered``)
    the first time the client reaches that organization: when a person there answers its
    consent form. CIMD clients need no row (their client id is their document's URL)."""

    application_id = models.BigIntegerField(unique=True)  # DOT's Application pk
    client_id = models.CharField(max_length=255)
    client_name = models.CharField(max_length=255, blank=True, default="")
    redirect_uris = models.TextField(blank=True, default="")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.client_name or self.client_id} (registered {self.created_at:%Y-%m-%d})"
