"""Search-first listings: a few meta-tools instead of the whole catalogue. Pure: no Django import.

An endpoint in search-first mode (``/mcp/<org>/<project>/<environment>/search/``) lists only
``meta_tool_definitions()``: the approval-status tool plus search, describe and call. They work
on the caller's own listing, so an agent can never find, describe or call through them a tool
it could not list directly, and ``mcpforge_call_tool`` goes through the gateway's ordinary call
path under the underlying tool's name (grants, enablement, approval policies, rate limits,
audit rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .results import BUILTIN_DESCRIBE_TOOL

SEARCH_TOOL = "mcpforge_search_tools"
CALL_TOOL = "mcpforge_call_tool"
META_TOOLS = frozenset({SEARCH_TOOL, BUILTIN_DESCRIBE_TOOL, CALL_TOOL})
MAX_RESULTS = 20
MAX_QUERY_CHARS = 200
_WORD = re.compile(r"[a-z0-9]+")
_SPLIT_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

SEARCH_DEFINITION: dict[str, Any] = {
    "name": SEARCH_TOOL,
    "description": (
        "Search the tools of this API you may call, by words (name, description, tags) and optionally "
        f"category. Returns up to {MAX_RESULTS} names with a one-line description; then describe one "
        f"with {BUILTIN_DESCRIBE_TOOL} and call it with {CALL_TOOL}."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words to look for, e.g. 'refund payment'"},
            "category": {"type": "string", "description": "Optional: read_only, write, destructive, financial, ..."},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    "annotations": {"title": "Search tools", "readOnlyHint": True, "destructiveHint": False,
                    "idempotentHint": True, "openWorldHint": False},
}

DESCRIBE_DEFINITION: dict[str, Any] = {
    "name": BUILTIN_DESCRIBE_TOOL,
    "description": "The full definition (inputSchema, outputSchema) of one tool found with the search.",
    "inputSchema": {
        "type": "object",
        "properties": {"name": {"type": "string", "description": "A tool name from the search"}},
        "required": ["name"],
        "additionalProperties": False,
    },
    "annotations": {"title": "Describe a tool", "readOnlyHint": True, "destructiveHint": False,
                    "idempotentHint": True, "openWorldHint": False},
}

CALL_DEFINITION: dict[str, Any] = {
    "name": CALL_TOOL,
    "description": (
        "Call a tool found with the search by name, with arguments matching its inputSchema. The call "
        "is governed exactly like a direct call: it may be refused or held for human approval."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The tool to call"},
            "arguments": {"type": "object", "description": "Its arguments"},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    "annotations": {"title": "Call a tool", "readOnlyHint": False, "destructiveHint": True,
                    "idempotentHint": False, "openWorldHint": True},
}


def meta_tool_definitions(status_definition: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """What tools/list shows in search-first mode, whatever the API size."""
    head = [status_definition] if status_definition else []
    return [*head, SEARCH_DEFINITION, DESCRIBE_DEFINITION, CALL_DEFINITION]


def _words(text: str) -> set[str]:
    return set(_WORD.findall(_SPLIT_CAMEL.sub(" ", text).replace("_", " ").lower()))


def search(entries: Iterable[dict[str, Any]], query: str, category: str = "") -> list[dict[str, Any]]:
    """``entries``: ``{"name", "description", "category", "category_tags", "tags"}`` of the tools
    the caller may list. A tool matches when every query word is in its name, description or
    tags (and the category, when given, is its category or one of its category tags); those
    with more words in the name come first, then document order."""
    wanted = _words(query[:MAX_QUERY_CHARS])
    found = []
    for position, entry in enumerate(entries):
        if category and category != entry.get("category") and category not in (entry.get("category_tags") or ()):
            continue
        name_words = _words(entry["name"])
        words = name_words | _words(entry.get("description") or "") | _words(" ".join(entry.get("tags") or ()))
        if wanted and not wanted <= words:
            continue
        found.append((-len(wanted & name_words), position, entry))
    found.sort(key=lambda item: item[:2])
    return [{"name": e["name"], "description": (e.get("description") or "").split("\n", 1)[0][:200],
             "category": e.get("category") or ""} for _, _, e in found[:MAX_RESULTS]]
