"""The whole agent story with real components: an admin finds the endpoint and the client
config in the browser, creates a token, an agent (official mcp SDK client) connects to the
gateway (uvicorn, mcpforge.asgi) and calls Petstore (Stoplight Prism); a critical call is held,
a reviewer approves it in the browser, a real Celery worker runs it, the agent reads the
result, and the audit log shows every step."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.gateway.conftest import gateway_server, prism, run_client, world  # noqa: F401 - fixtures

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_agent_connects_calls_and_a_reviewer_approves(page, browser, live_server, shot, world, settings,  # noqa: F811
                                                      celery_worker_process):
    from apps.governance.services import policy_create, tool_set_enabled

    owner = world.people.owner
    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["DELETE /pet/{petId}"],
                     enabled=True, actor=owner, reason="confirmed in test")
    policy_create(project=world.project, actor=owner, name="Critical Petstore actions", kind="single",
                  categories=["critical"])
    settings.SITE_URL = world.url  # the connect page shows the address agents really use

    # 1. The admin finds the endpoint and a ready-made client config from the project page.
    login(page, live_server, world.people.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/o/acme/p/{world.project.slug}/")
    page.click("[data-testid=open-connect]")
    page.wait_for_selector("[data-testid=endpoint-url]")
    endpoint = page.inner_text("[data-testid=endpoint-url]").strip()
    assert endpoint == world.endpoint()
    assert "mcpf_YOUR_TOKEN" in page.inner_text("[data-testid=config-claude-desktop]")
    assert int(page.inner_text("[data-testid=my-tool-count]")) == 12
    shot(page, "gateway-01-connect-page")
    page.click("[data-testid=tab-streamable-http]")
    page.wait_for_selector("[data-testid=config-streamable-http]", state="visible")
    shot(page, "gateway-02-connect-generic-config")

    # 2. ...and creates a personal token for the agent (shown once).
    page.goto(f"{live_server.url}/o/acme/tokens/")
    page.fill("input[name=name]", "claude-desktop")
    page.click("main button:has-text('Create token')")
    token = page.inner_text("[data-testid=new-token]").strip()
    assert token.startswith("mcpf_")

    # 3. The agent connects with the SDK client, lists its tools, reads a pet, tries a delete.
    async def agent_session(client):
        listed = [t.name for t in (await client.list_tools()).tools]
        pet = await client.call_tool("getPetById", {"petId": 10})
        held = await client.call_tool("deletePet", {"petId": 10})
        return listed, pet, held

    listed, pet, held = run_client(endpoint, token, agent_session)
    assert "deletePet" in listed and "getPetById" in listed
    assert pet.is_error is False and pet.structured_content["name"] == "doggie"
    assert held.is_error is False
    request_id = held.structured_content["mcpforge_approval"]["request_id"]
    assert held.structured_content["mcpforge_approval"]["status"] == "pending"

    # 4. A reviewer approves in the browser; the worker runs the call against Prism.
    reviewer_context = browser.new_context(viewport={"width": 1366, "height": 900})
    reviewer = reviewer_context.new_page()
    try:
        login(reviewer, live_server, world.people.reviewer.email, PASSWORD)
        reviewer.goto(f"{live_server.url}/o/acme/approvals/{request_id}/")
        assert '"petId": 10' in reviewer.inner_text("[data-testid=arguments]")
        shot(reviewer, "gateway-03-review-held-call")
        reviewer.fill("textarea[name=comment]", "Duplicate pet record, fine to delete")
        reviewer.click("[data-testid=approve]")
        reviewer.wait_for_selector("[data-testid=approval-status][data-status=executed]", timeout=60_000)
        shot(reviewer, "gateway-04-executed")
    finally:
        reviewer_context.close()

    # 5. The agent checks its request and gets the upstream result.
    async def check(client):
        return await client.call_tool("mcpforge_approval_status", {"request_id": request_id})

    status = run_client(endpoint, token, check)
    assert status.is_error is False
    assert status.structured_content["status"] == "executed"
    assert status.structured_content["result"]["status"] == 200

    # 6. The audit log tells the story: the call, its outcome, the hold, the decision, the execution.
    page.goto(f"{live_server.url}/o/acme/audit/")  # the admin, still logged in
    table = page.inner_text("[data-testid=audit-table]")
    for event_type in ("tool.called", "tool.call_completed", "approval.requested", "approval.decided",
                       "approval.executed", "token.created"):
        assert event_type in table, event_type
    shot(page, "gateway-05-audit-log")
