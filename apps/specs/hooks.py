"""What the import calls in apps above specs, registered in their AppConfig.ready (specs never
imports governance or credentials: dependencies point down, see README "Architecture").

``VERSION_ANALYSED``: {name: hook(*, project, version, security_schemes)}, run in
``VERSION_ANALYSED_ORDER`` inside the transaction that stores an analysed version:
"governance" (every environment keeps serving the definition an admin enabled: changes wait for
review), then "credentials" (stored keys follow a placement this version moved). Both must be
registered; a missing one is an error, never an import that silently skipped it.
"""

from __future__ import annotations

from collections.abc import Callable

VERSION_ANALYSED_ORDER = ("governance", "credentials")
VERSION_ANALYSED: dict[str, Callable[..., None]] = {}


def version_analysed(*, project, version, security_schemes: dict) -> None:
    missing = [name for name in VERSION_ANALYSED_ORDER if name not in VERSION_ANALYSED]
    if missing:
        raise RuntimeError(f"Import hooks not registered: {', '.join(missing)}.")
    for name in VERSION_ANALYSED_ORDER:
        VERSION_ANALYSED[name](project=project, version=version, security_schemes=security_schemes)
