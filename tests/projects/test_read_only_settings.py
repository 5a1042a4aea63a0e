"""Issue 18, item 13: a reviewer (or viewer) sees project settings as text, not as inputs with
no Save button; admins keep the form."""

import pytest

from apps.projects.services import project_update
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def test_read_only_roles_get_a_read_only_page(people, client_for):
    project = make_project(people.org, people.owner, name="Payments")
    project_update(project=project, actor=people.owner, description="Card payments", owner_contact="pay@acme.test",
                   rollback_procedure="Disable the tools.", incident_response_plan="Page the on-call.")
    url = f"/o/{people.org.slug}/p/{project.slug}/settings/"
    for role in ("reviewer", "viewer"):
        html = client_for(getattr(people, role)).get(url).content.decode()
        assert 'data-testid="facts-read-only"' in html and "pay@acme.test" in html
        assert "<textarea" not in html and 'name="facts-owner_contact"' not in html
    admin = client_for(people.admin).get(url).content.decode()
    assert 'name="facts-owner_contact"' in admin and "Save</button>" in admin
