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


def test_no_internal_values_on_grants_and_policies(people, client_for):
    """Issue 18, item 12: "category read_only" and "→ 0" never reach the page."""
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    services.grant_create(project=project, actor=people.admin, effect="allow", principal_kind="role", role="member",
                          categories=["read_only", "side_effect"])
    services.policy_create(project=project, actor=people.admin, name="Orders", kind="single", tags=["store"],
                           conditional_tiers=[{"when": [{"field": "quantity", "operator": "<", "value": 2}],
                                               "approvals": 0}])
    client = client_for(people.admin)
    base = f"/o/{people.org.slug}/p/{project.slug}/governance"
    grants = client.get(f"{base}/grants/").content.decode()
    shown = grants.replace('value="read_only"', "").replace('value="side_effect"', "")  # form option values
    assert "read_only" not in shown and "side_effect" not in shown
    assert ">read-only</span>" in grants
    policies = client.get(f"{base}/policies/").content.decode()
    assert "→ 0" not in policies and "no approval" in policies
