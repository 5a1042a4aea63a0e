"""Enterprise sign-in (OpenID Connect through allauth's ``openid_connect`` provider).

allauth does the protocol (discovery, authorization code with PKCE, ID token checks, userinfo);
this adapter adds one thing: when a person's account is created by their first sign-in, they
join the organization that lists their email domain, if the provider says the address is
verified (``services.signin_join_by_domain``, audited either way)."""

from __future__ import annotations

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider

from . import services


def oidc_claims(extra_data: dict) -> dict:
    """The claims allauth kept for an OpenID Connect account: userinfo when it was fetched,
    else the ID token (as allauth's own provider reads them)."""
    if not isinstance(extra_data, dict):
        return {}
    for key in ("userinfo", "id_token"):
        if isinstance(extra_data.get(key), dict) and extra_data[key]:
            return extra_data[key]
    return extra_data


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        account = sociallogin.account
        if not isinstance(account.get_provider(), OpenIDConnectProvider):
            return user
        claims = oidc_claims(account.extra_data)
        email = claims.get("email")
        if isinstance(email, str) and email:
            services.signin_join_by_domain(user=user, email=email, email_verified=claims.get("email_verified"),
                                           provider=account.provider)
        return user
