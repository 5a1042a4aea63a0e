"""Reports built by the real Celery worker for real specs (Adyen Checkout, Box), read back
as text from the PDF a viewer downloads."""

import re

import pytest

from apps.audit.models import AuditEvent
from apps.inventory.models import Tool
from apps.reports.models import Report
from tests.conftest import wait_for
from tests.factories import import_spec, make_project

from .conftest import pdf_pages, pdf_text

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GOVERNANCE_CHECKLIST = ("Complete tool inventory", "Tool classification", "Risk scoring",
                        "Approval workflow definitions", "Credential storage documentation",
                        "Audit logging configuration", "Security review documentation", "Rollback procedures",
                        "Incident response plan", "Ownership assignment")
DOCUMENTATION_CHECKLIST = ("Architecture diagram", "Data-flow diagram", "Credential flows", "Risk assessment")


def checklist_marks(text: str) -> dict[str, str]:
    """{checklist item: "DONE" | "MISSING"} as printed in the PDF's checklist tables."""
    items = GOVERNANCE_CHECKLIST + DOCUMENTATION_CHECKLIST
    pattern = "(" + "|".join(re.escape(i) for i in items) + r") [✓✗] (DONE|MISSING)"
    return {m.group(1): m.group(2) for m in re.finditer(pattern, text)}


def generate_through_worker(client, project, environment="all") -> Report:
    response = client.post(f"/o/{project.organization.slug}/p/{project.slug}/reports/generate/",
                           {"environment": environment})
    assert response.status_code == 302
    report = Report.objects.filter(project=project).latest("created_at")

    def finished():
        report.refresh_from_db()
        return report.is_finished

    wait_for(finished, timeout=180, interval=0.5)
    assert report.status == Report.Status.READY, report.error
    return report


def download(client, report) -> bytes:
    response = client.get(f"/o/{report.project.organization.slug}/p/{report.project.slug}/reports/"
                          f"{report.public_id}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return response.content


def test_adyen_report_built_by_the_worker(report_worker, people, client_for):
    project = make_project(people.org, people.owner, name="Adyen Checkout")
    import_spec(project, "adyen-checkout-v71.json", people.owner)
    project.owner_contact = "payments-platform@acme.test"
    project.rollback_procedure = "Disable the payment tools in production, then re-import the previous spec."
    project.save()

    report = generate_through_worker(client_for(people.member), project)
    assert report.generated_by_label == "member@acme.test" and report.progress == 100
    assert report.stage == Report.Stage.DONE and report.finished_at and report.score is not None

    pdf = download(client_for(people.viewer), report)
    assert pdf == bytes(report.pdf)
    text = pdf_text(pdf)
    pages = pdf_pages(pdf)
    assert 12 <= pages <= 40 and pages == report.page_count

    # cover and summary: the score as a number out of 100, the spec, who generated it
    assert re.search(rf"\b{report.score}\s*/100\b", text)
    assert "Adyen Checkout API" in text and "member@acme.test" in text and "Acme" in text
    # named findings: no upstream credential is stored yet (governance), SSRF-prone parameters (spec)
    codes = {f["code"]: f for f in report.data["findings"]}
    assert codes["upstream_credentials_not_configured"]["severity"] == "high"
    assert "upstream_credentials_not_configured" in text and "ssrf_prone_parameter" in text
    assert codes["ssrf_prone_parameter"]["remediation"][:40] in text and "REMEDIATION" in text
    # a named billing tool in the inventory
    billing = Tool.objects.filter(project=project, spec_version=report.spec_version, category="billing")
    assert "post-payments" in set(billing.values_list("name", flat=True))
    assert re.search(r"\d+ post-payments (\d+/\d+ )?Billing (critical )?(CRITICAL|HIGH) Yes", text)  # tokens column
    assert "POST /payments " in text
    # both checklists, each item marked
    marks = checklist_marks(text)
    assert set(marks) == set(GOVERNANCE_CHECKLIST + DOCUMENTATION_CHECKLIST)
    assert marks["Ownership assignment"] == marks["Rollback procedures"] == marks["Complete tool inventory"] == "DONE"
    assert marks["Incident response plan"] == marks["Credential storage documentation"] == "MISSING"
    assert marks["Data-flow diagram"] == marks["Audit logging configuration"] == "DONE"
    assert "Auditing cannot be turned off" in text and "every call, always on" in text
    assert "Tool-call auditing" not in text   # the old per-environment on/off table: it was never a setting
    assert "payments-platform@acme.test" in text and "Not documented" in text  # incident response missing
    # structure: contents with page numbers, sections, diagram, appendix formula
    for heading in ("Contents", "1. Executive summary", "2. Tool inventory", "3. Findings", "4. Governance",
                    "6. Architecture and data flow", "Appendix A. Scoring formula", "Appendix B. Glossary"):
        assert heading in text, heading
    assert re.search(r"2\. Tool inventory[ .]+\d+", text)
    assert "MCPForge gateway" in text and "Credential vault" in text and "How the Security Score is computed" in text
    assert re.search(rf"Page 3 of {pages}", text)

    types = list(AuditEvent.objects.filter(event_type__startswith="report.").order_by("seq")
                 .values_list("event_type", "actor_label"))
    assert types == [("report.generated", "member@acme.test"), ("report.downloaded", "viewer@acme.test")]


def test_box_report_for_one_environment(report_worker, people, client_for):
    project = make_project(people.org, people.owner, name="Box")
    version = import_spec(project, "box.json", people.owner)
    assert version.tool_count > 250

    report = generate_through_worker(client_for(people.owner), project, environment="production")
    assert report.scope_label == "production" and report.tool_count == version.tool_count
    text = pdf_text(download(client_for(people.viewer), report))
    assert pdf_pages(bytes(report.pdf)) >= 20
    assert re.search(rf"\b{report.score}\s*/100\b", text)
    assert "Box Platform API" in text and "production" in text
    # named findings and tools of the Box spec
    codes = {f["code"] for f in report.data["findings"]}
    assert {"credentials_in_query", "write_operation_without_security"} <= codes
    assert "credentials_in_query" in text
    tool = Tool.objects.get(spec_version=version, name="delete_files_id")
    assert tool.name in text and tool.path in text
    assert "OAuth2Security" in text  # the credential flow names the spec's scheme
    marks = checklist_marks(text)
    assert set(marks) == set(GOVERNANCE_CHECKLIST + DOCUMENTATION_CHECKLIST)
    assert marks["Ownership assignment"] == "MISSING" and marks["Tool classification"] == "DONE"
    # only production is in scope
    assert [e["slug"] for e in report.data["environments"]] == ["production"]
