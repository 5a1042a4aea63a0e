"""DRF authentication with personal API tokens: ``Authorization: Bearer mcpf_…``."""

from rest_framework import authentication, exceptions

from .access import bind_token
from .services import token_authenticate


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Bearer mcpf_…'.")
        token = token_authenticate(parts[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        request.api_token = token
        # The token works only in its own organization (see access.memberships_of).
        bind_token(token.user, token.organization_id)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="mcpforge"'
