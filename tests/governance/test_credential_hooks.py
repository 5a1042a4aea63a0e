"""Governance reads credential state through apps/governance/hooks.py, provided by
apps.credentials (governance never imports it): a missing provider is an error, never
"no credentials"."""

import pytest

from apps.governance import hooks


def test_credentials_provide_their_state():
    from apps.credentials import selectors

    assert hooks._credential_ages is selectors.active_credential_ages
    assert hooks._stale_credentials is selectors.stale_credential_count


def test_a_missing_provider_is_an_error(monkeypatch):
    monkeypatch.setattr(hooks, "_credential_ages", None)
    monkeypatch.setattr(hooks, "_stale_credentials", None)
    with pytest.raises(RuntimeError, match="credentials"):
        hooks.active_credential_ages(None)
    with pytest.raises(RuntimeError, match="credentials"):
        hooks.stale_credential_count(None)
