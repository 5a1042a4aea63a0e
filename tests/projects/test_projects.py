"""Projects and environments: defaults, admin-added environments, API, facts for the report."""

import pytest

from apps.audit.models import AuditEvent
from apps.projects.models import Project


@pytest.mark.django_db
def test_project_gets_default_environments_and_admin_adds_more(people, client_for):
    client = client_for(people.admin)
    response = client.post(f"/o/{people.org.slug}/projects/new/", {"name": "Payments API", "description": "Cards"})
    project = Project.objects.get(organization=people.org, slug="payments-api")
    assert response.status_code == 302
    assert list(project.environments.values_list("slug", flat=True)) == ["development", "staging", "production"]
    client.post(f"/o/{people.org.slug}/p/{project.slug}/settings/", {"env-name": "Sandbox EU"})
    assert project.environments.filter(slug="sandbox-eu").exists()
    again = client.post(f"/o/{people.org.slug}/p/{project.slug}/settings/", {"env-name": "sandbox eu"})
    assert b"already has an environment" in again.content
    dup = client.post(f"/o/{people.org.slug}/projects/new/", {"name": "Payments API"})
    assert dup.status_code == 200 and b"already exists" in dup.content
    types = list(AuditEvent.objects.filter(organization=people.org).values_list("event_type", flat=True))
    assert "project.created" in types and "environment.created" in types


@pytest.mark.django_db
def test_project_facts_are_saved_and_audited(people, client_for):
    from tests.factories import make_project

    project = make_project(people.org, people.owner)
    client_for(people.admin).post(
        f"/o/{people.org.slug}/p/{project.slug}/settings/",
        {
            "facts-owner_contact": "Payments team",
            "facts-rollback_procedure": "Disable the tool in the matrix.",
            "facts-incident_response_plan": "Page the on-call.",
            "facts-description": "",
        },
    )
    project.refresh_from_db()
    assert project.owner_contact == "Payments team" and project.rollback_procedure.startswith("Disable")
    event = AuditEvent.objects.filter(event_type="project.updated").get()
    assert set(event.payload["changed"]) == {"owner_contact", "rollback_procedure", "incident_response_plan"}


@pytest.mark.django_db
def test_projects_api_list_create_detail(people, api_for):
    admin = api_for(people.admin)
    response = admin.post("/api/v1/projects/", {"organization": people.org.slug, "name": "Billing"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert [e["slug"] for e in body["environments"]] == ["development", "staging", "production"]
    assert admin.get(f"/api/v1/projects/{body['id']}/").json()["name"] == "Billing"
    listing = api_for(people.viewer).get("/api/v1/projects/").json()
    assert [p["name"] for p in listing["results"]] == ["Billing"]
    assert api_for(people.outsider).get("/api/v1/projects/").json()["count"] == 0
    assert admin.get("/api/v1/projects/not-a-uuid/").status_code == 404
    bad = admin.post("/api/v1/projects/", {"organization": people.org.slug}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["errors"]
