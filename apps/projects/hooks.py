"""What projects calls in apps above it, registered in their AppConfig.ready (projects never
imports them: dependencies point down, see README "Architecture").

* ``ENVIRONMENT_CREATED``: called with ``project`` and ``environment`` inside the transaction
  that created it (apps.governance pins the definitions of the tools on by default there).
"""

from __future__ import annotations

from collections.abc import Callable

ENVIRONMENT_CREATED: list[Callable[..., None]] = []
