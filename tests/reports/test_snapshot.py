"""What goes into a report: the snapshot built from the real inventory, risk, governance,
credential and audit selectors, and each section's "not configured" statement."""

import json

import pytest

from apps.reports.models import Report
from apps.reports.snapshot import report_snapshot

from .conftest import build_report, pdf_text

pytestmark = pytest.mark.django_db


def snapshot(project, environment=None):
    return report_snapshot(project=project, environment=environment, generated_by_label="t@acme.test").data


def test_ungoverned_project_says_what_is_not_configured(adyen):
    data = snapshot(adyen)
    gov = data["governance"]
    assert not gov["permissions"]["configured"]
    assert "denies every tool call by default" in gov["permissions"]["statement"]
    assert gov["approvals"]["policies"] == []
    assert "No approval policy is defined" in gov["approvals"]["statement"]
    assert gov["credentials"]["rows"] == [] and len(gov["credentials"]["missing"]) == 3
    assert "ApiKeyAuth or BasicAuth" in gov["credentials"]["missing"][0]
    checks = {i["key"]: i["status"] for i in data["checklists"]["governance"]}
    assert checks["approval_workflows"] == checks["credential_storage"] == "missing"
    assert checks["inventory"] == checks["classification"] == checks["risk_scoring"] == "done"


def test_governed_project_shows_grants_policies_credentials(adyen, people):
    from apps.credentials.services import credential_set
    from apps.governance import services as governance

    production = adyen.environments.get(slug="production")
    governance.grant_create(project=adyen, actor=people.owner, effect="allow", principal_kind="role",
                            role="member", categories=["read_only"])
    governance.grant_create(project=adyen, actor=people.owner, effect="deny", principal_kind="role",
                            role="viewer", all_tools=True, environment=production)
    governance.accept_suggested_policies(project=adyen, actor=people.owner)
    credential_set(environment=production, scheme_name="ApiKeyAuth", values={"value": "AQEsuper-secret-4242"},
                   actor=people.owner)
    data = snapshot(adyen)
    gov = data["governance"]
    assert gov["permissions"]["grant_count"] == 2
    assert {g["effect"] for g in gov["permissions"]["grants"]} == {"allow", "deny"}
    rows = {r["principal"]: r for r in gov["permissions"]["matrix"]}
    assert set(rows) >= {"Role viewer", "Role member", "Role owner"}
    # members may call the read-only tools enabled in development; viewers nothing
    dev = [c for c in rows["Role member"]["cells"] if c["environment"] == "development"][0]
    assert dev["count"] > 0 and all(c["count"] == 0 for c in rows["Role viewer"]["cells"])
    names = {p["name"] for p in gov["approvals"]["policies"]}
    assert any("Billing" in n for n in names)
    billing = next(p for p in gov["approvals"]["policies"] if "Billing" in p["name"])
    assert billing["requirement"] == "2 approvals" and billing["tool_count"] > 5
    refund = next(t for t in data["tools"] if t["name"] == "post-payments-paymentPspReference-refunds")
    assert refund["category"] == "billing" and refund["approval"]["production"].startswith("2 approvals")
    creds = gov["credentials"]
    assert [(r["environment"], r["scheme"]) for r in creds["rows"]] == [("production", "ApiKeyAuth")]
    assert creds["rows"][0]["age_days"] == 0 and "AES-256-GCM" in creds["storage"]
    assert not any(m.startswith("production") for m in creds["missing"])
    # never the secret, not even its tail
    assert "super-secret" not in json.dumps(data) and "4242" not in json.dumps(creds)


def test_environment_report_covers_that_environment_only(adyen):
    production = adyen.environments.get(slug="production")
    data = snapshot(adyen, production)
    assert data["scope"] == {"label": "production", "environment": "production", "environments": ["production"]}
    assert [e["slug"] for e in data["environments"]] == ["production"]
    assert all(set(t["enabled"]) == {"production"} for t in data["tools"])
    assert [e["name"] for e in data["governance"]["audit"]["environments"]] == ["production"]


def test_project_without_spec_still_produces_a_clear_report(people):
    from tests.factories import make_project

    project = make_project(people.org, people.owner, name="Empty")
    report = build_report(project, people.owner)
    text = pdf_text(bytes(report.pdf))
    assert "No specification has been analysed" in text and "No tools" in text
    assert report.score is None and report.tool_count == 0


def test_regenerating_makes_a_new_snapshot_and_shows_changes(adyen, people):
    first = build_report(adyen, people.owner)
    first_sha, first_data = first.pdf_sha256, first.data
    adyen.incident_response_plan = "Page the payments on-call, disable refund tools, rotate keys."
    adyen.save()
    second = build_report(adyen, people.owner)
    assert Report.objects.count() == 2 and second.pk != first.pk
    first.refresh_from_db()
    assert first.pdf_sha256 == first_sha and first.data == first_data  # immutable
    changes = second.data["changes"]
    assert changes["previous"]["id"] == str(first.public_id)
    assert changes["score_delta"] == 0 and changes["tools_added"] == changes["tools_removed"] == []
    text = pdf_text(bytes(second.pdf))
    assert "Page the payments on-call" in text and "(0)" in text
    gov = {i["key"]: i["status"] for i in second.data["checklists"]["governance"]}
    assert gov["incident_response"] == "done"


def test_generation_is_audited_with_the_pdf_digest(adyen, people):
    from apps.audit.models import AuditEvent

    report = build_report(adyen, people.member)
    event = AuditEvent.objects.get(event_type="report.generated")
    assert event.actor_label == "member@acme.test" and event.target_id == str(report.public_id)
    assert event.payload["sha256"] == report.pdf_sha256 and event.payload["score"] == report.score
    assert event.payload["pages"] == report.page_count


def test_rendering_never_fetches_urls_from_the_spec():
    from apps.reports import render

    html = ('<html><body><img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="file:///etc/passwd">'
            "<p>hello</p></body></html>")
    pdf, pages = render.report_pdf(html)
    assert pdf.startswith(b"%PDF-") and pages == 1


def test_a_crash_leaves_a_failed_retryable_report(adyen, people, monkeypatch):
    from apps.reports import render, services

    def boom(html, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(render, "report_pdf", boom)
    report = services.report_request(project=adyen, environment=None, actor=people.member)
    services.report_build(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == Report.Status.FAILED and "OSError" in report.error
    assert "disk full" not in report.error  # internals stay in the log
    monkeypatch.undo()
    services.report_retry(report=report, actor=people.member)
    services.report_build(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == Report.Status.READY and report.attempts == 2


def test_a_ready_report_is_never_rebuilt(adyen, people):
    from apps.reports.services import report_build

    report = build_report(adyen, people.member)
    assert report_build(report_id=report.pk) is None
    report.refresh_from_db()
    assert report.attempts == 1


def test_pdf_stage_reports_its_steps():
    import logging

    from apps.reports import render

    steps = []
    html = "<html><body>" + "<p style='break-after: page'>page</p>" * 3 + "</body></html>"
    pdf, pages = render.report_pdf(html, on_step=lambda step, page: steps.append((step, page)))
    assert pages == 3
    assert (5, 3) in steps and max(s for s, _ in steps) >= 6
    log = logging.getLogger("weasyprint.progress")
    assert not [h for h in log.handlers if isinstance(h, render._StepHandler)] and log.propagate


def test_audit_volume_is_counted_for_this_project(adyen, people):
    from tests.factories import make_project

    other = make_project(people.org, people.owner, name="Other API")
    build_report(other, people.owner)  # report.generated of another project
    audit = snapshot(adyen)["governance"]["audit"]
    types = {row["event_type"]: row["count"] for row in audit["by_type"]}
    assert types.get("spec.imported") == 1 and "report.generated" not in types
    assert audit["organization_events_in_window"] > audit["events_in_window"]
    assert audit["chain"].startswith("chain re-verified while generating this report: intact")
    assert audit["chain_intact"] is True and "enabled" not in audit["environments"][0]
