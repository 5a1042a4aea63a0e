"""Writes of OAuth authorization, each audited in the same transaction."""

from __future__ import annotations

import hashlib
import logging

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core import request_context

from .models import ClientRegistration, TokenBinding

logger = logging.getLogger("mcpforge.oauth")


@transaction.atomic
def mirror_access_token(*, access_token, raw_token: str, environment, toolset_slug: str = "") -> ApiToken:
    """The gateway's row for a newly issued access token: same digest (DOT stores only
    ``token_checksum``, the SHA-256 of the token), same expiry, bound to ``environment``."""
    digest = hashlib.sha256(raw_token.encode()).hexdigest()
    if access_token.token_checksum != digest:  # pragma: no cover - DOT derives the checksum the same way
        raise ValueError("access token checksum mismatch")
    application = access_token.application
    mirror = ApiToken.objects.create(
        organization_id=environment.organization_id,
        user=access_token.user,
        name=f"OAuth · {application.name or application.client_id}"[:80],
        prefix=raw_token[:12],
        digest=digest,
        expires_at=access_token.expires,
    )
    TokenBinding.objects.create(api_token=mirror, environment=environment, toolset_slug=toolset_slug,
                                access_token_id=access_token.pk, application_id=application.pk)
    audit_record(
        organization=environment.organization,
        event_type="oauth.token_issued",
        actor=access_token.user,
        target=mirror,
        payload={"client_id": application.client_id, "client_name": application.name,
                 "environment": f"{environment.project.slug}/{environment.slug}", "toolset": toolset_slug or None,
                 "expires_at": access_token.expires.isoformat(),
                 "refresh": access_token.source_refresh_token_id is not None},
    )
    return mirror


@transaction.atomic
def access_token_gone(*, access_token_id: int) -> None:
    """DOT deleted an access token (revocation, rotation, client deleted): its mirror is
    revoked, which bumps the organization's caller epoch (the next call is refused)."""
    binding = (TokenBinding.objects.select_related("api_token", "environment__organization")
               .filter(access_token_id=access_token_id).first())
    if binding is None or binding.api_token.revoked_at is not None:
        return
    mirror = binding.api_token
    mirror.revoked_at = timezone.now()
    mirror.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        organization=binding.environment.organization,
        event_type="oauth.token_revoked",
        actor=None,
        target=mirror,
        payload={"token_name": mirror.name, "token_prefix": mirror.prefix},
    )


@transaction.atomic
def client_revoke(*, organization, application, user, actor) -> int:
    """End ``application``'s access as ``user`` to ``organization``'s MCP endpoints: its refresh
    tokens are revoked and its access tokens deleted (their mirrors revoked by the signal, so
    the next call is refused). Returns how many tokens were ended."""
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    from .selectors import _in_org

    ended = 0
    for refresh in get_refresh_token_model().objects.filter(application=application, user=user,
                                                            revoked__isnull=True):
        if _in_org(refresh.resource, organization.slug):
            refresh.revoke()
            ended += 1
    bound = set(TokenBinding.objects.filter(application_id=application.pk, api_token__user=user,
                                            environment__organization=organization)
                .values_list("access_token_id", flat=True))
    for access in get_access_token_model().objects.filter(application=application, user=user, pk__in=bound):
        access.revoke()
        ended += 1
    audit_record(organization=organization, event_type="oauth.client_revoked", actor=actor, target=None,
                 payload={"client_id": application.client_id, "client_name": application.name,
                          "for_user": user.email, "tokens_ended_count": ended})
    return ended


@transaction.atomic
def dcr_registration_record(*, client_id: str) -> ClientRegistration:
    """Keep where an open registration (RFC 7591) came from; see ``ClientRegistration``."""
    from oauth2_provider.models import get_application_model

    application = get_application_model().objects.get(client_id=client_id)
    ctx = request_context.current()
    registration = ClientRegistration.objects.create(
        application_id=application.pk, client_id=client_id[:255], client_name=(application.name or "")[:255],
        redirect_uris=application.redirect_uris, remote_addr=ctx.ip, user_agent=ctx.user_agent[:300])
    logger.info("oauth client registered (RFC 7591): client_id=%s name=%r from %s", client_id, application.name,
                ctx.ip)
    return registration


def _client_target(application) -> dict:
    return {"target_type": "oauth_client", "target_id": f"oauth-client-{application.pk}",
            "target_label": (application.name or application.client_id)[:300]}


def client_announce(*, organization, application) -> bool:
    """Write the client's registration into ``organization``'s audit chain the first time it
    reaches it (``oauth.client_registered``): how it was registered (DCR with the address and
    user agent it came from, or CIMD with its document URL), when, and its redirect URIs.
    Returns whether an event was written."""
    target = _client_target(application)
    if AuditEvent.objects.filter(organization=organization, event_type="oauth.client_registered",
                                 target_id=target["target_id"]).exists():
        return False
    registration = ClientRegistration.objects.filter(application_id=application.pk).first()
    if registration is not None:
        payload = {"method": "dcr", "registered_at": registration.created_at.isoformat(),
                   "registered_from": registration.remote_addr, "registered_user_agent": registration.user_agent,
                   "redirect_uris": registration.redirect_uris.split()}
    else:
        payload = {"method": "cimd" if application.client_id.startswith("https://") else "other",
                   "registered_at": application.created.isoformat(), "redirect_uris": application.redirect_uris.split()}
    audit_record(organization=organization, event_type="oauth.client_registered", actor=None,
                 actor_label="OAuth client registration", **target,
                 payload={"client_id": application.client_id, "client_name": application.name, **payload})
    return True
