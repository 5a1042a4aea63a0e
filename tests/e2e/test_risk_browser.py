"""A security reviewer reads the Security Score on the project page, filters the findings,
and an admin overrides a tool's classification; the score follows a new approval policy
on the next page load."""

import pytest
from django.core.cache import cache

from apps.governance.services import policy_create, tool_set_enabled
from apps.inventory.models import Tool
from apps.risk.models import RiskOverride
from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.factories import import_spec, make_project


def _score(page) -> int:
    return int(page.locator("[data-testid=risk-panel] [data-testid=score-gauge]").get_attribute("data-score"))


@pytest.mark.django_db(transaction=True)
def test_score_panel_findings_and_override(page, live_server, shot, people):
    cache.clear()
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    dev = project.environments.get(slug="development")
    tool_set_enabled(project=project, environment=dev, operation_keys=["DELETE /pet/{petId}"], enabled=True,
                     actor=people.owner, reason="confirmed in test")
    base = f"{live_server.url}/o/{people.org.slug}/p/{project.slug}"

    login(page, live_server, people.admin.email, PASSWORD)
    page.goto(f"{base}/")
    panel = page.locator("[data-testid=risk-panel]")
    panel.wait_for()
    assert panel.locator("svg[data-testid=score-gauge]").is_visible()
    before = _score(page)
    assert "critical_tool_without_approval" in panel.locator("[data-testid=top-findings]").inner_text()
    critical = Tool.objects.filter(project=project, category="critical").count()
    assert panel.locator("[data-testid=category-bar-critical]").inner_text().split() == ["Critical", str(critical)]
    panel.scroll_into_view_if_needed()
    shot(page, "risk-01-dashboard-panel")

    # findings page, filtered to high severity
    page.click("[data-testid=open-findings]")
    page.locator("[data-testid=finding-list]").wait_for()
    total = page.locator("[data-testid=finding]").count()
    assert total > 5
    page.select_option("#f-severity", "high")
    page.click("[data-testid=filter-findings]")
    page.wait_for_url("**severity=high**")
    shown = page.locator("[data-testid=finding]")
    assert 0 < shown.count() < total
    assert {shown.nth(i).get_attribute("data-severity") for i in range(shown.count())} == {"high"}
    shot(page, "risk-02-findings-high")

    # an affected tool is one click away; the admin overrides it there
    page.locator("[data-testid=finding][data-code=credentials_in_query] [data-testid=affected-tools] a",
                 has_text="loginUser").click()
    page.locator("[data-testid=tool-name]").wait_for()
    assert page.inner_text("[data-testid=tool-name]") == "loginUser"
    card = page.locator("[data-testid=override-card]")
    card.locator("select[name=category]").select_option("side_effect")
    card.locator("select[name=risk_level]").select_option("medium")
    card.locator("[data-testid=override-submit]").click()  # no justification: refused with a reason
    page.locator(".alert", has_text="A justification is required").wait_for()
    assert not RiskOverride.objects.exists()
    card = page.locator("[data-testid=override-card]")
    card.locator("select[name=category]").select_option("side_effect")
    card.locator("select[name=risk_level]").select_option("medium")
    card.locator("textarea[name=justification]").fill("Logs in the agent's own service account only.")
    card.locator("[data-testid=override-submit]").click()
    page.locator("[data-testid=overridden-badge]").wait_for()
    details = page.inner_text("[data-testid=override-details]")
    assert "Logs in the agent's own service account only." in details and "by admin@acme.test" in details
    assert "Overridden by admin@acme.test" in page.content()
    shot(page, "risk-03-tool-overridden")

    # a new approval policy: the score rises on the next load, no re-import
    policy_create(project=project, actor=people.owner, name="Critical tools need a reviewer", kind="single",
                  categories=["critical"])
    page.goto(f"{base}/")
    page.locator("[data-testid=risk-panel]").wait_for()
    after = _score(page)
    assert after > before, (before, after)
    assert "critical_tool_without_approval" not in page.inner_text("[data-testid=top-findings]")
    assert "1 overridden by an admin" in page.inner_text("[data-testid=risk-panel]")
    page.locator("[data-testid=risk-panel]").scroll_into_view_if_needed()
    shot(page, "risk-04-dashboard-after-policy")

    page.click("text=How the score works")
    page.locator("[data-testid=formula] ol").wait_for()
    assert f"= {after}" in page.inner_text("[data-testid=deductions]")
    shot(page, "risk-05-how-the-score-works")
