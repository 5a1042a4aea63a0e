"""Reads of OAuth authorization: the environment a resource indicator names for a user."""

from __future__ import annotations

from django.conf import settings

from apps.accounts.models import Membership
from apps.projects.models import Environment

from . import resources


def environment_for_resource(user, resource: str) -> Environment | None:
    """The environment whose MCP endpoint is ``resource``, when ``user`` is a member of its
    organization; None otherwise (unknown, malformed, or another organization's endpoint)."""
    ref = resources.parse(resource, settings.SITE_URL)
    if ref is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    environment = (Environment.objects.select_related("project", "organization")
                   .filter(organization__slug=ref.org_slug, project__slug=ref.project_slug, slug=ref.env_slug)
                   .first())
    if environment is None:
        return None
    if ref.toolset_slug:  # a toolset endpoint is a resource only while the toolset exists
        from apps.toolsets.models import Toolset

        if not Toolset.objects.filter(project_id=environment.project_id, slug=ref.toolset_slug).exists():
            return None
    if not Membership.objects.filter(organization_id=environment.organization_id, user=user).exists():
        return None
    return environment


def toolset_of_resource(resource: str) -> str:
    """The toolset slug a resource indicator names ('' for an environment's own endpoint)."""
    ref = resources.parse(resource, settings.SITE_URL)
    return ref.toolset_slug if ref is not None else ""


def single_resource(values) -> str | None:
    """Exactly one resource indicator, or None (MCPForge tokens open one endpoint)."""
    if isinstance(values, str):
        values = values.split()
    values = [v for v in (values or []) if v]
    return values[0] if len(values) == 1 else None


def authorised_clients(access, *, everyone: bool) -> list[dict]:
    """The OAuth clients holding live access in ``access``'s organization: one row per
    (client, person, environment) with a usable access or refresh token. Only the caller's own
    rows unless ``everyone`` (admins)."""
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

    from .models import TokenBinding

    now = timezone.now()
    bindings = (TokenBinding.objects.filter(environment__organization=access.organization)
                .select_related("api_token__user", "environment__project").order_by("-created_at"))
    if not everyone:
        bindings = bindings.filter(api_token__user=access.user)
    rows: dict[tuple, dict] = {}
    for binding in bindings:
        key = (binding.application_id, binding.api_token.user_id, binding.environment_id)
        rows.setdefault(key, {"application_id": binding.application_id, "user": binding.api_token.user,
                              "environment": binding.environment, "last_issued": binding.created_at})
    if not rows:
        return []
    apps = get_application_model().objects.in_bulk({k[0] for k in rows})
    # Only tokens issued for an MCP endpoint (a DCR registration token is an AccessToken too).
    live_access = set(get_access_token_model().objects
                      .filter(pk__in=[b.access_token_id for b in bindings], expires__gt=now)
                      .values_list("application_id", "user_id"))
    live_refresh = {(r.application_id, r.user_id) for r in get_refresh_token_model().objects
                    .filter(application_id__in=apps, revoked__isnull=True).only("application_id", "user_id", "resource")
                    if _in_org(r.resource, access.organization.slug)}
    out = []
    for (app_id, user_id, _env), row in rows.items():
        if app_id in apps and ((app_id, user_id) in live_access or (app_id, user_id) in live_refresh):
            out.append({**row, "application": apps[app_id]})
    return out


def _in_org(resource_list, org_slug: str) -> bool:
    refs = [resources.parse(r, settings.SITE_URL) for r in (resource_list or [])]
    return bool(refs) and all(ref is not None and ref.org_slug == org_slug for ref in refs)
