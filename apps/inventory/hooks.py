"""What the inventory needs from apps above it, filled in their AppConfig.ready (the inventory
never imports them: dependencies point down, see README "Architecture").

* ``enabled_map(environment, tools)``: {operation_key: enabled} in an environment, provided by
  apps.governance. Unset is an error, never "every tool enabled" (fail closed, loudly).
* ``TOOL_RENAMED``: called with the renamed tool inside the rename's transaction
  (apps.governance: pinned definitions follow the new name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_enablement: Callable[[Any, Iterable[Any]], dict[str, bool]] | None = None
TOOL_RENAMED: list[Callable[..., None]] = []


def provide_enablement(provider: Callable[[Any, Iterable[Any]], dict[str, bool]]) -> None:
    global _enablement
    _enablement = provider


def enabled_map(environment, tools) -> dict[str, bool]:
    if _enablement is None:
        raise RuntimeError("No tool enablement provider: apps.governance is not installed or not ready.")
    return _enablement(environment, tools)
