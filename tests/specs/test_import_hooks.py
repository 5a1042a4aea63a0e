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


def test_risk_queues_the_analysis_under_the_task_name_it_always_had():
    from apps.risk import tasks

    assert hooks._analysis_queue is not None
    assert tasks.analyse_spec_version.name == "apps.specs.tasks.analyse_spec_version"


@pytest.mark.django_db
def test_without_an_analysis_queue_an_import_is_refused(people, monkeypatch):
    from apps.specs.models import SpecVersion
    from apps.specs.services import spec_import
    from tests.factories import make_project

    project = make_project(people.org, people.owner)
    monkeypatch.setattr(hooks, "_analysis_queue", None)
    with pytest.raises(RuntimeError, match="analysis"):
        spec_import(project=project, data=b"openapi: 3.0.0", source="cli", actor=people.owner)
    assert not SpecVersion.objects.filter(project=project).exists()  # nothing stored unanalysed
