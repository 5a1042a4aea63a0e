"""A member generates a security report in the browser, watches its progress, downloads the
PDF; a viewer downloads it too. The first PDF pages are rendered to PNG for a human to check."""

import subprocess

import pytest

from tests.conftest import ARTIFACTS_DIR, PASSWORD
from tests.e2e.conftest import login
from tests.factories import import_spec, make_project

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_generate_watch_and_download_a_report(page, live_server, shot, people, celery_worker_process):
    from apps.audit.models import AuditEvent
    from apps.reports.models import Report

    project = make_project(people.org, people.owner, name="Adyen Checkout")
    import_spec(project, "adyen-checkout-v71.json", people.owner)
    project.owner_contact = "payments-platform@acme.test"
    project.save()

    login(page, live_server, people.member.email, PASSWORD)
    page.goto(f"{live_server.url}/o/{people.org.slug}/p/{project.slug}/")
    page.wait_for_selector("[data-testid=reports-panel]")
    assert "No security report yet" in page.inner_text("[data-testid=reports-panel]")
    page.click("[data-testid=open-reports]")
    page.wait_for_selector("[data-testid=reports-empty]")
    shot(page, "30-reports-empty")

    page.select_option("[data-testid=report-environment]", "all")
    page.click("[data-testid=generate-report]")
    row = page.locator("[data-testid=report-row]").first
    row.wait_for()
    if row.get_attribute("data-status") in ("queued", "running"):
        shot(page, "31-report-in-progress")
    # htmx polls the row until the worker is done
    page.wait_for_selector("[data-testid=report-row][data-status=ready]", timeout=120_000)
    shot(page, "32-report-ready")
    report = Report.objects.get(project=project)
    assert page.inner_text("[data-testid=report-score]").strip() == str(report.score)

    with page.expect_download() as info:
        page.click("[data-testid=download-report]")
    download = info.value
    path = ARTIFACTS_DIR / "security-report-adyen.pdf"
    download.save_as(str(path))
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data == bytes(report.pdf)
    assert download.suggested_filename.startswith("mcpforge-security-report-adyen-checkout-all-")
    assert download.suggested_filename.endswith(".pdf")
    # the first pages as images, for a human to look at
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "5", str(path),
                    str(ARTIFACTS_DIR / "security-report-page")], check=True)
    assert (ARTIFACTS_DIR / "security-report-page-01.png").exists()

    # the HTML version opens in a new tab
    with page.context.expect_page() as tab_info:
        page.click("[data-testid=view-report]")
    tab = tab_info.value
    tab.wait_for_load_state()
    assert "1. Executive summary" in tab.inner_text("body")
    shot(tab, "33-report-html")
    tab.close()

    # the project page now shows the latest report
    page.goto(f"{live_server.url}/o/{people.org.slug}/p/{project.slug}/")
    assert str(report.score) in page.inner_text("[data-testid=reports-panel]")
    shot(page, "34-project-with-report")
    events = list(AuditEvent.objects.filter(event_type__startswith="report.").order_by("seq")
                  .values_list("event_type", "payload__format"))
    assert events == [("report.generated", None), ("report.downloaded", "pdf"), ("report.downloaded", "html")]


def test_viewer_downloads_but_cannot_generate(page, live_server, people):
    from tests.reports.conftest import build_report

    project = make_project(people.org, people.owner, name="Adyen Checkout")
    import_spec(project, "adyen-checkout-v71.json", people.owner)
    build_report(project, people.owner)
    login(page, live_server, people.viewer.email, PASSWORD)
    page.goto(f"{live_server.url}/o/{people.org.slug}/p/{project.slug}/reports/")
    assert page.locator("[data-testid=generate-report]").count() == 0
    assert "can read and download reports" in page.inner_text("[data-testid=generate-card]")
    with page.expect_download() as info:
        page.click("[data-testid=download-report]")
    assert info.value.path().read_bytes().startswith(b"%PDF-")
