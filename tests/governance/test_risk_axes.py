"""Issue 18, item 2: two axes (category and risk level). Suggestions follow the risk level too,
and their names say which axis they use."""

import pytest

from apps.governance import selectors, services
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_a_high_risk_read_only_tool_gets_a_risk_level_suggestion(people, client_for):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    suggestions = {s.key: s for s in selectors.suggested_policies(project)}
    # category suggestions are named for the category axis
    assert suggestions["category:critical"].name == "Critical-category tools: single approval"
    risky = suggestions["risk:high"]
    assert "getUserByName" in risky.tools and risky.approvals_required == 1
    assert all(t.category not in selectors.SENSITIVE_CATEGORIES
               for t in selectors.current_tools(project) if t.name in risky.tools)
    page = client_for(people.admin).get(f"/o/{people.org.slug}/p/{project.slug}/governance/policies/")
    html = page.content.decode()
    assert "High- or critical-risk tools: single approval" in html
    assert "Two axes" in html  # the category / risk level explanation
    services.accept_suggested_policies(project=project, actor=people.admin)
    assert selectors.suggested_policies(project) == []
    assert selectors.unguarded_findings(project) == []
