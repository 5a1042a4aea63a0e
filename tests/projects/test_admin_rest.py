"""Issue 23, item 6: admin actions of the UI that had no REST endpoint: project facts (PATCH the
project), adding an environment, retrying a failed report. Same validation, audit and role checks
as the pages; outsiders 404, roles below the page's 403 (and the refusal audited)."""

import pytest

from apps.audit.models import AuditEvent
from apps.reports.models import Report
from apps.reports.services import report_request
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(people):
    return make_project(people.org, people.owner, name="Payments")


def events(org, kind):
    return list(AuditEvent.objects.filter(organization=org, event_type=kind).order_by("seq"))


def test_patch_project_facts(people, api_for, project):
    url = f"/api/v1/projects/{project.public_id}/"
    response = api_for(people.admin).patch(url, {"owner_contact": "pay@acme.test",
                                                 "incident_response_plan": "Page the on-call."}, format="json")
    assert response.status_code == 200
    assert response.json()["owner_contact"] == "pay@acme.test"
    assert response.json()["incident_response_plan"] == "Page the on-call."
    project.refresh_from_db()
    assert (project.owner_contact, project.incident_response_plan) == ("pay@acme.test", "Page the on-call.")
    (event,) = events(people.org, "project.updated")
    assert event.actor == people.admin and event.payload == {"changed": ["incident_response_plan", "owner_contact"]}
    # the same page shows it
    assert "pay@acme.test" in api_for(people.viewer).get(url).content.decode()
    bad = api_for(people.admin).patch(url, {"owner_contact": "x" * 201}, format="json")
    assert bad.status_code == 400 and "owner_contact" in bad.json()["errors"]


def test_patch_project_outsider_404_wrong_role_403(people, api_for, project):
    url = f"/api/v1/projects/{project.public_id}/"
    assert api_for(people.outsider).patch(url, {"owner_contact": "evil"}, format="json").status_code == 404
    for role in ("viewer", "member", "reviewer"):
        response = api_for(people.by_role(role)).patch(url, {"owner_contact": "me"}, format="json")
        assert response.status_code == 403, role
    assert len(events(people.org, "access.refused")) == 3
    project.refresh_from_db()
    assert project.owner_contact == "" and not events(people.org, "project.updated")


def test_add_an_environment(people, api_for, project):
    url = f"/api/v1/projects/{project.public_id}/environments/"
    assert [e["slug"] for e in api_for(people.viewer).get(url).json()] == ["development", "staging", "production"]
    response = api_for(people.admin).post(url, {"name": "QA"}, format="json")
    assert response.status_code == 201 and response.json()["slug"] == "qa"
    assert project.environments.filter(slug="qa").exists()
    (event,) = events(people.org, "environment.created")
    assert event.actor == people.admin and event.payload == {"project": project.slug, "environment": "qa"}
    again = api_for(people.admin).post(url, {"name": "qa"}, format="json")
    assert again.status_code == 409 and "already has an environment called qa" in again.json()["detail"]
    assert api_for(people.admin).post(url, {"name": "!!"}, format="json").status_code == 400
    # the new environment has its own upstream settings
    upstream = api_for(people.admin).put(url + "qa/upstream/", {"base_url": "https://qa.example.com",
                                                                 "allow_private_network": False}, format="json")
    assert upstream.status_code == 200


def test_add_an_environment_outsider_404_wrong_role_403(people, api_for, project):
    url = f"/api/v1/projects/{project.public_id}/environments/"
    assert api_for(people.outsider).get(url).status_code == 404
    assert api_for(people.outsider).post(url, {"name": "qa"}, format="json").status_code == 404
    for role in ("viewer", "member", "reviewer"):
        assert api_for(people.by_role(role)).post(url, {"name": "qa"}, format="json").status_code == 403, role
    assert len(events(people.org, "access.refused")) == 3
    assert not project.environments.filter(slug="qa").exists()


def test_retry_a_failed_report(people, api_for, project, settings):
    report = report_request(project=project, environment=None, actor=people.owner)
    url = f"/api/v1/projects/{project.public_id}/reports/{report.public_id}/retry/"
    Report.objects.filter(pk=report.pk).update(status=Report.Status.FAILED, error="renderer crashed")
    response = api_for(people.member).post(url, format="json")
    assert response.status_code == 202 and response.json()["id"] == str(report.public_id)
    report.refresh_from_db()
    assert report.generated_by == people.member and report.error == ""
    Report.objects.filter(pk=report.pk).update(status=Report.Status.READY)
    again = api_for(people.member).post(url, format="json")
    assert again.status_code == 400 and again.json()["detail"] == "Only a failed report can be retried."


def test_retry_outsider_404_wrong_role_403(people, api_for, project):
    report = report_request(project=project, environment=None, actor=people.owner)
    Report.objects.filter(pk=report.pk).update(status=Report.Status.FAILED, error="renderer crashed")
    url = f"/api/v1/projects/{project.public_id}/reports/{report.public_id}/retry/"
    assert api_for(people.outsider).post(url, format="json").status_code == 404
    assert api_for(people.viewer).post(url, format="json").status_code == 403
    (refused,) = events(people.org, "access.refused")
    assert refused.payload["capability"] == "report.generate"
    report.refresh_from_db()
    assert report.status == Report.Status.FAILED


def test_the_new_endpoints_are_in_the_openapi_schema(people, api_for):
    paths = api_for(people.viewer).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert "patch" in paths["/api/v1/projects/{id}/"]
    assert {"get", "post"} <= set(paths["/api/v1/projects/{id}/environments/"])
    assert "post" in paths["/api/v1/projects/{id}/reports/{rid}/retry/"]
