"""The import hands an analysed version to governance and credentials through specs/hooks.py
(specs never imports them): both registered, in order, and a missing one is an error."""

import pytest

from apps.specs import hooks


def test_governance_and_credentials_follow_every_import():
    from apps.credentials.services import credentials_after_import
    from apps.governance.services import definitions_after_import

    assert hooks.VERSION_ANALYSED == {"governance": definitions_after_import,
                                      "credentials": credentials_after_import}


def test_a_missing_hook_is_an_error(monkeypatch):
    calls = []
    monkeypatch.setattr(hooks, "VERSION_ANALYSED", {"governance": lambda **kw: calls.append(kw)})
    with pytest.raises(RuntimeError, match="credentials"):
        hooks.version_analysed(project=None, version=None, security_schemes={})
    assert calls == []  # nothing half-done
