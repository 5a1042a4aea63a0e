"""Issue 23 item 4: PUT of tool states is one transaction. When the "off" half is refused, the
"on" half it carried is not kept: no setting row, no audit event."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.governance.models import ToolSetting
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_a_refused_half_leaves_nothing_written(people, api_for):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    url = f"/api/v1/projects/{project.public_id}/environments/staging/tools/"
    api = api_for(people.admin)  # creates the admin's token (audited) first
    rows, events = ToolSetting.objects.count(), AuditEvent.objects.count()
    response = api.put(url, {"tools": [{"operation_key": "GET /pet/{petId}", "enabled": True},
                                                         {"operation_key": "GET /nowhere", "enabled": False}]},
                                         format="json")
    assert response.status_code == 400 and "Unknown tool" in response.json()["detail"]
    assert ToolSetting.objects.count() == rows
    assert AuditEvent.objects.count() == events


def test_both_halves_succeed_together(people, api_for, audit_types):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    url = f"/api/v1/projects/{project.public_id}/environments/staging/tools/"
    response = api_for(people.admin).put(url, {"tools": [{"operation_key": "GET /pet/{petId}", "enabled": True},
                                                         {"operation_key": "GET /store/inventory", "enabled": False}]},
                                         format="json")
    assert response.status_code == 200
    states = {t["operation_key"]: t["enabled"] for t in response.json()["tools"]}
    assert states["GET /pet/{petId}"] is True and states["GET /store/inventory"] is False
    assert audit_types(people.org)[-2:] == ["tool.enabled", "tool.disabled"]
