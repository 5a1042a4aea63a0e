"""The live Security Score reads governance and credentials through risk/hooks.py (risk never
imports them); every table it must watch is provided, and a missing provider is an error."""

import pytest

from apps.risk import hooks


def test_governance_and_credentials_provide_what_the_score_reads():
    from apps.governance.selectors import governance_facts

    assert hooks._governance_facts is governance_facts
    assert hooks.REQUIRED_SOURCES <= set(hooks.SCORE_SOURCES)
    assert len(hooks.OVERRIDE_CHANGED) == 1


def test_a_missing_source_or_provider_is_an_error(monkeypatch):
    monkeypatch.setattr(hooks, "SCORE_SOURCES", {k: v for k, v in hooks.SCORE_SOURCES.items() if k != "secret"})
    with pytest.raises(RuntimeError, match="secret"):
        hooks.score_sources(project=None)
    monkeypatch.setattr(hooks, "_governance_facts", None)
    with pytest.raises(RuntimeError, match="governance"):
        hooks.governance_facts(None)
