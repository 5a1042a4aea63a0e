"""What governance reads from apps above it, provided in their AppConfig.ready (governance never
imports them: dependencies point down, see README "Architecture").

* ``active_credential_ages(project)``: {environment id: {scheme name: age in days}} of the
  project's credentials that have an active secret, provided by apps.credentials (one query);
  the Security Score's credential facts. Unset is an error, never "no credentials".
* ``stale_credential_count(project)``: how many of the project's credentials are older than
  CREDENTIAL_MAX_AGE_DAYS (the project page's governance panel), provided by apps.credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_credential_ages: Callable[[Any], dict[int, dict[str, int]]] | None = None
_stale_credentials: Callable[[Any], int] | None = None


def provide_credentials(*, ages: Callable[[Any], dict[int, dict[str, int]]],
                        stale_count: Callable[[Any], int]) -> None:
    global _credential_ages, _stale_credentials
    _credential_ages, _stale_credentials = ages, stale_count


def active_credential_ages(project) -> dict[int, dict[str, int]]:
    if _credential_ages is None:
        raise RuntimeError("No credential provider: apps.credentials is not installed or not ready.")
    return _credential_ages(project)


def stale_credential_count(project) -> int:
    if _stale_credentials is None:
        raise RuntimeError("No credential provider: apps.credentials is not installed or not ready.")
    return _stale_credentials(project)
