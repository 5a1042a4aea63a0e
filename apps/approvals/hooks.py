"""What approvals calls in apps above it, provided in their AppConfig.ready (approvals never
imports them: dependencies point down, see README "Architecture").

* ``execute_call(*, tool, environment, arguments)``: make an approved call upstream, provided
  by apps.gateway (``apps.gateway.upstream.execute_call``). Unset is an error: an approved call
  is never reported as run when nothing could run it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_executor: Callable[..., Any] | None = None


def provide_executor(executor: Callable[..., Any]) -> None:
    global _executor
    _executor = executor


def execute_call(*, tool, environment, arguments: dict) -> Any:
    if _executor is None:
        raise RuntimeError("No upstream executor: apps.gateway is not installed or not ready.")
    return _executor(tool=tool, environment=environment, arguments=arguments)
