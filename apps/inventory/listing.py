"""How an MCP endpoint lists its tools: compact or stored definitions, full or search-first.
Pure: no Django import.

An environment carries its own switches (``Environment.compact_tools``, ``listing_mode``) and
each toolset may override them; what is not set falls back, toolset -> environment ->
``MCP_COMPACT_TOOLS`` / "full". The ``/search/`` path variant is always search-first.
"""

from __future__ import annotations

from dataclasses import dataclass

FULL = "full"
SEARCH_FIRST = "search-first"
MODES = (FULL, SEARCH_FIRST)
INHERIT = ""  # a toolset's "as its environment"


def effective(*, global_compact: bool, env_compact: bool | None, env_mode: str,
              toolset_compact: bool | None = None, toolset_mode: str = INHERIT) -> tuple[bool, str]:
    """(compact, mode) an endpoint serves. An unknown stored mode counts as search-first: it
    shows the least (fail closed), and every tool stays reachable through search and describe."""
    compact = toolset_compact if toolset_compact is not None else (
        env_compact if env_compact is not None else global_compact)
    mode = toolset_mode or env_mode or FULL
    return compact, mode if mode in MODES else SEARCH_FIRST


@dataclass(frozen=True)
class ToolsetView:
    """What the gateway needs of one toolset (kept in the project snapshot, one config version)."""

    slug: str
    name: str
    tool_names: frozenset[str]
    compact_tools: bool | None = None
    listing_mode: str = INHERIT
