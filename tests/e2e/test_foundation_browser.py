"""A new user signs up, creates an organization and a project, and sees it all in the audit log."""

import pytest

from apps.audit.models import AuditEvent


@pytest.mark.django_db(transaction=True)
def test_signup_org_project_and_audit_log(page, live_server, shot):
    page.goto(f"{live_server.url}/accounts/signup/")
    shot(page, "01-signup")
    page.fill("input[name=email]", "founder@startup.test")
    page.fill("input[name=password1]", "a-long-and-unique-passphrase-9")
    page.fill("input[name=password2]", "a-long-and-unique-passphrase-9")
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")

    # no organization yet: the welcome page offers to create one
    assert "Welcome to MCPForge" in page.content()
    page.click("text=New organization")
    page.fill("input[name=name]", "Startup Inc")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=No projects yet")
    shot(page, "02-empty-org")

    page.click("text=Create a project")
    page.fill("input[name=name]", "Payments API")
    page.fill("textarea[name=description]", "Card payments and refunds")
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:has-text('Payments API')")
    for env in ("development", "staging", "production"):
        assert page.locator(f"td:has-text('{env}')").count() >= 1
    shot(page, "03-project")

    page.click("text=Audit log")
    table = page.locator("[data-testid=audit-table]")
    table.wait_for()
    text = table.inner_text()
    assert "organization.created" in text and "project.created" in text
    assert "founder@startup.test" in text
    shot(page, "04-audit-log")

    # the filters work in the page
    page.select_option("select[name=event_type]", "project.created")
    page.click("button:has-text('Filter')")
    page.wait_for_load_state("networkidle")
    text = page.locator("[data-testid=audit-table]").inner_text()
    assert "project.created" in text and "organization.created" not in text
    assert AuditEvent.objects.filter(event_type="project.created", actor_label="founder@startup.test").count() == 1


@pytest.mark.django_db(transaction=True)
def test_bad_login_shows_a_clear_error(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", "nobody@startup.test")
    page.fill("input[name=password]", "wrong")
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "not correct" in page.content()
