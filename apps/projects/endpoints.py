"""The address of an MCP endpoint (pure: no Django import). The gateway serves it, the Connect
page and the toolsets pages show it."""


def endpoint_url(site_url: str, org_slug: str, project_slug: str, env_slug: str) -> str:
    return f"{site_url.rstrip('/')}/mcp/{org_slug}/{project_slug}/{env_slug}/"
