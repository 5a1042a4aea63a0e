"""Issue 23 item 2: when governance cannot be imported, the token bill fails loudly instead of
treating every tool as enabled."""

import sys

import pytest

from apps.inventory.selectors import environment_token_bill, token_cost_by_environment
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_missing_governance_is_an_error_not_every_tool_enabled(people, monkeypatch):
    project = make_project(people.org, people.owner)
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    monkeypatch.setitem(sys.modules, "apps.governance.selectors", None)  # makes the import raise
    with pytest.raises(ImportError):
        token_cost_by_environment(project, version)
    with pytest.raises(ImportError):
        environment_token_bill(project, version)
