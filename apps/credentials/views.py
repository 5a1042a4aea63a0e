"""Credentials page per environment: upstream base URL, private-network switch, and one
credential per security scheme (set / rotate, masked last 4, age). Viewers and up read;
writes need ``credentials.manage``. A secret typed into a form is never rendered back."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.projects.selectors import environment_for, project_access

from . import schemes, selectors, services

VIEW, MANAGE = "project.view", "credentials.manage"


@login_required
def index(request, org_slug, project_slug):
    _, project = project_access(request.user, org_slug, project_slug, VIEW)
    first = project.environments.first()
    if first is None:
        return redirect("projects:detail", org_slug, project_slug)
    return redirect("credentials:environment", org_slug, project_slug, first.slug)


def _unreachable_warning(env) -> str:
    """A saved base URL whose host is a literal private/loopback address (or localhost) the gateway
    will refuse while the switch is off. No DNS lookup here: the gateway checks every address it
    resolves at call time anyway."""
    import ipaddress
    from urllib.parse import urlsplit

    from apps.core.egress import address_refusal

    host = (urlsplit(env.base_url).hostname or "") if env.base_url else ""
    if not host:
        return ""
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ""
    reason = address_refusal(host, allow_private=bool(env.allow_private_network))
    return f"Calls will be refused: {reason}." if reason else ""


def _spec_server(project) -> str:
    """The first absolute http(s) URL of the current spec's ``servers``: the suggested base URL."""
    from apps.inventory.selectors import current_version

    version = current_version(project)
    for server in (version.servers or []) if version is not None else []:
        url = server.get("url", "") if isinstance(server, dict) else str(server)
        if url.startswith(("https://", "http://")):
            return url
    return ""


@login_required
def environment(request, org_slug, project_slug, env_slug):
    access, project = project_access(request.user, org_slug, project_slug, VIEW)
    env = environment_for(project, env_slug)
    if request.method == "POST":
        access.require(MANAGE)
        try:
            services.environment_upstream_set(environment=env, base_url=request.POST.get("base_url", ""),
                                              allow_private_network=request.POST.get("allow_private_network") == "on",
                                              actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Upstream settings of {env.name} saved.")
            warning = _unreachable_warning(env)
            if warning:
                messages.warning(request, warning)
            return redirect("credentials:environment", org_slug, project_slug, env.slug)
    return render(request, "credentials/environment.html", {
        "access": access, "org": access.organization, "project": project, "active_nav": "projects",
        "crumb": "Governance", "tab": "credentials", "can_manage": access.can("governance.manage"),
        "can_manage_credentials": access.can(MANAGE), "environments": list(project.environments.all()),
        "env": env, "slots": selectors.environment_slots(env), "fields": schemes.FIELDS,
        "storage": selectors.storage_description(), "max_age_days": settings.CREDENTIAL_MAX_AGE_DAYS,
        "suggested_base_url": "" if env.base_url else _spec_server(project),
        "unreachable": _unreachable_warning(env),
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
