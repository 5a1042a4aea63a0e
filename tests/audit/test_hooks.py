"""The audit reads organizations and token prefixes through apps/audit/hooks.py, provided by
apps.accounts (audit imports only apps.core): a missing provider is an error, never a
verification of fewer organizations."""

import pytest

from apps.audit import hooks


def test_accounts_provide_the_organizations_and_token_prefixes():
    assert hooks._organizations is not None and hooks._token_prefixes is not None


def test_a_missing_provider_is_an_error(monkeypatch):
    monkeypatch.setattr(hooks, "_organizations", None)
    monkeypatch.setattr(hooks, "_token_prefixes", None)
    with pytest.raises(RuntimeError, match="accounts"):
        hooks.organizations()
    with pytest.raises(RuntimeError, match="accounts"):
        hooks.token_prefixes(None, "mcpf_")
