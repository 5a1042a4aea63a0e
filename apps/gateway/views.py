"""The "Connect an agent" page of an environment, and its panel on the project page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.governance.selectors import callable_tools
from apps.projects.selectors import environment_for, project_access

from . import conf
from .connect import TOKEN_PLACEHOLDER, client_configs, endpoint_url, server_name

# Connecting an agent means holding an API token: the same capability as the tokens page.
CONNECT_CAPABILITY = "token.manage_own"


@login_required
def connect(request, org_slug, project_slug, env_slug=None):
    access, project = project_access(request.user, org_slug, project_slug, CONNECT_CAPABILITY)
    environments = list(project.environments.all())
    if env_slug is None:
        return redirect("gateway:connect_env", org_slug, project_slug, environments[0].slug) if environments \
            else redirect("projects:detail", org_slug, project_slug)
    environment = environment_for(project, env_slug)
    url = endpoint_url(settings.SITE_URL, access.organization.slug, project.slug, environment.slug)
    name = server_name(access.organization.slug, project.slug, environment.slug)
    my_tools = callable_tools(request.user, environment)
    return render(request, "gateway/connect.html", {
        "access": access, "org": access.organization, "project": project, "environment": environment,
        "environments": environments, "endpoint": url, "configs": client_configs(url, name),
        "token_placeholder": TOKEN_PLACEHOLDER, "my_tools": my_tools,
        "limits": {"token": conf.get_int("MCP_RATE_LIMIT_PER_TOKEN"), "tool": conf.get_int("MCP_RATE_LIMIT_PER_TOOL")},
        "approval_wait": conf.get_int("MCP_APPROVAL_WAIT_SECONDS"),
        "crumb": "Connect an agent", "active_nav": "projects",
    })


def project_panel(request, access, project) -> dict:
    """The MCP endpoints of the project's environments, on the project page (apps.py registers it)."""
    return {
        "panels": ["gateway/_panel.html"],
        "gateway_can_connect": access.can(CONNECT_CAPABILITY),
        "gateway_endpoints": [
            (env, endpoint_url(settings.SITE_URL, access.organization.slug, project.slug, env.slug))
            for env in project.environments.all()
        ],
    }
