"""RFC 8707 resource indicators of MCPForge: one MCP endpoint URL, an environment's or one of its
toolsets' (``…/<environment>/toolsets/<slug>/``, its own resource). Pure: no Django."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from apps.gateway.hooks import OAUTH_TOKEN_PREFIX

_SLUG = r"[A-Za-z0-9_-]{1,60}"
_PATH_RE = re.compile(rf"^/mcp/(?P<org>{_SLUG})/(?P<project>{_SLUG})/(?P<env>{_SLUG})/"
                      rf"(?:toolsets/(?P<toolset>{_SLUG})/)?$")


@dataclass(frozen=True)
class EndpointRef:
    org_slug: str
    project_slug: str
    env_slug: str
    toolset_slug: str = ""  # a toolset endpoint of the environment


def parse(resource: str, site_url: str) -> EndpointRef | None:
    """The endpoint a resource indicator names, or None: it must be exactly
    ``<SITE_URL>/mcp/<org>/<project>/<environment>/`` or ``…/<environment>/toolsets/<slug>/``
    (same scheme, host and port; no query, no fragment, no user info)."""
    if not isinstance(resource, str) or len(resource) > 400:
        return None
    try:
        parts, site = urlsplit(resource), urlsplit(site_url)
    except ValueError:
        return None
    if ((parts.scheme, parts.netloc) != (site.scheme, site.netloc) or parts.query or parts.fragment
            or "@" in parts.netloc):
        return None
    prefix = site.path.rstrip("/")
    if not parts.path.startswith(prefix + "/mcp/"):
        return None
    match = _PATH_RE.match(parts.path[len(prefix):])
    if match is None:
        return None
    return EndpointRef(match["org"], match["project"], match["env"], match["toolset"] or "")


def endpoint_url(site_url: str, ref: EndpointRef) -> str:
    tail = f"toolsets/{ref.toolset_slug}/" if ref.toolset_slug else ""
    return f"{site_url.rstrip('/')}/mcp/{ref.org_slug}/{ref.project_slug}/{ref.env_slug}/{tail}"


ACCESS_TOKEN_PREFIX = OAUTH_TOKEN_PREFIX  # "mcpfo_": the gateway recognises (and without apps.oauth refuses) it


def is_oauth_token(raw: str) -> bool:
    return raw.startswith(ACCESS_TOKEN_PREFIX)


def generate_access_token(request=None) -> str:
    """DOT's ACCESS_TOKEN_GENERATOR: ``mcpfo_`` + 256 random bits. Not ``mcpf_``: the REST API
    (which accepts personal tokens) never accepts an OAuth access token; only the MCP endpoint
    of its resource does."""
    import secrets

    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
