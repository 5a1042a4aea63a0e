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
    if not Membership.objects.filter(organization_id=environment.organization_id, user=user).exists():
        return None
    return environment


def single_resource(values) -> str | None:
    """Exactly one resource indicator, or None (MCPForge tokens open one endpoint)."""
    if isinstance(values, str):
        values = values.split()
    values = [v for v in (values or []) if v]
    return values[0] if len(values) == 1 else None
