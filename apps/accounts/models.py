"""Organizations, memberships, teams, invitations and personal API tokens."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.models import TimeStampedModel


class Organization(TimeStampedModel):
    """A tenant. Every governed object hangs off one organization."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    webhook_url = models.URLField(blank=True, default="")

    def __str__(self) -> str:
        return self.name


class Membership(TimeStampedModel):
    """A user's role in an organization (owner, admin, reviewer, member, viewer)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        REVIEWER = "reviewer", "Reviewer"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                name="membership_unique_user_per_org",
                violation_error_message="This user is already a member of the organization.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Team(TimeStampedModel):
    """A named group of members; grants and approval steps can name a team."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=60)
    description = models.CharField(max_length=300, blank=True, default="")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"],
                name="team_unique_slug_per_org",
                violation_error_message="A team with this name already exists.",
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Invitation(TimeStampedModel):
    """An emailed offer to join an organization with a role; accepted once, by link."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # pending invitations page of an organization
            models.Index(fields=["organization", "accepted_at"], name="invitation_org_pending_idx"),
        ]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class ApiToken(TimeStampedModel):
    """A personal machine token (REST API and MCP). Only the SHA-256 digest is stored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the token in lists.")
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # the token list of one user in one organization
            models.Index(fields=["organization", "user"], name="apitoken_org_user_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(name=""), name="apitoken_name_not_empty", violation_error_message="Name the token."
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class SignInDomain(TimeStampedModel):
    """An email domain whose people join the organization, with ``role``, the first time they
    sign in through the enterprise OpenID Connect provider with a verified address there.
    No rows: the setting is off. A domain belongs to at most one organization."""

    class JoinRole(models.TextChoices):  # never admin or owner: a domain is not a person
        REVIEWER = "reviewer", "Reviewer"
        MEMBER = "member", "Member"
        VIEWER = "viewer", "Viewer"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="signin_domains")
    domain = models.CharField(max_length=253)
    role = models.CharField(max_length=16, choices=JoinRole.choices, default=JoinRole.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                name="signindomain_unique_domain",
                violation_error_message="Another organization already uses this sign-in domain.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["reviewer", "member", "viewer"]),
                name="signindomain_role_not_admin",
                violation_error_message="People joining by email domain get at most the reviewer role.",
            ),
        ]
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.domain} → {self.organization} ({self.role})"
