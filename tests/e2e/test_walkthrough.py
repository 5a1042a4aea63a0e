"""The first hour of a new team (issue 18), in Chromium with real components: import in the
browser (Celery worker) → inventory → governance → token → an agent through the official
``mcp`` client (gateway on uvicorn, Petstore mocked by Prism) → a reviewer approves → audit
log → PDF report. Every key page is saved at 1280 and 1920 px under test-artifacts/ for a
human to look at, and the PDF's pages are rendered to PNG (pdftoppm)."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ARTIFACTS_DIR, PASSWORD, SPECS_DIR
from tests.e2e.conftest import login
from tests.gateway.conftest import (  # noqa: F401 - fixtures
    PETSTORE_API_KEY,
    PETSTORE_OAUTH_TOKEN,
    gateway_server,
    prism,
    run_client,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 1920)


def shots(page, name: str) -> None:
    """The page at both widths; the page must never need horizontal scrolling of the body."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS_DIR / f"walk-{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} at {width}px: the page is {overflow}px wider than the window"
    page.set_viewport_size({"width": 1280, "height": 900})


def in_view(page, selector: str) -> None:
    """At 1280 px the element is inside the window, not cut off or scrolled away in its card."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280, (selector, box)


def no_internal_values(page) -> None:
    text = page.inner_text("main")
    for leaked in ("side_effect", "read_only", "→ 0"):
        assert leaked not in text, leaked


def test_first_hour_of_a_new_team(page, browser, live_server, people, gateway_server, prism,  # noqa: F811
                                  celery_worker_process, settings):
    from apps.credentials.services import credential_set, environment_upstream_set
    from apps.governance.services import grant_create, tool_set_enabled
    from apps.projects.services import project_create
    from apps.reports.models import Report

    settings.SITE_URL = gateway_server
    owner = people.owner
    project = project_create(organization=people.org, name="Petstore", actor=owner)
    base = f"{live_server.url}/o/{people.org.slug}/p/{project.slug}"

    # 1. import in the browser; the worker analyses it
    login(page, live_server, owner.email, PASSWORD)
    page.goto(f"{base}/")
    page.click("[data-testid=import-spec]")
    page.set_input_files("input[name=file]", str(SPECS_DIR / "petstore-v3.yaml"))
    shots(page, "01-import")
    curl = page.locator("[data-testid=import-curl]")
    assert curl.evaluate("el => el.scrollWidth <= el.clientWidth")  # the snippet wraps inside its card
    page.click("[data-testid=import-submit]")
    page.wait_for_selector("[data-testid=tool-count]", timeout=90_000)
    assert int(page.inner_text("[data-testid=tool-count]")) == 19

    # 2. inventory: the two axes are explained; PII kinds in words
    page.click("[data-testid=open-inventory]")
    page.wait_for_selector("[data-testid=tool-table]")
    page.locator("[data-testid=risk-axes]").wait_for()
    shots(page, "02-inventory")
    in_view(page, "[data-testid=tool-table] thead th:last-child")  # production column

    # 3. governance: upstream and credentials (development), grants, suggested policies
    development = project.environments.get(slug="development")
    environment_upstream_set(environment=development, base_url=prism, allow_private_network=True, actor=owner)
    credential_set(environment=development, scheme_name="api_key", values={"value": PETSTORE_API_KEY}, actor=owner)
    credential_set(environment=development, scheme_name="petstore_auth",
                   values={"access_token": PETSTORE_OAUTH_TOKEN}, actor=owner, kind="oauth2_token")
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="admin",
                 environment=development, all_tools=True)
    tool_set_enabled(project=project, environment=development, operation_keys=["DELETE /pet/{petId}"],
                     enabled=True, actor=owner, reason="confirmed in test")
    page.goto(f"{base}/governance/policies/")
    page.click("[data-testid=accept-all]")
    page.wait_for_load_state("networkidle")
    assert "High- or critical-risk tools" in page.inner_text("main")
    shots(page, "03-policies")
    page.goto(f"{base}/governance/permissions/")
    page.locator("[data-testid=matrix]").wait_for()
    shots(page, "04-permissions")
    in_view(page, "[data-testid=matrix] thead th:last-child")

    # 4. a personal token (shown once)
    page.goto(f"{live_server.url}/o/{people.org.slug}/tokens/")
    page.fill("input[name=name]", "walkthrough-agent")
    page.click("main button:has-text('Create token')")
    token = page.inner_text("[data-testid=new-token]").strip()
    assert token.startswith("mcpf_")
    shots(page, "05-token")

    # 5. the agent: official mcp client through the gateway
    endpoint = f"{gateway_server}/mcp/{people.org.slug}/{project.slug}/development/"

    async def agent(client):
        listed = {t.name: t for t in (await client.list_tools()).tools}
        pet = await client.call_tool("getPetById", {"petId": 10})
        held = await client.call_tool("deletePet", {"petId": 10})
        return listed, pet, held

    listed, pet, held = run_client(endpoint, token, agent)
    assert listed["getPetById"].annotations.read_only_hint is True
    assert listed["addPet"].annotations.read_only_hint is False
    assert pet.is_error is False
    request_id = held.structured_content["mcpforge_approval"]["request_id"]

    # 6. a reviewer approves in the browser; the worker runs it
    reviewer_context = browser.new_context(viewport={"width": 1280, "height": 900})
    reviewer = reviewer_context.new_page()
    try:
        login(reviewer, live_server, people.reviewer.email, PASSWORD)
        reviewer.goto(f"{live_server.url}/o/{people.org.slug}/approvals/{request_id}/")
        shots(reviewer, "06-approval")
        # both axes, named: "high risk" beside "critical category" (issue 18 item 2)
        assert "critical category" in reviewer.inner_text("main")
        no_internal_values(reviewer)
        reviewer.fill("textarea[name=comment]", "Test pet, fine to delete")
        reviewer.click("[data-testid=approve]")
        reviewer.wait_for_selector("[data-testid=approval-status][data-status=executed]", timeout=60_000)
    finally:
        reviewer_context.close()

    # 7. audit log
    page.goto(f"{live_server.url}/o/{people.org.slug}/audit/")
    table = page.inner_text("[data-testid=audit-table]")
    for event_type in ("tool.called", "approval.requested", "approval.decided", "approval.executed"):
        assert event_type in table, event_type
    shots(page, "07-audit")

    # 8. the PDF report
    page.goto(f"{base}/reports/")
    page.select_option("[data-testid=report-environment]", "all")
    page.click("[data-testid=generate-report]")
    page.wait_for_selector("[data-testid=report-row][data-status=ready]", timeout=120_000)
    shots(page, "08-reports")
    in_view(page, "[data-testid=download-report]")
    report = Report.objects.get(project=project)
    path = ARTIFACTS_DIR / "walk-report.pdf"
    path.write_bytes(bytes(report.pdf))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(ARTIFACTS_DIR / "walk-report-page")], check=True)
    checks = {i["key"]: i["status"] for i in report.data["checklists"]["governance"]}
    # the suggested policies cover every sensitive tool, by category and by risk level
    assert checks["approval_workflows"] == "done"
    assert report.data["governance"]["approvals"]["uncovered_high_risk"] == []
