"""An admin curates a toolset in the browser, switches an environment to search-first, and finds
the toolset's endpoint on the Connect page; a viewer sees the toolset read-only."""

import pytest

from apps.audit.models import AuditEvent
from apps.toolsets.models import Toolset
from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.factories import import_spec, make_project


@pytest.mark.django_db(transaction=True)
def test_admin_curates_a_toolset_and_the_listing(page, live_server, shot, people):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    base = f"{live_server.url}/o/{people.org.slug}/p/{project.slug}"

    login(page, live_server, people.admin.email, PASSWORD)
    page.goto(f"{base}/")
    page.locator("[data-testid=toolsets-panel]").wait_for()
    page.click("[data-testid=toolsets-panel] >> text=Toolsets & listing")
    form = page.locator("[data-testid=toolset-form]")
    form.locator("input[name=slug]").fill("support-readonly")
    form.locator("input[name=name]").fill("Support (read-only)")
    form.locator("[data-testid=toolset-tools] >> text=getPetById").click()
    form.locator("[data-testid=toolset-tools] >> text=getInventory").click()
    page.click("[data-testid=toolset-submit]")
    page.locator("[data-testid=toolset-table]").wait_for()
    assert "Toolset support-readonly created with 2 tools" in page.content()
    assert "/development/toolsets/support-readonly/" in page.locator("[data-testid=toolset-table]").inner_text()
    shot(page, "toolsets-01-list")
    assert Toolset.objects.get(slug="support-readonly").tool_names == ["getPetById", "getInventory"]

    listing = page.locator("[data-testid=listing-form-production]")
    listing.locator("select[name=production-listing_mode]").select_option("search-first")
    listing.locator("button").click()
    page.locator("[data-testid=toolset-table]").wait_for()
    assert project.environments.get(slug="production").listing_mode == "search-first"
    assert AuditEvent.objects.filter(event_type="environment.updated", payload__setting="tool_listing").exists()

    page.goto(f"{live_server.url}/o/{people.org.slug}/p/{project.slug}/connect/production/")
    page.click("[data-testid=connect-toolset-support-readonly]")
    endpoint = page.locator("[data-testid=endpoint-url]").inner_text()
    assert endpoint.endswith("/production/toolsets/support-readonly/")
    shot(page, "toolsets-02-connect")

    page.context.clear_cookies()
    login(page, live_server, people.viewer.email, PASSWORD)
    page.goto(f"{base}/toolsets/support-readonly/")
    page.locator("[data-testid=toolset-tool-list]").wait_for()
    assert page.locator("[data-testid=toolset-edit-form]").count() == 0
