"""The authorization server's guards, through Django's test client (no browser needed):
PKCE, single-use codes and consent states, exact redirect URIs, resource indicators."""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse

import pytest

pytestmark = pytest.mark.django_db

SITE = "http://testserver"
CALLBACK = "http://127.0.0.1:53682/callback"


@pytest.fixture
def setup(settings, people):
    from tests.factories import make_project

    settings.SITE_URL = SITE
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": SITE}
    project = make_project(people.org, people.owner)
    env = project.environments.get(slug="development")
    other_project = make_project(people.other_org, people.outsider, name="Evil")
    return {"people": people, "resource": f"{SITE}/mcp/{people.org.slug}/{project.slug}/development/",
            "env": env, "foreign": f"{SITE}/mcp/{people.other_org.slug}/{other_project.slug}/development/"}


def register(client, redirect_uris=(CALLBACK,)) -> str:
    answer = client.post("/oauth/register/", data={
        "client_name": "Guard Agent", "redirect_uris": list(redirect_uris), "grant_types": ["authorization_code",
        "refresh_token"], "response_types": ["code"], "token_endpoint_auth_method": "none"},
        content_type="application/json")
    assert answer.status_code == 201, answer.content
    return answer.json()["client_id"]


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(client_id, challenge, resource, *, state=None, method="S256", redirect_uri=CALLBACK):
    state = state or "s-" + secrets.token_hex(8)
    return {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
            "code_challenge": challenge, "code_challenge_method": method, "resource": resource, "scope": "mcp"}


def consent(client, params):
    """Show the consent page, then allow: the redirect's query (code, state, iss)."""
    shown = client.get("/oauth/authorize/", params)
    assert shown.status_code == 200, shown.content[:500]
    form = {**shown.context["form"].initial, "allow": "Authorize"}
    form = {k: v for k, v in form.items() if v is not None}
    answer = client.post("/oauth/authorize/", form)
    return answer


def code_from(answer) -> dict:
    assert answer.status_code == 302, answer.content[:500]
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(answer["Location"]).query).items()}


def exchange(client, client_id, code, verifier, resource=None):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": client_id,
            "code_verifier": verifier}
    if resource:
        data["resource"] = resource
    return client.post("/oauth/token/", data)


def test_code_with_right_verifier_gives_a_bound_token_once(setup, client_for):
    from apps.oauth.models import TokenBinding

    browser = client_for(setup["people"].member)
    client_id = register(browser)
    verifier, challenge = pkce()
    query = code_from(consent(browser, authorize_params(client_id, challenge, setup["resource"])))
    assert query["iss"] == SITE
    token = exchange(browser, client_id, query["code"], verifier)
    assert token.status_code == 200, token.content
    body = token.json()
    assert body["access_token"].startswith("mcpfo_") and body["expires_in"] <= 600
    assert TokenBinding.objects.get().environment == setup["env"]
    # Reused code: refused.
    assert exchange(browser, client_id, query["code"], verifier).status_code == 400
    # The REST API never accepts an OAuth access token (it opens one MCP endpoint only).
    from django.test import Client

    api = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert api.status_code in (401, 403)


def test_wrong_pkce_verifier_is_refused(setup, client_for):
    browser = client_for(setup["people"].member)
    client_id = register(browser)
    _verifier, challenge = pkce()
    query = code_from(consent(browser, authorize_params(client_id, challenge, setup["resource"])))
    answer = exchange(browser, client_id, query["code"], secrets.token_urlsafe(48))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_plain_pkce_and_missing_pkce_are_refused(setup, client_for):
    browser = client_for(setup["people"].member)
    client_id = register(browser)
    verifier, _ = pkce()
    plain = browser.get("/oauth/authorize/", authorize_params(client_id, verifier, setup["resource"], method="plain"))
    assert plain.status_code in (302, 400)
    assert "code=" not in plain.get("Location", "")
    params = authorize_params(client_id, "x", setup["resource"])
    params.pop("code_challenge"), params.pop("code_challenge_method")
    missing = browser.get("/oauth/authorize/", params)
    assert "code=" not in missing.get("Location", "") and missing.status_code in (302, 400)


def test_reused_state_is_refused_and_audited(setup, client_for):
    from apps.audit.models import AuditEvent

    browser = client_for(setup["people"].member)
    client_id = register(browser)
    _verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, setup["resource"], state="same-state")
    code_from(consent(browser, params))
    # The same consent form posted again, and the same state shown and answered again.
    shown = browser.get("/oauth/authorize/", params)
    form = {k: v for k, v in {**shown.context["form"].initial, "allow": "Authorize"}.items() if v is not None}
    again = browser.post("/oauth/authorize/", form)
    assert again.status_code == 400 and b"state reused" in again.content
    replay = browser.post("/oauth/authorize/", form)
    assert replay.status_code == 400 and b"already answered" in replay.content
    assert AuditEvent.objects.filter(event_type="oauth.consent_refused").count() == 2


def test_unregistered_redirect_uri_is_refused_without_redirect(setup, client_for):
    browser = client_for(setup["people"].member)
    client_id = register(browser)
    _verifier, challenge = pkce()
    for uri in ("http://127.0.0.1:53682/callback/other", "http://evil.test/callback", CALLBACK + "?x=1"):
        answer = browser.get("/oauth/authorize/", authorize_params(client_id, challenge, setup["resource"],
                                                                   redirect_uri=uri))
        assert answer.status_code == 400 or "evil" not in answer.get("Location", "")
        assert "code=" not in answer.get("Location", "")
        assert b"authorizationForm" not in answer.content


@pytest.mark.parametrize("which", ["foreign", "missing", "malformed", "two"])
def test_resource_must_be_one_endpoint_of_your_organization(setup, client_for, which):
    browser = client_for(setup["people"].member)
    client_id = register(browser)
    _verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, setup["resource"])
    if which == "foreign":
        params["resource"] = setup["foreign"]
    elif which == "missing":
        params.pop("resource")
    elif which == "malformed":
        params["resource"] = "https://elsewhere.test/mcp/acme/petstore/development/"
    else:
        params["resource"] = [setup["resource"], setup["resource"].replace("development", "staging")]
    answer = browser.get("/oauth/authorize/", params)
    assert answer.status_code == 400 and b"exactly one MCP endpoint" in answer.content


def test_token_request_cannot_widen_the_resource(setup, client_for):
    browser = client_for(setup["people"].member)
    client_id = register(browser)
    verifier, challenge = pkce()
    query = code_from(consent(browser, authorize_params(client_id, challenge, setup["resource"])))
    answer = exchange(browser, client_id, query["code"], verifier, resource=setup["foreign"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_target"


def test_consent_page_needs_login_and_is_not_frameable(setup, client):
    answer = client.get("/oauth/authorize/", {"client_id": "x", "resource": setup["resource"]})
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_only_code_and_refresh_grants(setup, client_for):
    browser = client_for(setup["people"].member)
    client_id = register(browser)
    answer = browser.post("/oauth/token/", {"grant_type": "client_credentials", "client_id": client_id})
    assert answer.status_code in (400, 401)
    assert "access_token" not in answer.json()


@pytest.mark.parametrize("client_id", [
    "https://127.0.0.1/oauth/client.json",
    "https://localhost/oauth/client.json",
    "https://169.254.169.254/latest/meta-data/client.json",
    "https://[::1]/client.json",
    "https://10.0.0.7/client.json",
    "http://client.example.test/client.json",  # not https
])
def test_cimd_document_on_private_address_is_never_fetched(setup, client_for, client_id):
    from oauth2_provider.models import Application

    browser = client_for(setup["people"].member)
    _verifier, challenge = pkce()
    answer = browser.get("/oauth/authorize/", authorize_params(client_id, challenge, setup["resource"]))
    assert answer.status_code in (400, 401, 403) or "error=" in answer.get("Location", "")
    assert "code=" not in answer.get("Location", "")
    assert not Application.objects.filter(client_id=client_id).exists()


def test_cimd_fetcher_refuses_private_addresses_through_egress():
    from oauth2_provider.cimd import CIMDError

    from apps.oauth.cimd import EgressMetadataFetcher

    for url in ("https://127.0.0.1/c.json", "https://10.0.0.7/c.json", "https://localhost/c.json"):
        with pytest.raises(CIMDError, match="private or loopback address"):
            EgressMetadataFetcher().fetch(url)


def test_metadata_advertises_cimd(setup, client):
    assert client.get("/.well-known/oauth-authorization-server").json()["client_id_metadata_document_supported"]


def test_plain_http_redirect_only_to_loopback(setup, client_for):
    browser = client_for(setup["people"].member)
    client_id = register(browser, redirect_uris=("http://agent.example.test/callback",))
    _verifier, challenge = pkce()
    answer = browser.get("/oauth/authorize/", authorize_params(client_id, challenge, setup["resource"],
                                                               redirect_uri="http://agent.example.test/callback"))
    assert "code=" not in answer.get("Location", "")
    assert b"authorizationForm" not in answer.content  # no consent form for that client
