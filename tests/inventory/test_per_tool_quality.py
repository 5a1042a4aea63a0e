"""Issue 18, item 11: a finding naming every tool is project-wide; the per-tool quality marker
(the yellow icon in the inventory) shows only findings about that tool."""

import pytest

from apps.inventory.selectors import current_tools
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_project_wide_findings_are_not_repeated_per_tool(people, client_for):
    project = make_project(people.org, people.owner, name="Petstore")
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    # the finding is still reported once, for the project
    assert any(f["code"] == "missing_rate_limit_response" for f in version.findings)
    tools = list(current_tools(project))
    assert not any("missing_rate_limit_response" in (t.quality or []) for t in tools)
    marked = [t.name for t in tools if t.quality]
    assert 0 < len(marked) < len(tools), marked  # per-tool findings still mark their tools
    page = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/tools/").content.decode()
    assert page.count("bi-exclamation-circle text-warning") == len(marked)
