"""A reviewer works the approval queue in a real browser: the nav badge counts what waits,
the request shows masked arguments, justification, policy and step progress, and after
"Approve" a real Celery worker runs the call and the page shows it executed."""

from __future__ import annotations

import json

import pytest

from tests.approvals.conftest import ORDER_ARGS, Recorder, build_world, queue_request, requirement, serve_recorder
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

NEW_USER = {"username": "jdoe", "email": "jdoe@example.com", "password": "hunter2-very-secret", "firstName": "Jo"}


@pytest.fixture
def petstore_upstream():
    recorder = Recorder()

    def respond(method, path, body):
        data = json.loads(body or b"{}")
        return 200, {"id": 1001, "username": data.get("username"), "status": "created"}

    server = serve_recorder(recorder, respond)
    yield recorder
    server.shutdown()
    server.server_close()


def test_reviewer_approves_in_the_browser_and_sees_it_executed(page, live_server, shot, people, petstore_upstream,
                                                                 celery_worker_process):
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide
    from apps.inventory.selectors import current_tools

    world = build_world(people, petstore_upstream.url)
    world.tool = current_tools(world.project).get(name="createUser")
    two_step = requirement(approvals=2, order="sequential", label="Admin actions in production",
                           steps=[{"kind": "team", "value": "finance"}, {"kind": "role", "value": "reviewer"}])
    request = queue_request(world, arguments=NEW_USER, req=two_step,
                            justification="Ticket HR-4412: onboard Jo Doe before Monday's start date.")
    approval_decide(request=request, reviewer=world.finance_reviewer, decision="approve",
                    comment="Headcount approved")
    world.tool = current_tools(world.project).get(name="placeOrder")
    queue_request(world, arguments=ORDER_ARGS)
    queue_request(world, req=requirement(steps=[{"kind": "team", "value": "finance"}]),
                  justification="Refill of the Finance-only supplies order")

    login(page, live_server, people.reviewer.email, PASSWORD)
    page.goto(f"{live_server.url}/o/acme/approvals/")
    page.wait_for_selector("[data-testid=approval-queue]")
    assert page.inner_text("[data-testid=nav-approvals-count]") == "3"
    rows = page.locator("[data-testid=approval-row]")
    assert rows.count() == 2  # the Finance-only request is not the reviewer's to approve
    assert "1 of 2" in page.inner_text("[data-testid=approval-queue]")
    shot(page, "approvals-01-queue")
    page.click("[data-testid=scope-all]")
    page.wait_for_selector("[data-testid=approval-queue]")
    assert page.locator("[data-testid=approval-row]").count() == 3
    assert "waiting for team Finance" in page.inner_text("[data-testid=approval-queue]")
    shot(page, "approvals-02-queue-all")

    page.goto(f"{live_server.url}/o/acme/approvals/{request.public_id}/")
    arguments = page.inner_text("[data-testid=arguments]")
    assert "hunter2-very-secret" not in arguments and "[REDACTED]" in arguments and "jdoe" in arguments
    assert "HR-4412" in page.inner_text("[data-testid=justification]")
    steps = page.inner_text("[data-testid=approval-steps]")
    assert "Approved by fin-reviewer@acme.test" in steps and "Waiting for a reviewer or higher" in steps
    shot(page, "approvals-03-review")

    page.fill("textarea[name=comment]", "Matches the HR ticket")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=approval-status][data-status=executed]", timeout=60_000)
    status_text = page.inner_text("[data-testid=approval-status]")
    assert "Approved and executed" in status_text and "HTTP 200" in status_text
    assert "jdoe" in page.inner_text("[data-testid=approval-result]")
    shot(page, "approvals-04-executed")

    assert petstore_upstream.count() == 1
    sent = json.loads(petstore_upstream.requests[0]["body"])
    assert sent["password"] == "hunter2-very-secret"  # the stored arguments, unmasked, exactly once
    request = ApprovalRequest.objects.get(pk=request.pk)
    assert request.status == "executed"
    # after reload the badge no longer counts the executed request...
    page.goto(f"{live_server.url}/o/acme/approvals/")
    assert page.inner_text("[data-testid=nav-approvals-count]") == "2"
    page.goto(f"{live_server.url}/o/acme/p/{world.project.slug}/")
    assert page.inner_text("[data-testid=approvals-pending]") == "2"
    shot(page, "approvals-08-project-panel")
    # ...and htmx polls it every 15 s, so a new request shows up without a reload
    queue_request(world, arguments=ORDER_ARGS, justification="Second order for the same customer")
    page.wait_for_function(
        "document.querySelector('[data-testid=nav-approvals-count]').innerText.trim() === '3'", timeout=25_000)


def test_admin_configures_the_webhook(page, live_server, shot, people, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    login(page, live_server, people.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/o/acme/approvals/settings/")
    page.fill("input[name=url]", "http://127.0.0.1:9/hook")
    page.check("input[name=generate_secret]")
    page.click("button[value=save]")
    assert "private or loopback" in page.inner_text("[data-testid=webhook-form]")
    shot(page, "approvals-05-settings-refused")
    settings.WEBHOOK_ALLOW_PRIVATE = True
    page.fill("input[name=url]", "http://127.0.0.1:9/hook")
    page.check("input[name=generate_secret]")
    page.click("button[value=save]")
    secret = page.inner_text("[data-testid=new-secret]")
    assert secret.startswith("whsec_")
    shot(page, "approvals-06-settings-secret-once")
    page.goto(f"{live_server.url}/o/acme/approvals/settings/")
    assert secret not in page.content()
    assert page.inner_text("[data-testid=secret-mask]").endswith(secret[-4:])
    page.click("button[value=test]")
    page.wait_for_selector("[data-testid=deliveries] >> text=webhook.test")
    shot(page, "approvals-07-settings-delivery")
