"""The "Connect an agent" page of an environment, and its panel on the project page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.governance.selectors import callable_tools
from apps.projects.endpoints import endpoint_url
from apps.projects.selectors import environment_for, project_access
from apps.toolsets.selectors import toolset_for, toolsets_of

from . import conf
from .connect import TOKEN_PLACEHOLDER, client_configs, server_name

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
    env_url = endpoint_url(settings.SITE_URL, access.organization.slug, project.slug, environment.slug)
    url, name = env_url, server_name(access.organization.slug, project.slug, environment.slug)
    my_tools = callable_tools(request.user, environment)
    # ?toolset=<slug>: the same page for that toolset's endpoint in this environment
    toolset = toolset_for(project, request.GET["toolset"]) if request.GET.get("toolset") else None
    if toolset is not None:
        url = f"{env_url}toolsets/{toolset.slug}/"
        name = server_name(access.organization.slug, project.slug, f"{environment.slug}-{toolset.slug}")
        my_tools = [tool for tool in my_tools if tool.name in set(toolset.tool_names)]
    toolsets = [(t, f"{env_url}toolsets/{t.slug}/") for t in toolsets_of(project)]
    return render(request, "gateway/connect.html", {
        "access": access, "org": access.organization, "project": project, "environment": environment,
        "environments": environments, "endpoint": url, "configs": client_configs(url, name),
        "token_placeholder": TOKEN_PLACEHOLDER, "my_tools": my_tools, "toolset": toolset, "toolsets": toolsets,
        "environment_endpoint": env_url,
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
