"""Issue 18, item 10: a failed import offers "upload a corrected file"; Retry only when a retry
could succeed (a crash or a timeout, not an invalid document); a URL import offers to fetch the
URL again; failed imports show on the organization dashboard; read-only roles get no action."""

import pytest

from apps.audit.models import AuditEvent
from apps.specs.models import SpecVersion
from apps.specs.services import spec_mark_failed
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

BROKEN = b"openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: 7\n"


def test_an_invalid_document_offers_a_corrected_upload_and_no_retry(people, client_for):
    project = make_project(people.org, people.owner, name="Broken")
    version = import_spec(project, "broken.yaml", people.owner, data=BROKEN)
    assert version.status == "failed" and version.retryable is False
    url = f"/o/{people.org.slug}/p/{project.slug}/specs/{version.number}/"
    html = client_for(people.admin).get(url).content.decode()
    assert 'data-testid="upload-corrected"' in html and f"/o/{people.org.slug}/p/{project.slug}/specs/import/" in html
    assert 'data-testid="retry"' not in html and 'data-testid="no-retry"' in html
    viewer = client_for(people.viewer).get(url).content.decode()
    assert 'data-testid="upload-corrected"' not in viewer
    # a forged retry is refused with a clear message; nothing is queued, nothing audited
    member = client_for(people.member)
    response = member.post(f"{url}retry/", follow=True)
    assert "import a corrected file" in response.content.decode()
    version.refresh_from_db()
    assert version.status == "failed"
    assert not AuditEvent.objects.filter(event_type="spec.analysis_retried").exists()


def test_a_crash_offers_retry_and_the_retry_is_queued(people, client_for):
    project = make_project(people.org, people.owner, name="Crashy")
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    SpecVersion.objects.filter(pk=version.pk).update(status="queued", is_current=False)
    spec_mark_failed(version, "The analysis crashed (MemoryError). Retry, and report it if it persists.",
                     retryable=True)
    url = f"/o/{people.org.slug}/p/{project.slug}/specs/{version.number}/"
    client = client_for(people.member)
    html = client.get(url).content.decode()
    assert 'data-testid="retry"' in html and 'data-testid="upload-corrected"' in html
    assert client.post(f"{url}retry/").status_code == 302
    version.refresh_from_db()
    assert version.status == "queued" and version.retryable is False
    assert AuditEvent.objects.filter(event_type="spec.analysis_retried").count() == 1


def test_a_failed_url_import_offers_to_fetch_the_url_again(people, client_for):
    project = make_project(people.org, people.owner, name="Remote")
    version = import_spec(project, "broken.yaml", people.owner, data=BROKEN)
    SpecVersion.objects.filter(pk=version.pk).update(source="url", source_url="https://specs.example.com/api.yaml")
    client = client_for(people.member)
    html = client.get(f"/o/{people.org.slug}/p/{project.slug}/specs/{version.number}/").content.decode()
    assert 'data-testid="import-url-again"' in html
    assert "via=url&amp;url=https%3A//specs.example.com/api.yaml" in html
    form = client.get(f"/o/{people.org.slug}/p/{project.slug}/specs/import/",
                      {"via": "url", "url": "https://specs.example.com/api.yaml"}).content.decode()
    assert 'value="https://specs.example.com/api.yaml"' in form


def test_the_dashboard_shows_failed_imports_score_and_pending_approvals(people, client_for):
    ok = make_project(people.org, people.owner, name="Healthy")
    import_spec(ok, "petstore-v3.yaml", people.owner)
    broken = make_project(people.org, people.owner, name="Broken")
    import_spec(broken, "petstore-v3.yaml", people.owner)
    failed = import_spec(broken, "broken.yaml", people.owner, data=BROKEN)
    html = client_for(people.reviewer).get(f"/o/{people.org.slug}/").content.decode()
    cards = {chunk.split('"', 1)[0]: chunk for chunk in html.split('data-project="')[1:]}
    assert set(cards) == {"healthy", "broken"}
    assert 'data-testid="card-failed-import"' in cards["broken"]
    assert f"Import of version {failed.number} failed" in cards["broken"]
    assert 'data-testid="card-failed-import"' not in cards["healthy"]
    for card in cards.values():
        assert 'data-testid="card-score">Score ' in card
        assert "0 approvals waiting for a decision" in card
    # a later successful import clears it
    import_spec(broken, "petstore-v3.yaml", people.owner)
    html = client_for(people.reviewer).get(f"/o/{people.org.slug}/").content.decode()
    assert 'data-testid="card-failed-import"' not in html
    # pending approvals are for those who decide them
    assert "waiting for a decision" not in client_for(people.viewer).get(f"/o/{people.org.slug}/").content.decode()


def test_the_version_diff_shows_the_risk_of_added_tools(people, client_for):
    """Issue 18 item 12: an added tool shows its risk level and category, in words."""
    import yaml

    from tests.conftest import SPECS_DIR

    project = make_project(people.org, people.owner, name="Diff")
    document = yaml.safe_load((SPECS_DIR / "petstore-v3.yaml").read_text())
    del document["paths"]["/store/order/{orderId}"]
    import_spec(project, "petstore-v3.yaml", people.owner, data=yaml.safe_dump(document).encode())
    import_spec(project, "petstore-v3.yaml", people.owner)
    html = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/specs/diff/").content.decode()
    added = html.split('data-testid="diff-added"')[1].split("</ul>")[0]
    rows = {row.split("<strong>")[1].split("<")[0]: row for row in added.split('data-testid="added-tool"')[1:]}
    assert set(rows) == {"getOrderById", "deleteOrder"}
    assert 'data-testid="added-risk">Critical risk</span>' in rows["deleteOrder"]
    assert "badge-risk-critical" in rows["deleteOrder"] and "Critical" in rows["deleteOrder"]
    assert 'data-testid="added-risk">Medium risk</span>' in rows["getOrderById"]
    assert "Read-only" in rows["getOrderById"]
