"""Ready-to-paste MCP client configurations for one endpoint. Pure: no Django import.

The token is never filled in: the snippets carry ``TOKEN_PLACEHOLDER`` and the page tells the
user to create a token on the API tokens page (it is shown once, at creation). OAuth-capable
clients get snippets with the URL only (apps/oauth: they sign in and consent in a browser).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

TOKEN_PLACEHOLDER = "mcpf_YOUR_TOKEN"  # noqa: S105 - a placeholder, not a secret


@dataclass(frozen=True)
class ClientConfig:
    key: str
    title: str
    where: str
    language: str
    text: str


def server_name(org_slug: str, project_slug: str, env_slug: str) -> str:
    """A config key clients accept (letters, digits, dashes), e.g. ``acme-petstore-production``."""
    raw = f"{org_slug}-{project_slug}-{env_slug}"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-")[:60] or "mcpforge"


def client_configs(url: str, name: str) -> list[ClientConfig]:
    """Claude Desktop (through the mcp-remote bridge, which forwards the header), a generic
    Streamable HTTP client entry (Claude Code, VS Code, Cursor and most SDK-based clients read
    this shape), the Claude Code command line, the official Python SDK, and curl."""
    bearer = f"Bearer {TOKEN_PLACEHOLDER}"
    desktop = {"mcpServers": {name: {
        "command": "npx",
        "args": ["-y", "mcp-remote", url, "--header", "Authorization:${MCPFORGE_AUTH}"],
        "env": {"MCPFORGE_AUTH": bearer},
    }}}
    generic = {"mcpServers": {name: {"type": "http", "url": url, "headers": {"Authorization": bearer}}}}
    python = (
        "import asyncio\n\n"
        "import httpx2\n"
        "from mcp import Client\n"
        "from mcp.client.streamable_http import streamable_http_client\n\n\n"
        "async def main():\n"
        f"    headers = {{\"Authorization\": \"{bearer}\"}}\n"
        "    async with httpx2.AsyncClient(headers=headers) as http:\n"
        f"        async with Client(streamable_http_client(\"{url}\", http_client=http)) as client:\n"
        "            tools = await client.list_tools()\n"
        "            print([tool.name for tool in tools.tools])\n\n\n"
        "asyncio.run(main())\n"
    )
    curl = (
        f"curl -s {url} \\\n"
        f"  -H 'Authorization: {bearer}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -H 'Accept: application/json, text/event-stream' \\\n"
        "  -H 'MCP-Protocol-Version: 2025-11-25' \\\n"
        "  -d '{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/list\"}'"
    )
    return [
        ClientConfig("claude-desktop", "Claude Desktop", "claude_desktop_config.json (Settings → Developer → "
                     "Edit config); needs Node.js for the mcp-remote bridge", "json", json.dumps(desktop, indent=2)),
        ClientConfig("streamable-http", "Generic Streamable HTTP", "mcp.json / .mcp.json of clients that speak "
                     "Streamable HTTP directly", "json", json.dumps(generic, indent=2)),
        ClientConfig("claude-code", "Claude Code", "terminal", "shell",
                     f"claude mcp add --transport http {name} {url} \\\n  --header \"Authorization: {bearer}\""),
        ClientConfig("python", "Python (official mcp SDK)", "script", "python", python),
        ClientConfig("curl", "curl (smoke test)", "terminal", "shell", curl),
        *oauth_client_configs(url, name),
    ]


def oauth_client_configs(url: str, name: str) -> list[ClientConfig]:
    """Clients that speak OAuth 2.1 for MCP need only the URL: they read the 401's
    ``resource_metadata``, register (client metadata document or dynamic registration), open
    MCPForge's consent page in a browser and keep a short-lived token bound to this endpoint."""
    generic = {"mcpServers": {name: {"type": "http", "url": url}}}
    desktop = {"mcpServers": {name: {"command": "npx", "args": ["-y", "mcp-remote", url]}}}
    return [
        ClientConfig("oauth-streamable-http", "OAuth: Streamable HTTP clients",
                     "mcp.json of clients with MCP OAuth support (no token to paste: sign in and consent in the "
                     "browser when asked)", "json", json.dumps(generic, indent=2)),
        ClientConfig("oauth-claude-code", "OAuth: Claude Code", "terminal, then /mcp to sign in", "shell",
                     f"claude mcp add --transport http {name} {url}"),
        ClientConfig("oauth-claude-desktop", "OAuth: Claude Desktop", "claude_desktop_config.json; mcp-remote "
                     "opens the consent page in your browser", "json", json.dumps(desktop, indent=2)),
    ]
