"""Every write to organizations, memberships, teams, invitations and tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.audit.services import audit_record
from apps.core.errors import Conflict, DomainError, PermissionDeniedError

from . import email_domains, roles, tokens
from .models import ApiToken, Invitation, Membership, Organization, SignInDomain, Team

INVITATION_DAYS = 7
RESERVED_SLUGS = {"new", "admin", "api", "accounts", "static", "mcp", "invitations"}


def _unique_slug(base: str, exists) -> str:
    slug = slugify(base)[:50] or "org"
    candidate, n = slug, 2
    while exists(candidate) or candidate in RESERVED_SLUGS:
        candidate = f"{slug}-{n}"
        n += 1
    return candidate


@transaction.atomic
def organization_create(*, name: str, actor, slug: str | None = None) -> Organization:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the organization a name.", field="name")
    if slug:
        slug = slugify(slug)
        if not slug or slug in RESERVED_SLUGS:
            raise DomainError("That URL name is not available.", field="slug")
        if Organization.objects.filter(slug=slug).exists():
            raise Conflict("That URL name is taken.", field="slug")
    else:
        slug = _unique_slug(name, lambda s: Organization.objects.filter(slug=s).exists())
    org = Organization.objects.create(name=name[:120], slug=slug, created_by=actor)
    Membership.objects.create(organization=org, user=actor, role=Membership.Role.OWNER)
    audit_record(
        organization=org,
        event_type="organization.created",
        actor=actor,
        target=org,
        payload={"name": org.name, "slug": org.slug},
    )
    return org


@transaction.atomic
def invitation_create(*, organization: Organization, email: str, role: str, actor, actor_role: str) -> str:
    """Create an invitation and email its link. Returns the accept URL (shown to the inviter too)."""
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise DomainError("Enter a valid email address.", field="email")
    if role not in Membership.Role.values:
        raise DomainError("Unknown role.", field="role")
    if role not in roles.assignable_roles(actor_role):
        raise PermissionDeniedError("You cannot invite someone with that role.")
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member.", field="email")
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_digest=tokens.digest(raw),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    url = f"{settings.SITE_URL}/invitations/{raw}/"
    audit_record(
        organization=organization,
        event_type="member.invited",
        actor=actor,
        target=invitation,
        target_label=email,
        payload={"email": email, "role": role},
    )
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {organization.name} on MCPForge",
            message=f"{actor_label(actor)} invited you to join {organization.name} as {role}.\n\n"
            f"Accept within {INVITATION_DAYS} days: {url}\n",
            from_email=None,
            recipient_list=[email],
            fail_silently=True,
        )
    )
    return url


def actor_label(actor) -> str:
    return getattr(actor, "email", "") or str(actor)


def invitation_for_token(raw: str) -> Invitation | None:
    return Invitation.objects.select_related("organization").filter(token_digest=tokens.digest(raw)).first()


@transaction.atomic
def invitation_accept(*, raw_token: str, user) -> Membership:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organization")
        .filter(token_digest=tokens.digest(raw_token))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise DomainError("This invitation is no longer valid. Ask for a new one.")
    if invitation.email.lower() != (user.email or "").lower():
        raise PermissionDeniedError(f"This invitation was sent to {invitation.email}; log in with that address.")
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at", "updated_at"])
    if created:
        audit_record(
            organization=invitation.organization,
            event_type="member.joined",
            actor=user,
            target=membership,
            target_label=user.email,
            payload={"role": membership.role},
        )
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        organization=invitation.organization,
        event_type="member.invitation_revoked",
        actor=actor,
        target=invitation,
        target_label=invitation.email,
    )


def _ensure_other_owner(membership: Membership) -> None:
    if membership.role == Membership.Role.OWNER:
        owners = Membership.objects.filter(organization_id=membership.organization_id, role=Membership.Role.OWNER)
        if owners.count() <= 1:
            raise DomainError("An organization needs at least one owner. Make someone else owner first.")


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor, actor_role: str) -> Membership:
    if role not in Membership.Role.values:
        raise DomainError("Unknown role.", field="role")
    allowed = roles.assignable_roles(actor_role)
    if role not in allowed or membership.role not in allowed:
        raise PermissionDeniedError("Only an owner can grant or change the owner role.")
    if role == membership.role:
        return membership
    if role != Membership.Role.OWNER:
        _ensure_other_owner(membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        organization=membership.organization,
        event_type="member.role_changed",
        actor=actor,
        target=membership,
        target_label=membership.user.email,
        payload={"before": before, "after": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor, actor_role: str) -> None:
    if membership.role not in roles.assignable_roles(actor_role):
        raise PermissionDeniedError("Only an owner can remove an owner.")
    _ensure_other_owner(membership)
    org = membership.organization
    for team in Team.objects.filter(organization=org, members=membership.user):
        team.members.remove(membership.user)
    ApiToken.objects.filter(organization=org, user=membership.user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    email = membership.user.email
    audit_record(
        organization=org,
        event_type="member.removed",
        actor=actor,
        target=membership,
        target_label=email,
        payload={"role": membership.role, "tokens_revoked": True},
    )
    membership.delete()


@transaction.atomic
def team_create(*, organization: Organization, name: str, description: str = "", actor) -> Team:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the team a name.", field="name")
    slug = slugify(name)[:60]
    if not slug:
        raise DomainError("The team name needs letters or digits.", field="name")
    try:
        with transaction.atomic():
            team = Team.objects.create(
                organization=organization, name=name[:80], slug=slug, description=description[:300]
            )
    except IntegrityError as exc:
        raise Conflict("A team with this name already exists.", field="name") from exc
    audit_record(organization=organization, event_type="team.created", actor=actor, target=team)
    return team


@transaction.atomic
def team_delete(*, team: Team, actor) -> None:
    audit_record(organization=team.organization, event_type="team.deleted", actor=actor, target=team)
    team.delete()


@transaction.atomic
def team_add_member(*, team: Team, user, actor) -> None:
    if not Membership.objects.filter(organization_id=team.organization_id, user=user).exists():
        raise DomainError("Only members of the organization can join its teams.")
    if team.members.filter(pk=user.pk).exists():
        raise Conflict(f"{user.email} is already in {team.name}.")
    team.members.add(user)
    audit_record(
        organization=team.organization,
        event_type="team.member_added",
        actor=actor,
        target=team,
        payload={"user": user.email},
    )


@transaction.atomic
def team_remove_member(*, team: Team, user, actor) -> None:
    team.members.remove(user)
    audit_record(
        organization=team.organization,
        event_type="team.member_removed",
        actor=actor,
        target=team,
        payload={"user": user.email},
    )


@transaction.atomic
def token_create(
    *, organization: Organization, user, name: str, expires_days: int | None = None, actor=None
) -> tuple[ApiToken, str]:
    """Create a personal token. The plaintext is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Name the token so you can recognise it later.", field="name")
    if expires_days is not None and not (1 <= expires_days <= 3650):
        raise DomainError("Expiry must be between 1 and 3650 days.", field="expires_days")
    if not Membership.objects.filter(organization=organization, user=user).exists():
        raise DomainError("Tokens belong to members of the organization.")
    raw = tokens.generate()
    token = ApiToken.objects.create(
        organization=organization,
        user=user,
        name=name[:80],
        prefix=raw[: tokens.DISPLAY_PREFIX_LEN],
        digest=tokens.digest(raw),
        expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
    )
    audit_record(
        organization=organization,
        event_type="token.created",
        actor=actor or user,
        target=token,
        payload={
            "token_name": token.name,
            "token_prefix": token.prefix,
            "for_user": user.email,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor) -> None:
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        organization=token.organization,
        event_type="token.revoked",
        actor=actor,
        target=token,
        payload={"token_name": token.name, "token_prefix": token.prefix},
    )


LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_authenticate(raw: str) -> ApiToken | None:
    """The active token for ``raw``, or None. Touches last_used_at at most once a minute."""
    if not tokens.looks_like_token(raw):
        return None
    token = ApiToken.objects.select_related("user", "organization").filter(digest=tokens.digest(raw)).first()
    if token is None or not tokens.matches(raw, token.digest) or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def user_create(*, email: str, password: str | None = None, **extra):
    """Create a login (used by seed_demo and tests; sign-up goes through allauth)."""
    user_model = get_user_model()
    email = email.strip().lower()
    user = user_model.objects.create_user(username=email[:150], email=email, password=password, **extra)
    return user


@transaction.atomic
def signin_domains_set(*, organization: Organization, domains: str | list[str], role: str, actor) -> list[str]:
    """Replace the organization's sign-in domains (``domains``: text or a list; empty turns the
    setting off). Every change is audited with the before and after. Returns the domains."""
    parsed, errors = email_domains.parse_list(domains)
    if errors:
        raise DomainError(" ".join(errors), field="domains")
    if role not in SignInDomain.JoinRole.values:
        raise DomainError("People joining by email domain get the viewer, member or reviewer role.", field="role")
    taken = sorted(SignInDomain.objects.filter(domain__in=parsed).exclude(organization=organization)
                   .values_list("domain", flat=True))
    if taken:
        raise Conflict(f"Another organization already uses {', '.join(taken)} for sign-in.", field="domains")
    current = {d.domain: d.role for d in SignInDomain.objects.select_for_update().filter(organization=organization)}
    wanted = dict.fromkeys(parsed, role)
    if current == wanted:
        return parsed
    SignInDomain.objects.filter(organization=organization).exclude(domain__in=parsed).delete()
    for domain in parsed:
        try:
            with transaction.atomic():
                SignInDomain.objects.update_or_create(organization=organization, domain=domain,
                                                      defaults={"role": role})
        except IntegrityError as exc:  # claimed by another organization meanwhile
            raise Conflict(f"Another organization already uses {domain} for sign-in.", field="domains") from exc
    audit_record(
        organization=organization,
        event_type="organization.signin_domains_changed",
        actor=actor,
        target=organization,
        payload={"before": sorted(current), "after": parsed,
                 "role_before": sorted(set(current.values())), "role": role if parsed else None},
    )
    return parsed


@transaction.atomic
def signin_join_by_domain(*, user, email: str, email_verified: object, provider: str) -> Membership | None:
    """A person's first enterprise sign-in: join the organization whose sign-in domain is the
    domain of ``email``, only when the provider says the address is verified (a JSON true).
    An unverified address of a sign-in domain never joins and is audited as refused."""
    decision = email_domains.decide(email=email, email_verified=email_verified)
    if decision.domain is None:
        return None
    rule = SignInDomain.objects.select_related("organization").filter(domain=decision.domain).first()
    if rule is None:
        return None
    organization = rule.organization
    payload = {"email": email, "domain": decision.domain, "provider": provider}
    if not decision.join:
        audit_record(organization=organization, event_type="member.domain_join_refused", actor=user,
                     target=organization, payload={**payload, "reason": decision.reason})
        return None
    membership, created = Membership.objects.get_or_create(organization=organization, user=user,
                                                           defaults={"role": rule.role})
    if created:
        audit_record(organization=organization, event_type="member.joined_by_domain", actor=user,
                     target=membership, target_label=email, payload={**payload, "role": membership.role})
    return membership
