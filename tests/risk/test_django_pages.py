"""Risk pages: the Security Score panel on the project page, the findings page with its
filters, and "How the score works"."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from apps.inventory.selectors import tool_by_name
from apps.risk import selectors, services
from apps.risk.score import FORMULA_MARKDOWN
from tests.factories import import_spec, make_project


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner)
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


def _pages(org, project):
    return {
        "project": reverse("projects:detail", args=[org.slug, project.slug]),
        "findings": reverse("risk:findings", args=[org.slug, project.slug]),
        "score": reverse("risk:score", args=[org.slug, project.slug]),
    }


def test_project_page_shows_the_score_panel_after_the_spec_panel(people, petstore, client_for):
    page = client_for(people.viewer).get(_pages(people.org, petstore)["project"]).content.decode()
    score, findings = selectors.project_score(petstore)
    assert page.index('data-testid="spec-panel"') < page.index('data-testid="risk-panel"')
    assert f'data-score="{score["score"]}"' in page  # the SVG gauge
    assert "<svg" in page and "stroke-dasharray" in page
    assert 'data-testid="category-bar-critical"' in page and 'data-testid="risk-bar-high"' in page
    top = re.findall(r'data-testid="top-findings".*?</ul>', page, re.S)[0]
    assert findings[0]["code"] in top
    assert f"{len(findings)} findings" in page


def test_project_panel_without_a_spec_has_an_empty_state(people, client_for):
    project = make_project(people.org, people.owner, name="Empty")
    page = client_for(people.viewer).get(_pages(people.org, project)["project"]).content.decode()
    assert 'data-testid="risk-panel"' in page and "No score yet" in page


def test_findings_page_lists_findings_with_linked_tools(people, petstore, client_for):
    page = client_for(people.viewer).get(_pages(people.org, petstore)["findings"]).content.decode()
    _, findings = selectors.project_score(petstore)
    assert page.count('data-testid="finding"') == len(findings)
    detail = reverse("inventory:detail", args=[people.org.slug, petstore.slug, "loginUser"])
    assert f'href="{detail}"' in page  # credentials_in_query names loginUser
    assert "Remediation:" in page
    assert 'data-testid="override-list"' in page and "No overrides" in page


def test_findings_filters(people, petstore, client_for):
    client = client_for(people.viewer)
    url = _pages(people.org, petstore)["findings"]
    high = client.get(url, {"severity": "high"}).content.decode()
    severities = set(re.findall(r'data-testid="finding" data-code="[^"]+" data-severity="(\w+)"', high))
    assert severities == {"high"}
    quality = client.get(url, {"category": "quality"}).content.decode()
    codes = re.findall(r'data-testid="finding" data-code="([^"]+)"', quality)
    assert codes and all(code.startswith("quality.") for code in codes)
    none = client.get(url, {"severity": "info"}).content.decode()
    assert "No finding matches these filters" in none


def test_findings_page_shows_overrides(people, petstore, client_for):
    services.risk_override_set(tool=tool_by_name(petstore, "logoutUser"), actor=people.admin,
                               category="side_effect", risk_level="low",
                               justification="Logging out only ends the agent's own session.")
    page = client_for(people.viewer).get(_pages(people.org, petstore)["findings"]).content.decode()
    assert "GET /user/logout" in page and "ends the agent&#x27;s own session" in page
    assert "admin@acme.test" in page


def test_findings_page_query_count(people, petstore, client_for, django_assert_max_num_queries):
    client = client_for(people.viewer)
    url = _pages(people.org, petstore)["findings"]
    client.get(url)
    with django_assert_max_num_queries(14):
        assert client.get(url).status_code == 200


def test_score_page_renders_the_formula_and_the_deductions(people, petstore, client_for):
    page = client_for(people.viewer).get(_pages(people.org, petstore)["score"]).content.decode()
    score, _ = selectors.project_score(petstore)
    assert "<h5" in page and "How the Security Score is computed" in page
    assert "<code>description_poisoning</code>" in page and "<ol>" in page and "<table" in page
    assert "**" not in page.split('data-testid="formula"')[1].split("</div>")[0]  # Markdown rendered
    deductions = page.split('data-testid="deductions"')[1]
    for d in score["deductions"]:
        assert d["code"] in deductions
    assert f"= {score['score']}" in deductions
    assert "Every deduction is listed" in page and len(FORMULA_MARKDOWN) > 500


@pytest.mark.parametrize("name", ["project", "findings", "score"])
def test_outsiders_get_404(people, petstore, client_for, name):
    assert client_for(people.outsider).get(_pages(people.org, petstore)[name]).status_code == 404


@pytest.mark.parametrize("role", ["viewer", "member", "reviewer", "admin", "owner"])
def test_every_member_may_read_the_findings(people, petstore, client_for, role):
    # project.view is the lowest capability: no role is too weak to read findings
    pages = _pages(people.org, petstore)
    client = client_for(people.by_role(role))
    assert client.get(pages["findings"]).status_code == 200
    assert client.get(pages["score"]).status_code == 200


def test_findings_pages_refuse_post(people, petstore, client_for):
    pages = _pages(people.org, petstore)
    assert client_for(people.admin).post(pages["findings"]).status_code == 405


def test_anonymous_is_sent_to_login(petstore, people, client):
    response = client.get(_pages(people.org, petstore)["findings"])
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
