"""The Reports page and REST API: who may see, generate and download what."""

import pytest

from apps.audit.models import AuditEvent
from apps.reports.models import Report

from .conftest import build_report

pytestmark = pytest.mark.django_db


def urls(project, report_id):
    org = project.organization.slug
    base = f"/o/{org}/p/{project.slug}/reports/"
    return {"list": base, "row": f"{base}{report_id}/row/", "pdf": f"{base}{report_id}/pdf/",
            "view": f"{base}{report_id}/"}


def api(project, report_id=None):
    base = f"/api/v1/projects/{project.public_id}/reports/"
    return base if report_id is None else f"{base}{report_id}/"


@pytest.fixture
def ready(adyen, people):
    return build_report(adyen, people.member)


# --------------------------------------------------------------------------- outsiders: 404 everywhere


def test_outsider_gets_404_on_every_page(ready, people, client_for):
    c = client_for(people.outsider)
    for name, url in urls(ready.project, ready.public_id).items():
        assert c.get(url).status_code == 404, name
    base = urls(ready.project, ready.public_id)["list"]
    assert c.post(base + "generate/", {"environment": "all"}).status_code == 404
    assert c.post(f"{base}{ready.public_id}/retry/").status_code == 404
    assert Report.objects.count() == 1


def test_outsider_gets_404_on_every_api_endpoint(ready, people, api_for):
    c = api_for(people.outsider)
    project = ready.project
    assert c.get(api(project)).status_code == 404
    assert c.post(api(project), {}, format="json").status_code == 404
    assert c.get(api(project, ready.public_id)).status_code == 404
    assert c.get(api(project, ready.public_id) + "pdf").status_code == 404
    assert c.get(api(project, ready.public_id) + "json").status_code == 404
    assert not AuditEvent.objects.filter(event_type="report.downloaded").exists()


def test_another_organizations_report_is_404_even_through_my_own_project(ready, people, client_for, api_for):
    from tests.factories import make_project

    mine = make_project(people.other_org, people.outsider, name="Evil API")
    other_id = ready.public_id
    c = client_for(people.outsider)
    assert c.get(urls(mine, other_id)["pdf"]).status_code == 404
    assert c.get(urls(mine, other_id)["view"]).status_code == 404
    assert api_for(people.outsider).get(api(mine, other_id) + "pdf").status_code == 404


# --------------------------------------------------------------------------- roles


def test_viewer_can_list_view_and_download_and_it_is_audited(ready, people, client_for):
    c = client_for(people.viewer)
    u = urls(ready.project, ready.public_id)
    page = c.get(u["list"])
    assert page.status_code == 200
    assert b'data-testid="download-report"' in page.content and b'data-testid="generate-report"' not in page.content
    assert b"can read and download reports" in page.content
    response = c.get(u["pdf"])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert "attachment" in response["Content-Disposition"] and ".pdf" in response["Content-Disposition"]
    assert response["X-Content-SHA256"] == ready.pdf_sha256
    view = c.get(u["view"])
    assert view.status_code == 200 and b"Payments" in view.content
    assert "default-src 'none'" in view["Content-Security-Policy"]
    events = AuditEvent.objects.filter(event_type="report.downloaded").order_by("seq")
    assert [(e.actor_label, e.payload["format"]) for e in events] == [("viewer@acme.test", "pdf"),
                                                                       ("viewer@acme.test", "html")]
    assert events[0].target_id == str(ready.public_id)


def test_viewer_cannot_generate_or_retry(ready, people, client_for, api_for):
    base = urls(ready.project, ready.public_id)["list"]
    c = client_for(people.viewer)
    assert c.post(base + "generate/", {"environment": "all"}).status_code == 403
    assert c.post(f"{base}{ready.public_id}/retry/").status_code == 403
    response = api_for(people.viewer).post(api(ready.project), {}, format="json")
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
    assert Report.objects.count() == 1


def test_member_generates_from_the_page(adyen, people, client_for):
    c = client_for(people.member)
    response = c.post(f"/o/acme/p/{adyen.slug}/reports/generate/", {"environment": "production"}, follow=True)
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.status == Report.Status.QUEUED and report.environment.slug == "production"
    assert report.generated_by == people.member and report.scope_label == "production"
    assert b"Generating the security report" in response.content
    # the queued row polls its progress partial
    assert f'hx-get="/o/acme/p/{adyen.slug}/reports/{report.public_id}/row/"'.encode() in response.content
    row = c.get(f"/o/acme/p/{adyen.slug}/reports/{report.public_id}/row/")
    assert row.status_code == 200 and b"Waiting for a worker" in row.content


def test_unknown_environment_is_a_clear_error(adyen, people, client_for, api_for):
    response = client_for(people.member).post(f"/o/acme/p/{adyen.slug}/reports/generate/",
                                              {"environment": "qa"}, follow=True)
    assert b"Unknown environment" in response.content and not Report.objects.exists()
    response = api_for(people.member).post(api(adyen), {"environment": "qa"}, format="json")
    assert response.status_code == 400
    assert "development, staging, production" in response.json()["detail"]


def test_download_before_ready_says_so(adyen, people, client_for, api_for):
    from apps.reports.services import report_request

    report = report_request(project=adyen, environment=None, actor=people.member)
    response = client_for(people.viewer).get(urls(adyen, report.public_id)["pdf"], follow=True)
    assert b"not ready yet" in response.content
    response = api_for(people.viewer).get(api(adyen, report.public_id) + "pdf")
    assert response.status_code == 409 and response.json()["detail"] == "This report is not ready yet."
    assert not AuditEvent.objects.filter(event_type="report.downloaded").exists()


def test_retry_a_failed_report(adyen, people, client_for):
    from apps.reports.services import report_mark_failed, report_request

    report = report_request(project=adyen, environment=None, actor=people.member)
    Report.objects.filter(pk=report.pk).update(status=Report.Status.RUNNING)
    report_mark_failed(report_id=report.pk, message="The report could not be built (OSError).")
    c = client_for(people.member)
    page = c.get(f"/o/acme/p/{adyen.slug}/reports/")
    assert b"could not be built (OSError)" in page.content and b'data-testid="retry-report"' in page.content
    c.post(f"/o/acme/p/{adyen.slug}/reports/{report.public_id}/retry/")
    report.refresh_from_db()
    assert report.status == Report.Status.QUEUED and report.error == ""
    # a queued report cannot be retried again
    response = c.post(f"/o/acme/p/{adyen.slug}/reports/{report.public_id}/retry/", follow=True)
    assert b"Only a failed report can be retried" in response.content


# --------------------------------------------------------------------------- API


def test_api_generate_poll_and_fetch(adyen, people, api_for):
    from apps.reports.services import report_build

    c = api_for(people.member)
    response = c.post(api(adyen), {"environment": "staging"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["environment"] == "staging" and body["links"] == {}
    report_build(report_id=Report.objects.get(public_id=body["id"]).pk)  # what the worker runs
    detail = c.get(api(adyen, body["id"])).json()
    assert detail["status"] == "ready" and detail["progress"] == 100 and detail["generated_by"] == "member@acme.test"
    assert detail["score"] is not None and detail["spec_version"] == 1 and detail["page_count"] > 5
    pdf = c.get(detail["links"]["pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    snapshot = c.get(detail["links"]["json"]).json()
    assert snapshot["report"]["id"] == body["id"]
    data = snapshot["data"]
    assert data["scope"]["environment"] == "staging" and len(data["tools"]) == detail["tool_count"]
    assert data["score"]["value"] == detail["score"]
    assert [r["id"] for r in c.get(api(adyen)).json()] == [body["id"]]
    assert AuditEvent.objects.filter(event_type="report.downloaded").count() == 2


def test_api_pdf_with_accept_header(ready, people, api_for):
    response = api_for(people.viewer).get(api(ready.project, ready.public_id) + "pdf", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response.content[:5] == b"%PDF-"


def test_api_bad_report_id_is_404(adyen, people, api_for):
    response = api_for(people.viewer).get(api(adyen, "not-a-uuid") + "pdf")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


# --------------------------------------------------------------------------- pages


def test_list_page_queries_do_not_grow_with_reports(adyen, people, client_for, django_assert_max_num_queries):
    from apps.reports.services import report_request

    for _ in range(30):
        report_request(project=adyen, environment=None, actor=people.member)
    c = client_for(people.viewer)
    with django_assert_max_num_queries(12):
        response = c.get(f"/o/acme/p/{adyen.slug}/reports/")
    assert response.content.count(b'data-testid="report-row"') == 25 and b"Page 1 of 2" in response.content
    older = c.get(f"/o/acme/p/{adyen.slug}/reports/?page=2")
    assert older.content.count(b'data-testid="report-row"') == 5


def test_project_page_panel_shows_the_latest_report(ready, people, client_for):
    page = client_for(people.viewer).get(f"/o/acme/p/{ready.project.slug}/")
    assert page.status_code == 200
    assert b'data-testid="reports-panel"' in page.content
    assert f"/reports/{ready.public_id}/pdf/".encode() in page.content
    assert f"{ready.score}".encode() in page.content


def test_empty_reports_page(adyen, people, client_for):
    page = client_for(people.member).get(f"/o/acme/p/{adyen.slug}/reports/")
    assert b'data-testid="reports-empty"' in page.content and b'data-testid="generate-report"' in page.content
