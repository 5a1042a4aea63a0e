"""Every filter and paging parameter of the list pages and list endpoints answers 400 with a
clear message on hostile input (NUL and other control characters, 30-digit and negative and
non-numeric and Unicode-digit numbers, 100 KB strings), never a 500; pages re-show the form,
the REST API answers a JSON ``detail``, and an export is refused before its stream starts."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

BAD_TEXT = {"NUL": "ab\x00cd", "ESC": "a\x1b[31m", "DEL": "x\x7f", "100 KB": "x" * 100_000}
BAD_NUMBER = {"NUL": "1\x00", "30 digits": "1" * 30, "negative": "-5", "non-numeric": "ten", "100 KB": "9" * 100_000,
              "Unicode digits": "٣", "fullwidth": "１２", "ESC": "\x1b1"}

AUDIT_TEXT = ["actor", "event_type", "target", "date_from", "date_to"]
APPROVAL_TEXT = ["scope", "status", "project", "environment", "tool", "risk"]
TOOL_TEXT = ["q", "method", "tag", "category", "risk_level", "sort"]


@pytest.fixture
def project(people):
    project = make_project(people.org, people.owner, name="Petstore")
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


def page_table(people, project):
    org, p = people.org.slug, project.slug
    return [
        # (url, text params, number params)
        (f"/o/{org}/audit/", AUDIT_TEXT, ["before"]),
        (f"/o/{org}/audit/export.json", AUDIT_TEXT, []),
        (f"/o/{org}/audit/export.csv", AUDIT_TEXT, []),
        (f"/o/{org}/approvals/", APPROVAL_TEXT, ["page"]),
        (f"/o/{org}/p/{p}/tools/", TOOL_TEXT, ["page"]),
        (f"/o/{org}/p/{p}/governance/permissions/", ["q", "category", "tag"], ["page"]),
        (f"/o/{org}/p/{p}/reports/", [], ["page"]),
    ]


def api_table(people, project):
    org, pid = people.org.slug, project.public_id
    return [
        (f"/api/v1/organizations/{org}/audit-events/", AUDIT_TEXT, ["limit", "offset"]),
        (f"/api/v1/organizations/{org}/approvals/", APPROVAL_TEXT, []),
        (f"/api/v1/projects/{pid}/tools/", TOOL_TEXT, ["limit", "offset"]),
        ("/api/v1/projects/", [], ["limit", "offset"]),
    ]


def cases(table):
    for url, text, numbers in table:
        for param in text:
            for name, value in BAD_TEXT.items():
                yield url, param, name, value
        for param in numbers:
            for name, value in BAD_NUMBER.items():
                yield url, param, name, value


def test_pages_answer_400_with_the_message_and_the_form(people, project, client_for):
    client = client_for(people.owner)
    assert page_table(people, project)
    failures = []
    with_form = {url for url, text, _ in page_table(people, project) if text}
    for url, param, name, value in cases(page_table(people, project)):
        response = client.get(url, {param: value})
        body = response.content.decode()
        if response.status_code != 400 or "alert-danger" not in body or (
                url in with_form and 'method="get"' not in body):
            failures.append((url, param, name, response.status_code))
    assert failures == []


def test_page_message_names_the_problem(people, project, client_for):
    client = client_for(people.owner)
    body = client.get(f"/o/{people.org.slug}/audit/", {"actor": "a\x00b"}).content.decode()
    assert "actor contains a control character (U+0000)" in body
    body = client.get(f"/o/{people.org.slug}/approvals/", {"page": "1" * 30}).content.decode()
    assert "page is too large" in body
    body = client.get(f"/o/{people.org.slug}/p/{project.slug}/tools/", {"q": "x" * 100_000}).content.decode()
    assert "search is too long (100000 characters; at most 200)" in body


def test_rest_answers_400_with_a_json_detail(people, project, api_for):
    client = api_for(people.owner)
    failures = []
    for url, param, name, value in cases(api_table(people, project)):
        response = client.get(url, {param: value})
        detail = response.json().get("detail") if response.status_code == 400 else None
        if not isinstance(detail, str) or not detail:
            failures.append((url, param, name, response.status_code))
    assert failures == []
    r = client.get("/api/v1/projects/", {"limit": "1" * 30})
    assert r.json() == {"detail": "limit is too large (at most 1000).", "field": "limit"}
    r = client.get("/api/v1/projects/", {"offset": "-1"})
    assert "offset must not be negative" in r.json()["detail"]


def test_good_values_still_work(people, project, api_for, client_for):
    client = api_for(people.owner)
    assert client.get("/api/v1/projects/", {"limit": "1", "offset": "0"}).status_code == 200
    assert client.get(f"/api/v1/projects/{project.public_id}/tools/", {"q": "pet", "method": "get",
                                                                      "limit": "5"}).json()["count"] > 0
    page = client_for(people.owner).get(f"/o/{people.org.slug}/audit/", {"actor": "owner@acme.test", "before": "1"})
    assert page.status_code == 200 and "alert-danger" not in page.content.decode()


def test_export_is_refused_before_the_stream_starts(people, client_for):
    client = client_for(people.owner)
    before = AuditEvent.objects.filter(organization=people.org, event_type="audit.exported").count()
    response = client.get(f"/o/{people.org.slug}/audit/export.json", {"target": "\x00"})
    assert response.status_code == 400 and not response.streaming
    assert "Content-Disposition" not in response
    assert "object contains a control character" in response.content.decode()
    # a refused export is not an export
    assert AuditEvent.objects.filter(organization=people.org, event_type="audit.exported").count() == before


def test_no_list_endpoint_answers_500_to_hostile_query_strings(people, project, api_for, client_for):
    """Sweep: every GET endpoint of the REST API and every list page, with every parameter name
    any list reads set to a NUL byte: 4xx at worst, never a 500."""
    from tests.accounts.test_token_tenancy import api_routes, methods_of

    names = {*AUDIT_TEXT, *APPROVAL_TEXT, *TOOL_TEXT, "page", "before", "limit", "offset", "severity", "from", "to",
             "user", "arguments", "environment"}
    hostile = {name: "\x00" for name in names}
    client = api_for(people.owner)
    failures = []
    values = {"org_slug": people.org.slug, "id": str(project.public_id), "env": "production", "name": "getPetById",
              "number": "1", "scheme": "api_key"}
    for route, view in api_routes():
        if "get" not in methods_of(view) or any(f"<{k}" in route or f":{k}>" in route
                                                for k in ("grant_id", "policy_id", "rid", "request_id")):
            continue
        url = "/api/v1/" + route
        for key, value in values.items():
            url = url.replace(f"<slug:{key}>", value).replace(f"<str:{key}>", value).replace(f"<int:{key}>", value)
        response = client.get(url, hostile)
        if response.status_code >= 500:
            failures.append(url)
    pages = client_for(people.owner)
    for url, _, _ in page_table(people, project):
        if pages.get(url, hostile).status_code >= 500:
            failures.append(url)
    assert failures == []


@pytest.mark.parametrize("value", ["1" * 30, "-1", "٣", "\x00", "1" * 100_000])
def test_spec_diff_version_numbers(people, project, api_for, client_for, value):
    r = api_for(people.owner).get(f"/api/v1/projects/{project.public_id}/specs/diff/", {"from": value, "to": "1"})
    assert r.status_code == 400 and "version numbers" in r.json()["detail"]
    import_spec(project, "petstore-v3.yaml", people.owner)  # a second version: the page offers a diff
    page = client_for(people.owner).get(f"/o/{people.org.slug}/p/{project.slug}/specs/diff/", {"from": value})
    assert page.status_code == 400 and "Choose two existing versions." in page.content.decode()
