"""django-oauth-toolkit's request validator, narrowed to what MCPForge allows: authorization
code with PKCE and refresh tokens, for exactly one resource (an MCP endpoint of an organization
the user belongs to). Each issued access token is mirrored for the gateway (services.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from . import selectors, services

ALLOWED_GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class McpValidator(OAuth2Validator):
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if grant_type not in ALLOWED_GRANT_TYPES:
            return False
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        if response_type != "code":
            return False
        return super().validate_response_type(client_id, response_type, client, request, *args, **kwargs)

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        """Exact match (DOT, no wildcards), and plain http only back to this machine (a native
        client's loopback listener); anything else must be https."""
        parts = urlsplit(redirect_uri or "")
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            return False
        return super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs)

    @staticmethod
    def _requested_resources(request) -> list[str]:
        return [v for k, v in (getattr(request, "decoded_body", None) or []) if k == "resource"]

    def _refuse_target(self, request):
        raise errors.CustomOAuth2Error(
            error="invalid_target",
            description="A token opens exactly one MCP endpoint of an organization you belong to: "
                        "send its URL as the resource parameter.",
            request=request,
        )

    def _check_resource(self, request, granted: list[str]) -> None:
        """At validation (before anything is minted): the grant's one resource, still an
        endpoint of an organization the user belongs to; a requested resource may only repeat it."""
        resource = selectors.single_resource(granted)
        requested = self._requested_resources(request)
        if resource is None or any(r != resource for r in requested):
            self._refuse_target(request)
        if selectors.environment_for_resource(request.user, resource) is None:
            self._refuse_target(request)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        from oauth2_provider.models import get_grant_model

        grant = get_grant_model().objects.filter(code=code, application=client).only("resource").first()
        self._check_resource(request, (grant.resource or []) if grant else [])
        return True

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        instance = getattr(request, "refresh_token_instance", None)
        self._check_resource(request, (instance.resource or []) if instance is not None else [])
        return True

    def _check_and_set_request_resource(self, request):
        super()._check_and_set_request_resource(request)
        resource = selectors.single_resource(request.resource)
        environment = selectors.environment_for_resource(request.user, resource) if resource else None
        if environment is None:  # checked at validation already; never mint without it
            self._refuse_target(request)
        request.resource = [resource]
        request.mcp_environment = environment
        request.mcp_toolset = selectors.toolset_of_resource(resource)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        raw = token["access_token"]
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        services.mirror_access_token(access_token=access_token, raw_token=raw,
                                     environment=request.mcp_environment,
                                     toolset_slug=getattr(request, "mcp_toolset", ""))
        return access_token
