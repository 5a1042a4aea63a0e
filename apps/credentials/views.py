"""Credentials page per environment: one credential per security scheme (set / rotate, masked
last 4, age), and the environment's upstream base URL as a link to where it is set. Viewers and up read;
writes need ``credentials.manage``. A secret typed into a form is never rendered back."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import DomainError
from apps.projects.selectors import environment_for, project_access
from apps.projects.upstream import upstream_note

from . import schemes, selectors, services

VIEW, MANAGE = "project.view", "credentials.manage"


@login_required
def index(request, org_slug, project_slug):
    _, project = project_access(request.user, org_slug, project_slug, VIEW)
    first = project.environments.first()
    if first is None:
        return redirect("projects:detail", org_slug, project_slug)
    return redirect("credentials:environment", org_slug, project_slug, first.slug)


@login_required
@require_GET
def environment(request, org_slug, project_slug, env_slug):
    """The credentials of one environment. Its upstream base URL and private-network switch are
    shown here and changed on the environment's settings page (``projects:environment``)."""
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    env = environment_for(project, env_slug)
    return render(request, "credentials/environment.html", {
        "access": access, "org": access.organization, "project": project, "active_nav": "projects",
        "crumb": "Governance", "tab": "credentials", "can_manage": access.can("governance.manage"),
        "can_manage_credentials": access.can(MANAGE), "environments": list(project.environments.all()),
        "env": env, "slots": selectors.environment_slots(env), "fields": schemes.FIELDS,
        "storage": selectors.storage_description(), "max_age_days": settings.CREDENTIAL_MAX_AGE_DAYS,
        "upstream_note": upstream_note(env.base_url, env.allow_private_network),
    })


@login_required
@require_POST
def credential_set(request, org_slug, project_slug, env_slug, scheme_name):
    access, project = project_access(request.user, org_slug, project_slug, MANAGE)
    env = environment_for(project, env_slug)
    kind = request.POST.get("kind", "")
    values = {name: request.POST.get(name, "") for name, _, _ in schemes.FIELDS.get(kind, ())}
    config = {key: request.POST[key] for key in ("token_url", "scopes", "client_auth") if request.POST.get(key)}
    try:
        version = services.credential_set(environment=env, scheme_name=scheme_name, values=values, kind=kind or None,
                                          config=config or None, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"{scheme_name}: {exc.message}")
    else:
        if version.number == 1:
            messages.success(request, f"Credential for {scheme_name} in {env.name} saved ({version.masked}).")
        else:
            messages.success(request, f"Credential for {scheme_name} in {env.name} rotated to version "
                                      f"{version.number} ({version.masked}); the previous version stays usable for "
                                      f"{settings.CREDENTIAL_ROTATION_GRACE_SECONDS} s, then is destroyed.")
    return redirect("credentials:environment", org_slug, project_slug, env.slug)
