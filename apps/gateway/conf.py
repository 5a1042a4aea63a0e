"""Gateway settings, read once per use from Django settings with the environment as fallback.

The names are the ones README lists (``MCP_*``); mcpforge/settings.py declares them with the
typed env helpers. Reading through ``getattr`` keeps tests free to override one with
``settings.MCP_...`` fixtures.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.conf import settings

DEFAULTS: dict[str, int] = {
    # seconds an agent's tools/call may wait for a human decision before "pending" is returned
    "MCP_APPROVAL_WAIT_SECONDS": 0,
    # calls per minute; 0 disables the limit
    "MCP_RATE_LIMIT_PER_TOKEN": 120,
    "MCP_RATE_LIMIT_PER_TOOL": 60,
    # upstream HTTP
    "MCP_UPSTREAM_TIMEOUT_SECONDS": 15,
    "MCP_UPSTREAM_CONNECT_TIMEOUT_SECONDS": 5,
    "MCP_UPSTREAM_MAX_BYTES": 2 * 1024 * 1024,
    "MCP_UPSTREAM_MAX_REDIRECTS": 3,
    # threads (and so database connections) the gateway uses for Django ORM work
    "MCP_DB_THREADS": 8,
    # connections of the asynchronous pool that serves warm tool calls (caller lookup, audit rows)
    "MCP_DB_ASYNC_CONNECTIONS": 10,
    # milliseconds the outcome rows of tool calls are gathered before they are written together
    "MCP_AUDIT_BATCH_MS": 20,
    # tools/list page size (cursor pagination beyond it): a whole compact listing of a large API
    # (Box, 296 tools) fits in one page
    "MCP_TOOLS_PAGE_SIZE": 1000,
    # 1: tools/list serves compact definitions (apps/inventory/compact.py) plus the built-in
    # mcpforge_describe_tool; 0: the stored definitions as they are
    "MCP_COMPACT_TOOLS": 1,
    # tokens one compact definition may cost before its deep nesting is summarised
    "MCP_TOOL_TOKEN_BUDGET": 4000,
    # seconds a 2026-07-28 client may reuse a tools/list answer (its ttlMs; never past the
    # token's expiry); 0: immediately stale
    "MCP_TOOLS_LIST_TTL_SECONDS": 60,
}


def get_int(name: str) -> int:
    value = getattr(settings, name, None)
    if value is None:
        raw = os.environ.get(name, "")
        value = int(raw) if raw.strip() else DEFAULTS[name]
    return int(value)


def upstream_ca_bundle() -> str:
    """``MCP_UPSTREAM_CA_BUNDLE``: "" (certifi), ``system`` (truststore) or a PEM path."""
    value = getattr(settings, "MCP_UPSTREAM_CA_BUNDLE", None)
    return os.environ.get("MCP_UPSTREAM_CA_BUNDLE", "") if value is None else str(value)


def allowed_origins() -> frozenset[str]:
    """Browser origins that may call the MCP endpoint: ``MCP_ALLOWED_ORIGINS`` (comma separated)
    plus the product's own origin (SITE_URL), so the connect page could test the endpoint."""
    configured = getattr(settings, "MCP_ALLOWED_ORIGINS", None)
    if configured is None:
        configured = [o.strip() for o in os.environ.get("MCP_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    origins = {normalise_origin(o) for o in configured}
    site = getattr(settings, "SITE_URL", "")
    if site:
        origins.add(normalise_origin(site))
    origins.discard("")
    return frozenset(origins)


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped; "" if not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")
