"""An engineer uploads a spec in the browser and watches the analysis reach done."""

import pytest

from tests.conftest import PASSWORD, SPECS_DIR, make_user
from tests.e2e.conftest import login

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_upload_shows_progress_until_done_then_inventory(page, live_server, shot, celery_worker_process):
    from apps.accounts.services import organization_create
    from apps.projects.services import project_create

    owner = make_user("engineer@acme.test")
    org = organization_create(name="Acme", actor=owner)
    project = project_create(organization=org, name="Petstore", actor=owner)
    login(page, live_server, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/o/{org.slug}/p/{project.slug}/")
    page.click("[data-testid=import-spec]")
    page.set_input_files("input[name=file]", str(SPECS_DIR / "petstore-v3.yaml"))
    shot(page, "10-import-form")
    page.click("[data-testid=import-submit]")
    page.wait_for_selector("[data-testid=analysis-progress]")
    shot(page, "11-import-progress")
    page.wait_for_selector("[data-testid=tool-count]", timeout=60_000)  # htmx polling refreshes the page when done
    assert page.locator("[data-testid=analysis-progress]").get_attribute("data-status") == "ready"
    assert int(page.inner_text("[data-testid=tool-count]")) == 19
    shot(page, "12-import-done")
    page.click("[data-testid=open-inventory]")
    page.wait_for_selector("[data-testid=tool-table]")
    assert "deletePet" in page.inner_text("[data-testid=tool-table]")
    shot(page, "13-inventory")
    page.click("text=deletePet")
    page.wait_for_selector("[data-testid=mcp-definition]")
    assert '"inputSchema"' in page.inner_text("[data-testid=mcp-definition]")
    shot(page, "14-tool-detail")


def test_bad_upload_shows_the_reason_in_the_page(page, live_server, celery_worker_process, tmp_path, shot):
    from apps.accounts.services import organization_create
    from apps.projects.services import project_create

    owner = make_user("engineer2@acme.test")
    org = organization_create(name="Acme2", actor=owner)
    project = project_create(organization=org, name="Broken", actor=owner)
    bad = tmp_path / "broken.yaml"
    bad.write_text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: 7\n")
    login(page, live_server, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/o/{org.slug}/p/{project.slug}/specs/import/")
    page.set_input_files("input[name=file]", str(bad))
    page.click("[data-testid=import-submit]")
    page.wait_for_selector("[data-testid=analysis-error]", timeout=60_000)
    assert "paths" in page.inner_text("[data-testid=analysis-error]")
    assert page.locator("[data-testid=upload-corrected]").is_visible()
    assert page.locator("[data-testid=retry]").count() == 0  # the same bytes would fail again
    shot(page, "15-import-failed")
