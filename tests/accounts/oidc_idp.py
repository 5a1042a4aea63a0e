"""A real OpenID Connect provider for tests: django-oauth-toolkit (the product's own
authorization server library) with OIDC on, mounted at /idp/ of the live server beside the
product. ``CLAIMS`` maps an IdP login (its allauth email) to the claims it asserts, so the
identity the product sees (email, email_verified) is the provider's word, not a local row."""

from django.urls import include, path
from oauth2_provider import urls as dot_urls
from oauth2_provider.oauth2_validators import OAuth2Validator

from mcpforge import urls as product_urls

CLAIMS: dict[str, dict] = {}


class IdpValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim below goes into the ID token and userinfo

    def get_additional_claims(self, request):
        return dict(CLAIMS.get(request.user.email, {}))


# Listed first, so reverse("oauth2_provider:...") names these stock DOT views (the IdP's
# discovery document is built from them), not the product's MCP authorization endpoints.
idp_patterns = (dot_urls.base_urlpatterns[:2] + dot_urls.oidc_urlpatterns, "oauth2_provider")
urlpatterns = [path("idp/", include(idp_patterns)), *product_urls.urlpatterns]
