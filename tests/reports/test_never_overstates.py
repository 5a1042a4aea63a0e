"""The report never claims what is not true (issue 18, item 1): every checklist line and
summary figure uses the definitions the inventory shows (risk level *and* category).

A project is built where each governance claim is false; the PDF's text must say so.
"""

import pytest

from apps.inventory.models import Tool
from tests.factories import import_spec, make_project

from .conftest import build_report, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank_details(people):
    """Petstore with approval policies accepted for every sensitive category, and one read-only
    tool of *high* risk (it returns bank details) left enabled in development and staging."""
    from apps.governance import services as governance
    from apps.governance.selectors import suggested_policies

    project = make_project(people.org, people.owner, name="Bank details")
    import_spec(project, "petstore-v3.yaml", people.owner)
    # every *category* suggestion accepted; the risk-level one (issue 18 item 2) is not
    keys = [s.key for s in suggested_policies(project) if s.key.startswith("category:")]
    governance.accept_suggested_policies(project=project, actor=people.owner, keys=keys)
    Tool.objects.filter(project=project, name="getUserByName").update(risk_level="high")
    tool = Tool.objects.filter(project=project, name="getUserByName").first()
    result = governance.tool_set_enabled(project=project, environment=project.environments.get(slug="staging"),
                                         operation_keys=[tool.operation_key], enabled=True, actor=people.owner,
                                             reason="confirmed in test")
    assert result.findings == ["getUserByName (high risk) is enabled in staging without an approval policy."]
    return project


def test_a_high_risk_read_only_tool_without_approval_is_reported_uncovered(bank_details, people):
    from apps.governance import selectors as gov

    project = bank_details
    tool = Tool.objects.filter(project=project, name="getUserByName").first()
    assert tool.category == "read_only" and tool.risk_level == "high"
    # governance: the inventory's high risk makes it a finding where it is enabled
    envs = {f["environment"] for f in gov.unguarded_findings(project) if f["tool"] == tool.name}
    assert {"development", "staging"} <= envs

    report = build_report(project, people.owner)
    data = report.data
    assert tool.name in data["governance"]["approvals"]["uncovered_high_risk"]
    checks = {i["key"]: i for i in data["checklists"]["governance"]}
    assert checks["approval_workflows"]["status"] == "missing"
    # every other claim is false too: no credentials stored, no project facts
    for key in ("approval_workflows", "credential_storage", "rollback", "incident_response", "ownership"):
        assert checks[key]["status"] == "missing", key

    from apps.reports.selectors import report_pdf

    text = pdf_text(report_pdf(report))
    assert "cover every enabled" not in text
    assert "0 risky tools uncovered" not in text
    assert "enabled without an approval policy although of high or critical risk" in text
    assert tool.name in text.split("Approval workflow definitions", 1)[1][:600]
    assert "1 risky tool uncovered" in text or "risky tools uncovered" in text
    assert text.count("✗ MISSING") >= 5  # status badges are upper-cased by the stylesheet
    # the summary figure counts risk levels the inventory shows
    assert data["summary"]["by_risk"]["high"] >= 1
    # the two axes are explained once (issue 18 item 2)
    assert "Two axes: the category says what a call does" in text


def test_covering_the_high_risk_tool_makes_the_claim_true(bank_details, people):
    from apps.governance import services as governance
    from apps.reports.selectors import report_pdf

    project = bank_details
    key = Tool.objects.filter(project=project, name="getUserByName").first().operation_key
    governance.policy_create(project=project, actor=people.owner, name="Bank details", kind="single",
                             operation_keys=[key])
    report = build_report(project, people.owner)
    checks = {i["key"]: i for i in report.data["checklists"]["governance"]}
    assert checks["approval_workflows"]["status"] == "done", checks["approval_workflows"]
    text = pdf_text(report_pdf(report))
    assert "cover every enabled tool of high or critical risk" in text
    assert "0 risky tools uncovered" in text
