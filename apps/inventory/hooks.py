"""What the inventory needs from apps above it, filled in their AppConfig.ready (the inventory
never imports them: dependencies point down, see README "Architecture").

* ``enabled_map(environment, tools)``: {operation_key: enabled} in an environment, provided by
  apps.governance. Unset is an error, never "every tool enabled" (fail closed, loudly).
* ``search_first_listing()``: the definitions a search-first endpoint lists (its meta-tools and
  the approval-status tool), provided by apps.gateway; the token bill counts them.
* ``toolset_bill(project, version)``: the token bill of the project's toolsets (rows as
  apps.toolsets.selectors.toolset_token_bill), provided by apps.toolsets.
* ``TOOL_RENAMED``: called with the renamed tool inside the rename's transaction
  (apps.governance: pinned definitions follow the new name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_enablement: Callable[[Any, Iterable[Any]], dict[str, bool]] | None = None
_search_first_listing: Callable[[], list[dict[str, Any]]] | None = None
_toolset_bill: Callable[[Any, Any], list[dict[str, Any]]] | None = None
TOOL_RENAMED: list[Callable[..., None]] = []


def provide_enablement(provider: Callable[[Any, Iterable[Any]], dict[str, bool]]) -> None:
    global _enablement
    _enablement = provider


def enabled_map(environment, tools) -> dict[str, bool]:
    if _enablement is None:
        raise RuntimeError("No tool enablement provider: apps.governance is not installed or not ready.")
    return _enablement(environment, tools)


def provide_search_first_listing(provider: Callable[[], list[dict[str, Any]]]) -> None:
    global _search_first_listing
    _search_first_listing = provider


def search_first_listing() -> list[dict[str, Any]]:
    if _search_first_listing is None:
        raise RuntimeError("No search-first listing provider: apps.gateway is not installed or not ready.")
    return _search_first_listing()


def provide_toolset_bill(provider: Callable[[Any, Any], list[dict[str, Any]]]) -> None:
    global _toolset_bill
    _toolset_bill = provider


def toolset_bill(project, version) -> list[dict[str, Any]]:
    if _toolset_bill is None:
        raise RuntimeError("No toolset token bill provider: apps.toolsets is not installed or not ready.")
    return _toolset_bill(project, version)
