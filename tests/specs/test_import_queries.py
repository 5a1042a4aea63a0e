"""Importing a large spec takes a bounded number of queries, whatever its size: tool rows,
pins and audit events are written in bulk, never one statement per tool (Box: 296 operations)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.governance.models import ToolSetting
from apps.inventory.selectors import current_tools
from apps.risk.analysis import spec_analyse
from apps.specs.models import SpecVersion
from apps.specs.services import spec_import
from tests.conftest import SPECS_DIR
from tests.factories import make_project

# Box's first import and re-import take 34-35 today; one query per tool or per pin would be 300+.
MAX_QUERIES = 45


def _analyse_counting(project, data: bytes, actor) -> tuple[SpecVersion, int]:
    version = spec_import(project=project, data=data, source=SpecVersion.Source.CLI, filename="box.json",
                          actor=actor, run_async=False)
    with CaptureQueriesContext(connection) as queries:
        spec_analyse(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == SpecVersion.Status.READY, version.error
    return version, len(queries)


def _box_changed() -> bytes:
    """Box with every operation's description changed: every pinned definition changes."""
    document = json.loads((SPECS_DIR / "box.json").read_bytes())
    for item in document["paths"].values():
        for method, operation in item.items():
            if isinstance(operation, dict) and method in ("get", "put", "post", "delete", "patch", "options", "head"):
                operation["description"] = (operation.get("description") or "") + " Changed."
    return json.dumps(document).encode()


@pytest.mark.django_db
def test_box_import_and_reimport_take_a_bounded_number_of_queries(people):
    project = make_project(people.org, people.owner, name="Box")
    data = (SPECS_DIR / "box.json").read_bytes()

    first, count = _analyse_counting(project, data, people.owner)
    assert first.tool_count == 296
    assert count <= MAX_QUERIES
    pins = ToolSetting.objects.filter(project=project, by_default=True).count()
    assert pins > 50  # the risk default pins many tools: per-pin writes would show in the count

    # the same document again: every pin moves to the new rows
    second, count = _analyse_counting(project, data, people.owner)
    assert count <= MAX_QUERIES
    new_ids = set(current_tools(project).values_list("pk", flat=True))
    settings = list(ToolSetting.objects.filter(project=project, enabled=True))
    assert len(settings) == pins
    assert all(s.pinned_tool_id in new_ids and s.pending_tool_id is None for s in settings)
    assert not AuditEvent.objects.filter(organization=people.org, event_type="tool.definition_changed").exists()

    # every description changed: a pin whose definition changed stays and the new row waits for
    # review (one event each); one whose definition did not moves to the new row
    before = AuditEvent.objects.filter(organization=people.org).count()
    third, count = _analyse_counting(project, _box_changed(), people.owner)
    assert count <= MAX_QUERIES
    third_ids = set(current_tools(project).values_list("pk", flat=True))
    settings = list(ToolSetting.objects.filter(project=project, enabled=True))
    waiting = [s for s in settings if s.pending_tool_id is not None]
    assert len(waiting) > 50
    assert all(s.pinned_tool_id in new_ids and s.pending_tool_id in third_ids and s.pending_hash and s.pending_since
               for s in waiting)
    assert all(s.pinned_tool_id in third_ids for s in settings if s.pending_tool_id is None)
    changed = AuditEvent.objects.filter(organization=people.org, event_type="tool.definition_changed")
    assert sorted(e.payload["operation_key"] for e in changed) == sorted(s.operation_key for s in waiting)
    # plus the import's and the analysis's own events
    assert AuditEvent.objects.filter(organization=people.org).count() == before + len(waiting) + 2
