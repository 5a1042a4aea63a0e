"""What the live Security Score reads from apps above risk, provided in their AppConfig.ready
(risk never imports them: dependencies point down, see README "Architecture").

* ``governance_facts(project)``: the facts the governance findings need (apps.governance).
* ``SCORE_SOURCES``: {label: project -> queryset} of every table above risk whose changes the
  cached live score must notice (apps.governance: settings, grants, policies; apps.credentials:
  credentials, secrets). ``REQUIRED_SOURCES`` must all be there: a missing one would leave a
  stale score in the cache, so it is an error.
* ``OVERRIDE_CHANGED``: called with ``project`` after a risk override changed the categories
  (apps.governance pins the tools that became on by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_governance_facts: Callable[[Any], Any] | None = None
SCORE_SOURCES: dict[str, Callable[[Any], Any]] = {}
REQUIRED_SOURCES = frozenset({"setting", "grant", "policy", "credential", "secret"})
OVERRIDE_CHANGED: list[Callable[..., None]] = []


def provide_governance_facts(provider: Callable[[Any], Any]) -> None:
    global _governance_facts
    _governance_facts = provider


def governance_facts(project) -> Any:
    if _governance_facts is None:
        raise RuntimeError("No governance facts provider: apps.governance is not installed or not ready.")
    return _governance_facts(project)


def score_sources(project) -> list[tuple[str, Any]]:
    missing = REQUIRED_SOURCES - set(SCORE_SOURCES)
    if missing:
        raise RuntimeError(f"Score sources not provided: {', '.join(sorted(missing))}.")
    return [(label, SCORE_SOURCES[label](project)) for label in sorted(SCORE_SOURCES)]
