"""What the gateway needs from apps above it, provided in their AppConfig.ready (the gateway
never imports them: dependencies point down, see README "Architecture").

* ``OAuthProvider``: the OAuth access tokens (``mcpfo_``) of the MCP endpoint, provided by
  apps.oauth (``apps.oauth.gateway``): the audience-checked caller parameters of a token, the
  RFC 9728 resource metadata URL of an endpoint, and the OAuth client a token was issued to.
  Unset fails closed: an OAuth access token is refused (401), never taken for a personal token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

# The public prefix of an OAuth access token (apps.oauth generates them). Known here so that a
# gateway without an OAuth provider still recognises, and refuses, such a token.
OAUTH_TOKEN_PREFIX = "mcpfo_"  # noqa: S105 - a public prefix, not a secret


@dataclasses.dataclass(frozen=True)
class OAuthProvider:
    # (raw_token=, org_slug=, project_slug=, env_slug=, toolset_slug=) -> selectors.caller_params;
    # raises selectors.GatewayRefusal. Runs in a gateway database thread.
    caller_params: Callable[..., list[str]]
    # path -> the RFC 9728 document URL of the endpoint at that path
    resource_metadata_url: Callable[[str], str]
    # ApiToken pk -> the OAuth application id the token mirrors, or None (a personal token)
    client_of_token: Callable[[int], int | None]


_oauth: OAuthProvider | None = None


def provide_oauth(provider: OAuthProvider) -> None:
    global _oauth
    _oauth = provider


def is_oauth_token(raw_token: str) -> bool:
    return raw_token.startswith(OAUTH_TOKEN_PREFIX)


def oauth_caller_params(*, raw_token: str, org_slug: str, project_slug: str, env_slug: str,
                        toolset_slug: str = "") -> list[str]:
    from .selectors import GatewayRefusal  # this module stays importable without Django models

    if _oauth is None:  # fail closed: nothing can check the token's audience
        raise GatewayRefusal(401, "This access token is not valid.", error="invalid_token", reason="token_unknown")
    return _oauth.caller_params(raw_token=raw_token, org_slug=org_slug, project_slug=project_slug,
                                env_slug=env_slug, toolset_slug=toolset_slug)


def resource_metadata_url(path: str) -> str | None:
    """None without an OAuth provider (the 401 challenge then names no metadata)."""
    return _oauth.resource_metadata_url(path) if _oauth is not None else None


def oauth_client_of_token(token_pk: int) -> int | None:
    return _oauth.client_of_token(token_pk) if _oauth is not None else None
