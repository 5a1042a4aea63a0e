"""Toolset pages: admins create, edit and delete toolsets and set each environment's listing;
others read (403 on every write, audited as refusals), outsiders get 404."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.toolsets.models import Toolset
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(people):
    project = make_project(people.org, people.owner)
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


def urls(people, project, slug="support"):
    args = [people.org.slug, project.slug]
    return {"index": reverse("toolsets:index", args=args), "detail": reverse("toolsets:detail", args=[*args, slug]),
            "delete": reverse("toolsets:delete", args=[*args, slug]),
            "listing": reverse("toolsets:listing", args=[*args, "production"])}


def test_admin_manages_toolsets_and_listing_in_the_browser(people, project, client_for):
    u = urls(people, project)
    admin = client_for(people.admin)
    page = admin.get(u["index"])
    assert page.status_code == 200 and b'data-testid="toolset-form"' in page.content

    bad = admin.post(u["index"], {"slug": "Support!", "name": "Support", "tool_names": ["getPetById"]})
    assert bad.status_code == 400 and b"lowercase letters" in bad.content
    assert not Toolset.objects.exists()

    created = admin.post(u["index"], {"slug": "support", "name": "Support", "compact_tools": "", "listing_mode": "",
                                      "tool_names": ["getPetById", "getInventory"]}, follow=True)
    assert created.status_code == 200 and b"Toolset support created with 2 tools" in created.content
    assert b"/development/toolsets/support/" in created.content
    detail = admin.get(u["detail"])
    assert b'data-testid="toolset-endpoints"' in detail.content and b"/production/toolsets/support/" in detail.content

    saved = admin.post(u["detail"], {"name": "Support desk", "tool_names": ["getPetById"], "compact_tools": "off",
                                     "listing_mode": "search-first"}, follow=True)
    assert b"Toolset support saved" in saved.content
    project_page = admin.get(reverse("projects:detail", args=[people.org.slug, project.slug])).content.decode()
    assert 'data-testid="toolsets-panel"' in project_page and "Support desk · 1" in project_page
    toolset = Toolset.objects.get(slug="support")
    assert toolset.tool_names == ["getPetById"] and toolset.compact_tools is False
    assert toolset.listing_mode == "search-first"

    admin.post(u["listing"], {"production-compact_tools": "on", "production-listing_mode": "search-first"})
    env = project.environments.get(slug="production")
    assert env.compact_tools is True and env.listing_mode == "search-first"

    assert admin.post(u["delete"]).status_code == 302
    assert not Toolset.objects.exists()
    types = list(AuditEvent.objects.filter(organization=people.org, event_type__startswith="toolset.")
                 .order_by("seq").values_list("event_type", flat=True))
    assert types == ["toolset.created", "toolset.updated", "toolset.deleted"]
    assert AuditEvent.objects.filter(event_type="environment.updated", payload__setting="tool_listing").count() == 1


@pytest.mark.parametrize("role", ["viewer", "member", "reviewer"])
def test_others_read_only_and_get_403_on_writes(people, project, client_for, role):
    from apps.toolsets.services import toolset_create

    toolset_create(project=project, actor=people.owner, slug="support", name="Support", tool_names=["getPetById"])
    u = urls(people, project)
    client = client_for(people.by_role(role))
    index = client.get(u["index"])
    assert index.status_code == 200 and b'data-testid="toolset-form"' not in index.content
    detail = client.get(u["detail"])
    assert detail.status_code == 200 and b'data-testid="toolset-tool-list"' in detail.content
    assert b'data-testid="toolset-edit-form"' not in detail.content
    before = AuditEvent.objects.filter(event_type="access.refused").count()
    assert client.post(u["index"], {"slug": "x", "name": "x", "tool_names": ["getPetById"]}).status_code == 403
    assert client.post(u["detail"], {"name": "y", "tool_names": ["getPetById"]}).status_code == 403
    assert client.post(u["delete"]).status_code == 403
    assert client.post(u["listing"], {"production-listing_mode": "search-first"}).status_code == 403
    assert AuditEvent.objects.filter(event_type="access.refused").count() == before + 4
    assert Toolset.objects.get().name == "Support"


def test_outsider_gets_404(people, project, client_for):
    from apps.toolsets.services import toolset_create

    toolset_create(project=project, actor=people.owner, slug="support", name="Support", tool_names=["getPetById"])
    u = urls(people, project)
    client = client_for(people.outsider)
    assert client.get(u["index"]).status_code == 404
    assert client.get(u["detail"]).status_code == 404
    assert client.post(u["delete"]).status_code == 404
    assert client.post(u["listing"], {"production-listing_mode": "search-first"}).status_code == 404
    assert Toolset.objects.exists()
