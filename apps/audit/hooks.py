"""What the audit log reads from the accounts app, provided in its AppConfig.ready (audit is
usable by every app and itself imports only apps.core: see README "Architecture").

* ``organizations()``: every organization (a queryset of ``accounts.Organization``), provided by
  apps.accounts. ``audit_verify``, ``audit_checkpoint`` and ``audit_checkpoint_all`` walk them all,
  not only those audit's own tables name: an organization whose events, head row and checkpoints
  were all removed must still be reported, never skipped.
* ``token_prefixes(organization, startswith)``: the full ``mcpf_`` prefixes of the organization's
  API tokens starting with ``startswith`` (at most 20), provided by apps.accounts: the audit
  search by actor finds the events of a token named by the start of its prefix.

Unset is an error: the audit never quietly verifies fewer organizations or finds fewer events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_organizations: Callable[[], Any] | None = None
_token_prefixes: Callable[[Any, str], list[str]] | None = None


def provide_accounts(*, organizations: Callable[[], Any], token_prefixes: Callable[[Any, str], list[str]]) -> None:
    global _organizations, _token_prefixes
    _organizations, _token_prefixes = organizations, token_prefixes


def organizations():
    if _organizations is None:
        raise RuntimeError("No organization provider: apps.accounts is not installed or not ready.")
    return _organizations()


def token_prefixes(organization, startswith: str) -> list[str]:
    if _token_prefixes is None:
        raise RuntimeError("No token provider: apps.accounts is not installed or not ready.")
    return _token_prefixes(organization, startswith)
