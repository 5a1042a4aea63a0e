"""Issue 18, item 5 and issue 23, item 6: an environment's upstream settings (base URL and the
private-network switch) live on its settings page, prefilled from the spec's ``servers``, with a
warning when saved settings will be refused and a notice when private access is on; every
"no upstream URL" badge links there; the same settings through REST with the same checks."""

import json

import pytest

from apps.audit.models import AuditEvent
from apps.projects.upstream import upstream_note
from apps.specs.servers import suggested_base_url
from tests.factories import import_spec, make_project

SPEC = {"openapi": "3.0.3", "info": {"title": "Ledger", "version": "1"},
        "servers": [{"url": "/relative"}, {"url": "https://ledger.example.com/v2"}],
        "paths": {"/entries": {"get": {"operationId": "listEntries", "responses": {"200": {"description": "ok"}}}}}}


def _ledger(people, servers=None):
    project = make_project(people.org, people.owner, name="Ledger")
    spec = dict(SPEC, servers=servers) if servers is not None else SPEC
    assert import_spec(project, "ledger.json", people.owner, data=json.dumps(spec).encode()).status == "ready"
    return project


def page(people, project, env="development"):
    return f"/o/{people.org.slug}/p/{project.slug}/settings/environments/{env}/"


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize("servers,source,expected", [
    (["/relative", "https://ledger.example.com/v2"], "", "https://ledger.example.com/v2"),
    (["https://a.example.com", "https://b.example.com"], "", "https://a.example.com"),
    (["/v1"], "https://specs.example.com/ledger/openapi.json", "https://specs.example.com/v1"),
    (["v1/"], "https://specs.example.com/ledger/openapi.json", "https://specs.example.com/ledger/v1/"),
    (["/v1"], "", ""),  # uploaded: nothing to resolve against
    (["/v1", "/v2"], "https://specs.example.com/openapi.json", ""),  # two candidates: ambiguous
    (["https://{region}.example.com"], "", ""),  # a variable without default
    (["ftp://files.example.com"], "", ""),
    ([], "https://specs.example.com/openapi.json", ""),
])
def test_suggested_base_url(servers, source, expected):
    assert suggested_base_url(servers, source) == expected


@pytest.mark.parametrize("url,allow,level,words", [
    ("http://127.0.0.1:4010", False, "warning", "Calls will be refused: 127.0.0.1 is a private or loopback"),
    ("http://localhost:4010", False, "warning", "Calls will be refused"),
    ("http://[::1]:4010", False, "warning", "Calls will be refused: ::1"),
    ("http://10.1.2.3", False, "warning", "Tick \"Allow a private or loopback upstream address\""),
    ("http://169.254.169.254", True, "warning", "is never called"),
    ("http://127.0.0.1:4010", True, "info", "Private network access is on: the gateway will call 127.0.0.1"),
    ("https://api.example.com", True, "info", "Private network access is on"),
])
def test_upstream_note(url, allow, level, words):
    note = upstream_note(url, allow)
    assert note is not None and note.level == level and words in note.text


def test_no_note_for_a_public_url_or_none():
    assert upstream_note("https://api.example.com", False) is None
    assert upstream_note("http://93.184.216.34", False) is None
    assert upstream_note("", True) is None


# --------------------------------------------------------------------------- the page


@pytest.mark.django_db
def test_base_url_is_prefilled_from_servers_until_saved(people, client_for):
    project = _ledger(people)
    client = client_for(people.admin)
    html = client.get(page(people, project)).content.decode()
    assert 'value="https://ledger.example.com/v2"' in html and 'data-testid="base-url-suggested"' in html
    client.post(page(people, project), {"base_url": "https://other.example.com"})
    html = client.get(page(people, project)).content.decode()
    assert 'value="https://other.example.com"' in html and 'data-testid="base-url-suggested"' not in html


@pytest.mark.django_db
def test_relative_servers_of_an_uploaded_spec_prefill_nothing(people, client_for):
    project = _ledger(people, servers=[{"url": "/v2"}])
    html = client_for(people.admin).get(page(people, project)).content.decode()
    assert 'data-testid="base-url-suggested"' not in html and 'value=""' in html


@pytest.mark.django_db
def test_saving_says_what_the_settings_mean(people, client_for):
    project = _ledger(people)
    client, url = client_for(people.admin), page(people, project)

    def save(data):
        response = client.post(url, data, follow=True)
        assert response.redirect_chain[-1][0] == url
        return [(m.level_tag, str(m)) for m in response.context["messages"]], response.content.decode()

    messages, html = save({"base_url": "http://127.0.0.1:4010"})
    ((level, text),) = messages
    assert level == "warning" and text.startswith("Upstream settings of development saved. Calls will be refused: "
                                                  "127.0.0.1 is a private or loopback address")
    assert text.endswith('Tick "Allow a private or loopback upstream address" if this is intended.')
    assert 'data-testid="upstream-note"' in html
    messages, _ = save({"base_url": "http://localhost:4010"})
    assert messages[0][0] == "warning" and "Calls will be refused" in messages[0][1]
    messages, html = save({"base_url": "http://127.0.0.1:4010", "allow_private_network": "on"})
    assert messages[0][0] == "success" and "saved. Private network access is on: the gateway will call 127.0.0.1" \
        in messages[0][1]
    assert "Calls will be refused" not in html
    messages, html = save({"base_url": "https://ledger.example.com/v2"})
    assert messages == [("success", "Upstream settings of development saved.")]
    assert 'data-testid="upstream-note"' not in html
    events = AuditEvent.objects.filter(organization=people.org, event_type="environment.updated").order_by("seq")
    assert [e.payload["after"] for e in events] == [
        {"base_url": "http://127.0.0.1:4010", "allow_private_network": False},
        {"base_url": "http://localhost:4010", "allow_private_network": False},
        {"base_url": "http://127.0.0.1:4010", "allow_private_network": True},
        {"base_url": "https://ledger.example.com/v2", "allow_private_network": False},
    ]


@pytest.mark.django_db
def test_a_refused_url_keeps_what_was_typed_and_stores_nothing(people, client_for):
    project = _ledger(people)
    response = client_for(people.admin).post(page(people, project),
                                             {"base_url": "https://u:p@api.example.com", "allow_private_network": "on"})
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["The base URL must not contain credentials."]
    html = response.content.decode()
    assert 'value="https://u:p@api.example.com"' in html and "checked" in html
    assert not AuditEvent.objects.filter(event_type="environment.updated").exists()


@pytest.mark.django_db
def test_every_no_upstream_badge_links_to_the_environment_settings(people, client_for):
    project = _ledger(people)
    client = client_for(people.admin)
    fix = f'href="{page(people, project)}"'
    base = f"/o/{people.org.slug}/p/{project.slug}/"
    for url in (base, base + "settings/", base + "connect/development/", base + "governance/credentials/development/"):
        html = client.get(url).content.decode()
        assert 'data-testid="no-upstream-url"' in html and fix in html, url
    client.post(page(people, project), {"base_url": "https://ledger.example.com/v2"})
    html = client.get(base).content.decode()
    assert f'href="{page(people, project)}" title="Set the upstream base URL of development"' not in html


@pytest.mark.django_db
def test_credentials_page_shows_the_settings_and_links_to_them(people, client_for):
    project = _ledger(people)
    url = f"/o/{people.org.slug}/p/{project.slug}/governance/credentials/development/"
    for role in ("admin", "viewer"):
        html = client_for(people.by_role(role)).get(url).content.decode()
        assert 'data-testid="to-upstream-settings"' in html and f'href="{page(people, project)}"' in html
        assert 'name="base_url"' not in html
    assert client_for(people.admin).post(url, {"base_url": "https://x.example.com"}).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["reviewer", "member", "viewer"])
def test_read_only_roles_see_text_not_inputs(people, client_for, role):
    project = _ledger(people)
    client_for(people.admin).post(page(people, project), {"base_url": "https://ledger.example.com/v2"})
    html = client_for(people.by_role(role)).get(page(people, project)).content.decode()
    assert 'data-testid="upstream-read-only"' in html and "https://ledger.example.com/v2" in html
    assert "<input" not in html.split('data-testid="upstream-card"')[1] and "Save</button>" not in html
    assert client_for(people.by_role(role)).post(page(people, project), {"base_url": ""}).status_code == 403


@pytest.mark.django_db
def test_outsider_404_and_unknown_environment_404(people, client_for):
    project = _ledger(people)
    outsider = client_for(people.outsider)
    assert outsider.get(page(people, project)).status_code == 404
    assert outsider.post(page(people, project), {"base_url": "https://x.example.com"}).status_code == 404
    assert client_for(people.admin).get(page(people, project, "nowhere")).status_code == 404


# --------------------------------------------------------------------------- REST


def api_url(project, env="production"):
    return f"/api/v1/projects/{project.public_id}/environments/{env}/upstream/"


@pytest.mark.django_db
def test_rest_reads_and_sets_the_upstream_with_the_same_checks(people, api_for):
    project = _ledger(people)
    api, url = api_for(people.admin), api_url(project)
    assert api_for(people.viewer).get(url).json() == {
        "environment": "production", "base_url": "", "allow_private_network": False, "note": None,
        "note_level": None}
    response = api.put(url, {"base_url": "http://127.0.0.1:4010", "allow_private_network": False}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["base_url"] == "http://127.0.0.1:4010" and body["note_level"] == "warning"
    assert body["note"].startswith("Calls will be refused")
    response = api.patch(url, {"allow_private_network": True}, format="json")
    assert response.status_code == 200 and response.json()["base_url"] == "http://127.0.0.1:4010"
    assert response.json()["note_level"] == "info"
    event = AuditEvent.objects.filter(event_type="environment.updated").latest("seq")
    assert event.actor == people.admin and event.payload == {
        "before": {"base_url": "http://127.0.0.1:4010", "allow_private_network": False},
        "after": {"base_url": "http://127.0.0.1:4010", "allow_private_network": True}}
    # the service's validation, as a 400 naming the field
    bad = api.put(url, {"base_url": "https://api.example.com/v1?api_key=k", "allow_private_network": True},
                  format="json")
    assert bad.status_code == 400 and "must not contain a query" in bad.json()["detail"]
    assert api.put(url, {"base_url": "https://api.example.com"}, format="json").status_code == 400  # both for PUT
    assert api.patch(url, {"allow_private_network": "maybe"}, format="json").status_code == 400
    environment = project.environments.get(slug="production")
    assert (environment.base_url, environment.allow_private_network) == ("http://127.0.0.1:4010", True)


@pytest.mark.django_db
def test_rest_outsider_404_and_wrong_role_403(people, api_for):
    project = _ledger(people)
    url = api_url(project)
    body = {"base_url": "http://10.0.0.1", "allow_private_network": True}
    outsider = api_for(people.outsider)
    assert outsider.get(url).status_code == 404
    for method in ("put", "patch"):
        assert getattr(outsider, method)(url, body, format="json").status_code == 404
    assert api_for(people.admin).get(api_url(project, "nowhere")).status_code == 404
    for role in ("viewer", "member", "reviewer"):
        for method in ("put", "patch"):
            response = getattr(api_for(people.by_role(role)), method)(url, body, format="json")
            assert response.status_code == 403, (role, method)
    refused = AuditEvent.objects.filter(organization=people.org, event_type="access.refused")
    assert refused.count() == 6 and {e.payload["capability"] for e in refused} == {"credentials.manage"}
    assert not AuditEvent.objects.filter(event_type="environment.updated").exists()
    assert project.environments.get(slug="production").base_url == ""


@pytest.mark.django_db
def test_the_endpoint_is_in_the_openapi_schema(people, api_for):
    schema = api_for(people.viewer).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    path = schema["paths"]["/api/v1/projects/{id}/environments/{env}/upstream/"]
    assert set(path) >= {"get", "put", "patch"}
