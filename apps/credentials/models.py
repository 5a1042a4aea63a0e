"""Upstream API credentials, sealed with envelope encryption (see crypto.py).

No column ever holds a plaintext secret: each version stores the AES-256-GCM ciphertext,
its nonce, the data key wrapped by the key-encryption key (KEK) and the id of that KEK.
What the UI may show (the masked last 4 characters, when it was set) is stored beside it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Organization
from apps.core.models import TimeStampedModel
from apps.projects.models import Environment, Project

from .crypto import MAX_KEK_ID_LENGTH, Sealed


class SealedColumns(models.Model):
    """The four columns a ``crypto.Sealed`` value maps to."""

    ciphertext = models.BinaryField(default=b"")
    nonce = models.BinaryField(default=b"")
    wrapped_dek = models.BinaryField(default=b"")
    kek_id = models.CharField(max_length=MAX_KEK_ID_LENGTH, blank=True, default="")

    class Meta:
        abstract = True

    @property
    def sealed(self) -> Sealed:
        return Sealed(ciphertext=bytes(self.ciphertext), nonce=bytes(self.nonce),
                      wrapped_dek=bytes(self.wrapped_dek), kek_id=self.kek_id)

    def set_sealed(self, sealed: Sealed) -> None:
        self.ciphertext = sealed.ciphertext
        self.nonce = sealed.nonce
        self.wrapped_dek = sealed.wrapped_dek
        self.kek_id = sealed.kek_id


class KeyCanary(SealedColumns, TimeStampedModel):
    """A known value sealed at first start. Opening it at startup proves the configured KEK is
    the one the database was written with, so a wrong KEK stops the process at boot instead of
    failing tool calls one by one. One row (name "kek")."""

    name = models.CharField(max_length=30, unique=True, default="kek")

    def __str__(self) -> str:
        return f"KEK canary ({self.kek_id})"


class Credential(TimeStampedModel):
    """One credential slot: the secret for one security scheme of the spec in one environment.

    The secret itself lives in ``CredentialVersion`` rows; exactly one version is active.
    ``config`` keeps the non-secret facts copied from the scheme when the secret was set
    (where an API key goes, the OAuth2 token URL and scopes), so the gateway does not need
    the spec to use it and the security report can describe the flow.
    """

    class Kind(models.TextChoices):
        API_KEY = "api_key", "API key"
        HTTP_BEARER = "http_bearer", "HTTP bearer token"
        HTTP_BASIC = "http_basic", "HTTP basic (username and password)"
        OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials", "OAuth2 client credentials"
        OAUTH2_TOKEN = "oauth2_token", "OAuth2 access token (static)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="credentials")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="credentials")
    scheme_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    config = models.JSONField(default=dict, blank=True)
    active_version = models.PositiveIntegerField(default=0)
    rotated_at = models.DateTimeField(help_text="When the active version was set")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    set_by_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "scheme_name"], name="credential_unique_scheme_per_env",
                                    violation_error_message="This environment already has a credential for "
                                                            "that scheme."),
        ]
        indexes = [
            # credentials page and credential_flow of one environment; upstream_auth lookups
            models.Index(fields=["organization", "environment"], name="credential_org_env_idx"),
        ]
        ordering = ["scheme_name"]

    def __str__(self) -> str:
        return f"{self.scheme_name} in {self.environment.slug}"


class CredentialVersion(SealedColumns, TimeStampedModel):
    """One sealed secret of a credential.

    Rotation adds version n+1 as ``active`` and moves version n to ``retiring``: calls that
    already read it can finish, and after ``retire_after`` its sealed columns are wiped
    (``destroyed``). The GCM associated data binds the ciphertext to (credential, number),
    so copying it into another row or version cannot decrypt.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRING = "retiring", "Retiring"
        DESTROYED = "destroyed", "Destroyed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    masked = models.CharField(max_length=16, blank=True, default="", help_text="Last 4 characters, masked")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_label = models.CharField(max_length=200, blank=True, default="")
    retire_after = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credential", "number"], name="credentialversion_unique_number",
                                    violation_error_message="Version numbers are unique per credential."),
            models.UniqueConstraint(fields=["credential"], condition=Q(status="active"),
                                    name="credentialversion_one_active",
                                    violation_error_message="A credential has one active version."),
        ]
        indexes = [
            # rotate_kek: rows still wrapped by an old KEK
            models.Index(fields=["kek_id"], name="credentialversion_kek_idx"),
            # destroying retired versions whose grace period ended
            models.Index(fields=["status", "retire_after"], name="credentialversion_retire_idx"),
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.credential} v{self.number} ({self.status})"
