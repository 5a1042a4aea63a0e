"""The gateway's authentication step for OAuth access tokens (``mcpfo_``), provided to the
gateway through ``apps.gateway.hooks`` (apps.oauth sits above the gateway and is never imported
by it).

An access token is mirrored as an ``ApiToken`` row (same digest, expiry, user and organization;
services.py), so after this step the gateway treats it exactly as a personal token: the same
caller statement, the same caller-epoch confirmation on every call, the same refusal of a
revoked or expired row. What this step adds is the RFC 8707 audience: the token opens only
the one endpoint it was issued for (an environment's, or exactly one toolset endpoint of it),
checked on every request (never cached)."""

from __future__ import annotations

import re

from django.conf import settings

from apps.accounts import tokens
from apps.gateway.selectors import GatewayRefusal

from . import resources
from .models import TokenBinding

_TOKEN_RE = re.compile(r"^mcpfo_[A-Za-z0-9_-]{43}$")
_SLUG = r"[A-Za-z0-9_-]{1,60}"
_ENDPOINT_RE = re.compile(rf"(?:/mcp)?/(?P<org>{_SLUG})/(?P<project>{_SLUG})/(?P<env>{_SLUG})"
                          rf"(?:/toolsets/(?P<toolset>{_SLUG}))?(?:/search)?/?$")

is_oauth_token = resources.is_oauth_token


def resource_metadata_url(path: str) -> str:
    """The RFC 9728 document of the MCP endpoint at ``path`` (its canonical, slash-ended URL)."""
    match = _ENDPOINT_RE.search(path)
    tail = f"mcp/{match['org']}/{match['project']}/{match['env']}/" if match else "mcp/"
    if match and match["toolset"]:
        tail += f"toolsets/{match['toolset']}/"
    return f"{settings.SITE_URL}/.well-known/oauth-protected-resource/{tail}"


def caller_params(*, raw_token: str, org_slug: str, project_slug: str, env_slug: str,
                  toolset_slug: str = "") -> list[str]:
    """``selectors.caller_params`` for an OAuth access token, after its audience check: one
    query (the binding of the token's digest). Runs in a gateway database thread."""
    if not _TOKEN_RE.match(raw_token):
        raise GatewayRefusal(401, "This access token is not valid.", error="invalid_token", reason="token_malformed")
    digest = tokens.digest(raw_token)
    binding = (TokenBinding.objects.select_related("api_token__user", "api_token__organization",
                                                   "environment__project", "environment__organization")
               .filter(api_token__digest=digest).first())
    if binding is None:
        raise GatewayRefusal(401, "This access token is not valid.", error="invalid_token", reason="token_unknown")
    environment = binding.environment
    issued_for = (environment.organization.slug, environment.project.slug, environment.slug, binding.toolset_slug)
    if issued_for != (org_slug, project_slug, env_slug, toolset_slug):
        raise GatewayRefusal(401, "This access token was issued for another MCP endpoint (audience).",
                             error="invalid_token", audit_token=binding.api_token, reason="token_audience")
    return [org_slug, project_slug, env_slug, digest]


def client_of_token(token_pk: int) -> int | None:
    """The OAuth application whose access token ``token_pk`` mirrors, or None (a personal token)."""
    return (TokenBinding.objects.filter(api_token_id=token_pk)
            .values_list("application_id", flat=True).first())
