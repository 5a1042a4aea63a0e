"""What the import calls in apps above specs, registered in their AppConfig.ready (specs never
imports inventory, risk, governance or credentials: dependencies point down, see README
"Architecture").

``analysis_queue()``: the callable (version id) that queues the analysis of a stored version,
provided by apps.risk (its Celery task ``apps.specs.tasks.analyse_spec_version``, the name kept
from when it lived here). Unset is an error: an import is never stored with nothing to analyse it.

``VERSION_ANALYSED``: {name: hook(*, project, version, security_schemes)}, run in
``VERSION_ANALYSED_ORDER`` inside the transaction that stores an analysed version:
"governance" (every environment keeps serving the definition an admin enabled: changes wait for
review), then "credentials" (stored keys follow a placement this version moved). Both must be
registered; a missing one is an error, never an import that silently skipped it.
"""

from __future__ import annotations

from collections.abc import Callable

_analysis_queue: Callable[[int], None] | None = None


def provide_analysis_queue(queue: Callable[[int], None]) -> None:
    global _analysis_queue
    _analysis_queue = queue


def analysis_queue() -> Callable[[int], None]:
    if _analysis_queue is None:
        raise RuntimeError("No spec analysis: apps.risk is not installed or not ready.")
    return _analysis_queue


VERSION_ANALYSED_ORDER = ("governance", "credentials")
VERSION_ANALYSED: dict[str, Callable[..., None]] = {}


def version_analysed(*, project, version, security_schemes: dict) -> None:
    missing = [name for name in VERSION_ANALYSED_ORDER if name not in VERSION_ANALYSED]
    if missing:
        raise RuntimeError(f"Import hooks not registered: {', '.join(missing)}.")
    for name in VERSION_ANALYSED_ORDER:
        VERSION_ANALYSED[name](project=project, version=version, security_schemes=security_schemes)
