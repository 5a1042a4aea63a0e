"""Rug pull by re-import, in the browser: the project page says a tool changed since review,
the admin opens the side-by-side diff (the injection highlighted and escaped), is refused
without an override reason, then overrides and accepts (screenshots rug-01..03)."""

import pytest

from apps.audit.models import AuditEvent
from apps.governance.models import ToolSetting
from tests.conftest import PASSWORD
from tests.e2e.conftest import login
from tests.gateway.test_definition_pinning import REFUND
from tests.governance.test_definition_reviews import pending_world


@pytest.mark.django_db(transaction=True)
def test_admin_reviews_the_diff_and_overrides_to_accept(page, live_server, shot, people):
    project, production, setting = pending_world(people)
    base = f"{live_server.url}/o/{people.org.slug}/p/{project.slug}"

    login(page, live_server, people.admin.email, PASSWORD)
    page.goto(f"{base}/")
    pending = page.locator("[data-testid=pending-reviews]")
    assert "1 tool changed since review" in pending.inner_text()
    pending.locator("a").click()
    page.locator("[data-testid=review-table]").wait_for()
    assert "flagged" in page.locator("[data-testid=review-table]").inner_text()
    page.click("[data-testid=open-review]")

    diff = page.locator("[data-testid=definition-diff]")
    diff.wait_for()
    assert "<IMPORTANT>" in diff.inner_text()  # shown as text, never as markup
    assert page.locator("[data-testid=definition-diff] .diff_add, [data-testid=definition-diff] .diff_chg").count()
    assert "instruction block" in page.locator("[data-testid=poisoning-findings]").inner_text()
    page.locator("[data-testid=accept-button]").scroll_into_view_if_needed()
    shot(page, "rug-01-review-diff-and-accept")

    # the reason is required in the browser too; bypassing that, the server refuses
    page.evaluate("document.getElementById('override_reason').removeAttribute('required')")
    page.click("[data-testid=accept-button]")
    page.locator("[data-testid=review-error]").wait_for()
    assert "explicit override" in page.locator("[data-testid=review-error]").inner_text()
    shot(page, "rug-02-accept-refused-without-reason")

    page.fill("#override_reason", "Vendor confirmed the wording, ticket SEC-42")
    page.click("[data-testid=accept-button]")
    page.locator("text=Every enabled tool serves the definition an admin reviewed").wait_for()
    shot(page, "rug-03-accepted")
    current = ToolSetting.objects.get(environment=production, operation_key=REFUND)
    assert current.pending_tool_id is None and "IMPORTANT" in current.pinned_definition["description"]
    assert AuditEvent.objects.filter(event_type="tool.definition_override",
                                     payload__reason="Vendor confirmed the wording, ticket SEC-42").count() == 1


@pytest.mark.django_db(transaction=True)
def test_reviewer_sees_the_diff_read_only(page, live_server, shot, people):
    project, production, setting = pending_world(people)
    login(page, live_server, people.reviewer.email, PASSWORD)
    page.goto(f"{live_server.url}/o/{people.org.slug}/p/{project.slug}/governance/reviews/{setting.public_id}/")
    page.locator("[data-testid=definition-diff]").wait_for()
    assert page.locator("[data-testid=accept-button]").count() == 0
    assert "Read-only" in page.locator("[data-testid=read-only-note]").inner_text()
