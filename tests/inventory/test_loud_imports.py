"""Issue 23 items 1 and 2: the inventory reads tool enablement through the hook governance
fills in (apps/inventory/hooks.py); without it the token bill fails loudly instead of treating
every tool as enabled."""

import pytest

from apps.inventory import hooks
from apps.inventory.selectors import environment_token_bill, token_cost_by_environment
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_governance_provides_enablement():
    from apps.governance.selectors import enabled_map

    assert hooks._enablement is enabled_map


def test_missing_enablement_is_an_error_not_every_tool_enabled(people, monkeypatch):
    project = make_project(people.org, people.owner)
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    monkeypatch.setattr(hooks, "_enablement", None)
    with pytest.raises(RuntimeError, match="enablement"):
        token_cost_by_environment(project, version)
    with pytest.raises(RuntimeError, match="enablement"):
        environment_token_bill(project, version)
