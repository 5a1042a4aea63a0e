"""Reads of the accounts app that views and the REST API need."""

from __future__ import annotations

from django.conf import settings

from .models import Organization, SignInDomain


def signin_domains(organization: Organization) -> list[SignInDomain]:
    return list(SignInDomain.objects.filter(organization=organization).order_by("domain"))


def oidc_provider() -> dict | None:
    """The configured enterprise OpenID Connect provider ({"id", "name", "server_url"}) or None."""
    apps = settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", [])
    if not apps:
        return None
    app = apps[0]
    return {"id": app["provider_id"], "name": app["name"], "server_url": app["settings"]["server_url"]}
