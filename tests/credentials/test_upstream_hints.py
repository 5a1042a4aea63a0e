"""Issue 18, item 5: the upstream base URL is prefilled from the spec's ``servers``, and saving a
loopback URL without the private-network switch warns that calls will be refused."""

import json

import pytest

from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

SPEC = {"openapi": "3.0.3", "info": {"title": "Ledger", "version": "1"},
        "servers": [{"url": "/relative"}, {"url": "https://ledger.example.com/v2"}],
        "paths": {"/entries": {"get": {"operationId": "listEntries", "responses": {"200": {"description": "ok"}}}}}}


@pytest.fixture
def ledger(people):
    project = make_project(people.org, people.owner, name="Ledger")
    assert import_spec(project, "ledger.json", people.owner, data=json.dumps(SPEC).encode()).status == "ready"
    return project


def test_base_url_is_prefilled_from_servers_until_saved(people, client_for, ledger):
    url = f"/o/{people.org.slug}/p/{ledger.slug}/governance/credentials/development/"
    page = client_for(people.admin).get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="https://ledger.example.com/v2"' in html and 'data-testid="base-url-suggested"' in html


def test_saving_a_loopback_url_without_the_switch_warns(people, client_for, ledger):
    client = client_for(people.admin)
    url = f"/o/{people.org.slug}/p/{ledger.slug}/governance/credentials/development/"
    page = client.post(url, {"base_url": "http://127.0.0.1:4010"}, follow=True).content.decode()
    assert "saved" in page and "Calls will be refused: 127.0.0.1 is a private or loopback address" in page
    page = client.post(url, {"base_url": "http://localhost:4010"}, follow=True).content.decode()
    assert "Calls will be refused" in page
    page = client.post(url, {"base_url": "http://127.0.0.1:4010", "allow_private_network": "on"},
                       follow=True).content.decode()
    assert "Calls will be refused" not in page
    page = client.post(url, {"base_url": "https://ledger.example.com/v2"}, follow=True).content.decode()
    assert "Calls will be refused" not in page


def test_the_no_upstream_badge_links_to_where_it_is_fixed(people, client_for, ledger):
    html = client_for(people.admin).get(f"/o/{people.org.slug}/p/{ledger.slug}/").content.decode()
    fix = f'href="/o/{people.org.slug}/p/{ledger.slug}/governance/credentials/development/"'
    assert 'data-testid="no-upstream-url"' in html and fix in html
