"""Upstream credentials on the real database: set, rotate, destroy, use (every scheme kind,
OAuth2 client credentials against a real local token server), masked everywhere, the
security-report flow, and access control of every page and endpoint."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import DomainError
from apps.credentials import oauth, selectors, services
from apps.credentials.models import Credential, CredentialVersion
from apps.governance.selectors import governance_facts
from apps.inventory.selectors import tool_by_name
from tests.conftest import SPECS_DIR
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db

API_KEY = "pk_live_petstore_4b1d9e7f2a6c8e0d5f3a9b7c"
BEARER = "eyJhbGciOiJIUzI1NiJ9.e30.bearer-token-7788"
PASSWORD = "basic-password-that-is-long-9931"
CLIENT_SECRET = "client-secret-for-token-endpoint-5521"


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    return project, {e.slug: e for e in project.environments.all()}


@pytest.fixture
def tictactoe(people):
    project = make_project(people.org, people.owner, name="Tic Tac Toe")
    import_spec(project, "tictactoe-v3.1.yaml", people.owner)
    return project, {e.slug: e for e in project.environments.all()}


class TokenServer:
    """A real OAuth2 token endpoint on 127.0.0.1 that counts the grants it serves."""

    def __init__(self, expires_in=3600, refresh_token=""):
        self.requests: list[dict] = []
        self.expires_in = expires_in
        self.refresh_token = refresh_token
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                auth = self.headers.get("Authorization", "")
                server.requests.append({"form": {k: v[0] for k, v in body.items()}, "authorization": auth})
                expected = "Basic " + base64.b64encode(f"game-client:{CLIENT_SECRET}".encode()).decode()
                if auth != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                token = f"access-{len(server.requests)}"
                payload = {"access_token": token, "token_type": "bearer", "expires_in": server.expires_in}
                if server.refresh_token:
                    payload["refresh_token"] = server.refresh_token
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_api_key_is_sent_where_the_scheme_says_and_missing_schemes_are_named(people, petstore):
    project, envs = petstore
    prod = envs["production"]
    get_pet, delete_pet = tool_by_name(project, "getPetById"), tool_by_name(project, "deletePet")
    place_order = tool_by_name(project, "placeOrder")   # declares no security
    with pytest.raises(services.CredentialMissing) as missing:
        services.upstream_auth(prod, get_pet)
    assert str(missing.value) == "No credential configured for scheme 'api_key' in production"

    version = services.credential_set(environment=prod, scheme_name="api_key", values={"value": API_KEY},
                                      actor=people.admin)
    assert version.masked == "\u2022" * 4 + API_KEY[-4:]
    auth = services.upstream_auth(prod, get_pet)
    assert auth.headers == {"api_key": API_KEY} and not auth.query and not auth.cookies
    assert API_KEY not in repr(auth)
    # deletePet accepts only petstore_auth: the key does not help, the error names the scheme, not a value
    with pytest.raises(services.CredentialMissing, match="scheme 'petstore_auth' in production"):
        services.upstream_auth(prod, delete_pet)
    assert services.upstream_auth(prod, place_order).headers == {}
    # other environments have their own credentials
    with pytest.raises(services.CredentialMissing, match="in staging"):
        services.upstream_auth(envs["staging"], get_pet)


def test_set_refuses_unknown_schemes_and_bad_values(people, petstore):
    project, envs = petstore
    prod = envs["production"]
    with pytest.raises(DomainError, match="no security scheme 'stripe'"):
        services.credential_set(environment=prod, scheme_name="stripe", values={"value": "x"}, actor=people.admin)
    with pytest.raises(DomainError, match="API key is required"):
        services.credential_set(environment=prod, scheme_name="api_key", values={"value": "  "}, actor=people.admin)
    with pytest.raises(DomainError, match="single line"):
        services.credential_set(environment=prod, scheme_name="api_key", values={"value": "a\nb"}, actor=people.admin)
    # petstore_auth offers only an implicit flow: a pasted access token, not client credentials
    with pytest.raises(DomainError, match="takes oauth2_token"):
        services.credential_set(environment=prod, scheme_name="petstore_auth", kind="oauth2_client_credentials",
                                values={"client_id": "a", "client_secret": "b"}, actor=people.admin)
    assert not Credential.objects.exists()


def test_bearer_basic_and_oauth2_client_credentials_with_token_cache(people, tictactoe, monkeypatch):
    project, envs = tictactoe
    prod = envs["production"]
    get_board, get_square = tool_by_name(project, "get-board"), tool_by_name(project, "get-square")
    services.credential_set(environment=prod, scheme_name="bearerHttpAuthentication", values={"token": BEARER},
                            actor=people.admin)
    assert services.upstream_auth(prod, get_square).headers == {"Authorization": f"Bearer {BEARER}"}
    services.credential_set(environment=prod, scheme_name="basicHttpAuthentication",
                            values={"username": "player", "password": PASSWORD}, actor=people.admin)
    expected = "Basic " + base64.b64encode(f"player:{PASSWORD}".encode()).decode()
    basic_only = SimpleNamespace(security=[{"basicHttpAuthentication": []}])
    materials = services.upstream_secrets(prod, basic_only)
    assert [m.scheme_name for m in materials] == ["basicHttpAuthentication"]
    assert PASSWORD not in repr(materials)  # decrypted material never shows in a repr or traceback
    assert services.auth_from_secrets(materials, prod).headers == {"Authorization": expected}

    with TokenServer(expires_in=3600) as server:
        services.credential_set(environment=prod, scheme_name="app2AppOauth",
                                values={"client_id": "game-client", "client_secret": CLIENT_SECRET},
                                config={"token_url": server.url}, actor=people.admin)
        # a loopback token URL is refused until the environment allows private networks
        with pytest.raises(services.CredentialUnavailable, match="private or loopback"):
            services.upstream_auth(prod, get_board)
        prod.allow_private_network = True
        prod.save()
        auth = services.upstream_auth(prod, get_board)
        assert auth.headers == {"Authorization": "Bearer access-1"}
        assert server.requests[0]["form"] == {"grant_type": "client_credentials", "scope": "board:read"}
        assert services.upstream_auth(prod, get_board).headers == {"Authorization": "Bearer access-1"}
        assert len(server.requests) == 1   # cached in memory until shortly before expiry

        # expiry: pretend time passed beyond expires_in - margin; a new token is fetched
        real = oauth._now
        monkeypatch.setattr(oauth, "_now", lambda: real() + 3600)
        assert services.upstream_auth(prod, get_board).headers == {"Authorization": "Bearer access-2"}
        assert len(server.requests) == 2

        # rotation: the new secret never reuses a token fetched with the old one
        services.credential_set(environment=prod, scheme_name="app2AppOauth",
                                values={"client_id": "game-client", "client_secret": CLIENT_SECRET},
                                config={"token_url": server.url}, actor=people.admin)
        assert services.upstream_auth(prod, get_board).headers == {"Authorization": "Bearer access-3"}

        # a refused grant is reported without the secret or the response body
        services.credential_set(environment=prod, scheme_name="app2AppOauth",
                                values={"client_id": "game-client", "client_secret": "wrong-secret-123456"},
                                config={"token_url": server.url}, actor=people.admin)
        with pytest.raises(services.CredentialUnavailable) as refused:
            services.upstream_auth(prod, get_board)
        assert "HTTP 401" in str(refused.value) and "wrong-secret" not in str(refused.value)


def test_refresh_token_is_used_when_the_server_issues_one(people, tictactoe, monkeypatch):
    project, envs = tictactoe
    prod = envs["production"]
    prod.allow_private_network = True
    prod.save()
    get_board = tool_by_name(project, "get-board")
    with TokenServer(expires_in=60, refresh_token="refresh-abc") as server:
        services.credential_set(environment=prod, scheme_name="app2AppOauth",
                                values={"client_id": "game-client", "client_secret": CLIENT_SECRET},
                                config={"token_url": server.url, "scopes": "board:read"}, actor=people.admin)
        services.upstream_auth(prod, get_board)
        real = oauth._now
        monkeypatch.setattr(oauth, "_now", lambda: real() + 45)
        assert services.upstream_auth(prod, get_board).headers == {"Authorization": "Bearer access-2"}
        assert server.requests[1]["form"] == {"grant_type": "refresh_token", "refresh_token": "refresh-abc"}


def test_rotation_keeps_the_old_version_for_in_flight_calls_then_destroys_it(people, petstore):
    project, envs = petstore
    prod = envs["production"]
    get_pet = tool_by_name(project, "getPetById")
    v1 = services.credential_set(environment=prod, scheme_name="api_key", values={"value": API_KEY},
                                 actor=people.admin)
    new_key = "pk_live_rotated_key_000000000000000001"
    v2 = services.credential_set(environment=prod, scheme_name="api_key", values={"value": new_key},
                                 actor=people.admin)
    v1.refresh_from_db()
    assert (v1.number, v1.status, v2.number, v2.status) == (1, "retiring", 2, "active")
    assert v1.retire_after > timezone.now() and bytes(v1.ciphertext)
    credential = Credential.objects.get()
    assert credential.active_version == 2
    # the retiring version still decrypts (calls that read it finish); new calls get version 2
    assert services._decrypt(credential, v1, services._provider()) == {"value": API_KEY}
    assert services.upstream_auth(prod, get_pet).headers == {"api_key": new_key}

    assert services.credential_destroy_due() == 0                       # grace period not over
    assert services.credential_destroy_due(now=v1.retire_after + timedelta(seconds=1)) == 1
    v1.refresh_from_db()
    assert v1.status == "destroyed" and bytes(v1.ciphertext) == b"" and bytes(v1.wrapped_dek) == b""
    assert v1.kek_id == "" and v1.masked   # nothing left to decrypt; the mask stays for the history
    assert services.upstream_auth(prod, get_pet).headers == {"api_key": new_key}

    types = list(AuditEvent.objects.filter(organization=people.org, event_type__startswith="credential.")
                 .order_by("seq").values_list("event_type", "payload"))
    assert [t for t, _ in types] == ["credential.set", "credential.rotated", "credential.destroyed"]
    assert types[1][1]["before"]["version"] == 1 and types[1][1]["after"]["version"] == 2
    dumped = json.dumps([p for _, p in types])
    assert API_KEY not in dumped and new_key not in dumped and API_KEY[-4:] not in dumped


def test_credential_flow_and_stale_findings(people, petstore, settings):
    project, envs = petstore
    prod = envs["production"]
    services.credential_set(environment=prod, scheme_name="api_key", values={"value": API_KEY}, actor=people.admin)
    flow = {row["scheme"]: row for row in selectors.credential_flow(prod)}
    assert set(flow) == {"api_key", "petstore_auth"}
    assert flow["api_key"]["configured"] and flow["api_key"]["placement"] == "API key in header api_key"
    assert flow["api_key"]["kind"] == "api_key" and flow["api_key"]["age_days"] == 0 and not flow["api_key"]["stale"]
    assert "AES-256-GCM" in flow["api_key"]["storage"] and "credentials.manage" in flow["api_key"]["who_can_change"]
    assert flow["api_key"]["exposed_to_agents"] is False and flow["api_key"]["tools"] == 2
    assert not flow["petstore_auth"]["configured"]
    assert API_KEY not in json.dumps(flow, default=str) and API_KEY[-4:] not in json.dumps(flow, default=str)
    assert selectors.credential_findings(project) == []

    Credential.objects.update(rotated_at=timezone.now() - timedelta(days=120))
    settings.CREDENTIAL_MAX_AGE_DAYS = 90
    findings = selectors.credential_findings(project)
    assert [f["code"] for f in findings] == ["credential_stale"] and "120 days old (limit 90)" in findings[0]["title"]
    assert selectors.credential_flow(prod)[0]["stale"] is True
    from apps.governance import services as gov

    gov.tool_set_enabled(project=project, environment=prod, operation_keys=["GET /store/inventory"], enabled=True,
                         actor=people.admin, reason="confirmed in test")
    (env_facts,) = governance_facts(project, prod).environments
    assert env_facts.credentials_configured and env_facts.credential_age_days == 120
    settings.CREDENTIAL_MAX_AGE_DAYS = 200
    assert selectors.credential_findings(project) == []


def test_pages_and_api_show_only_the_masked_value(people, petstore, client_for, api_for):
    project, envs = petstore
    admin = client_for(people.admin)
    url = f"/o/acme/p/{project.slug}/governance/credentials/production/"
    response = admin.post(url + "schemes/api_key/", {"kind": "api_key", "value": API_KEY})
    assert response.status_code == 302
    page = admin.get(url)
    html = page.content.decode()
    assert "\u2022\u2022\u2022\u2022" + API_KEY[-4:] in html and API_KEY not in html
    for message in page.context["messages"]:
        assert API_KEY not in str(message)
    viewer_html = client_for(people.viewer).get(url).content.decode()
    assert API_KEY not in viewer_html and "Rotate" not in viewer_html

    api = api_for(people.admin)
    base = f"/api/v1/projects/{project.public_id}/environments/production/credentials/"
    rotated = api.post(base + "api_key/rotate/", {"values": {"value": "pk_live_second_key_1234567890ABCD"}},
                       format="json")
    assert rotated.status_code == 200 and rotated.json()["masked"] == "\u2022\u2022\u2022\u2022ABCD"
    assert rotated.json()["version"] == 2 and rotated.json()["retiring_versions"] == [1]
    listing = api_for(people.viewer).get(base)
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "pk_live_second_key" not in text and API_KEY not in text
    created = api.put(base + "petstore_auth/", {"kind": "oauth2_token", "values": {"access_token": "t" * 40}},
                      format="json")
    assert created.status_code == 201 and "t" * 40 not in created.content.decode()
    missing = api.post(f"/api/v1/projects/{project.public_id}/environments/staging/credentials/api_key/rotate/",
                       {"values": {"value": "x" * 20}}, format="json")
    assert missing.status_code == 400 and "set it first" in missing.json()["detail"]
    bad = api.put(base + "api_key/", {"values": {}}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"] == "API key is required."

    settings_url = f"/o/acme/p/{project.slug}/settings/environments/production/"
    response = admin.post(settings_url, {"base_url": "ftp://files", "allow_private_network": "on"})
    assert "must start with https://" in response.content.decode()
    admin.post(settings_url, {"base_url": "https://petstore3.swagger.io/api/v3"})
    envs["production"].refresh_from_db()
    assert envs["production"].base_url == "https://petstore3.swagger.io/api/v3"
    event = AuditEvent.objects.filter(event_type="environment.updated").latest("seq")
    assert event.payload == {"before": {"base_url": "", "allow_private_network": False},
                             "after": {"base_url": "https://petstore3.swagger.io/api/v3",
                                       "allow_private_network": False}}


RANK = ["viewer", "member", "reviewer", "admin", "owner"]


def credential_requests(people, project):
    page = f"/o/{people.org.slug}/p/{project.slug}/governance/credentials/"
    api = f"/api/v1/projects/{project.public_id}/environments/staging/credentials/"
    html = [
        ("get", page, None, "viewer"),
        ("get", page + "staging/", None, "viewer"),
        ("post", f"/o/{people.org.slug}/p/{project.slug}/settings/environments/staging/",
         {"base_url": "https://api.example.com"}, "admin"),
        ("post", page + "staging/schemes/api_key/", {"kind": "api_key", "value": API_KEY}, "admin"),
    ]
    rest = [
        ("get", api, None, "viewer"),
        ("put", api + "api_key/", {"values": {"value": API_KEY}}, "admin"),
        ("post", api + "api_key/rotate/", {"values": {"value": API_KEY + "2"}}, "admin"),
    ]
    return html, rest


def test_credentials_access_control(people, petstore, client_for, api_for):
    project, _ = petstore
    html, rest = credential_requests(people, project)
    outsider_client, outsider_api = client_for(people.outsider), api_for(people.outsider)
    for method, url, data, _ in html:
        assert getattr(outsider_client, method)(url, data or {}).status_code == 404, url
    for method, url, data, _ in rest:
        assert getattr(outsider_api, method)(url, data, format="json").status_code == 404, url
    for role in RANK[:3]:
        client, api = client_for(people.by_role(role)), api_for(people.by_role(role))
        for method, url, data, minimum in html:
            if RANK.index(role) < RANK.index(minimum):
                assert getattr(client, method)(url, data or {}).status_code == 403, (role, url)
        for method, url, data, minimum in rest:
            if RANK.index(role) < RANK.index(minimum):
                assert getattr(api, method)(url, data, format="json").status_code == 403, (role, url)
    for method, url, data, minimum in html:
        assert getattr(client_for(people.by_role(minimum)), method)(url, data or {}).status_code in (200, 302), url
    for method, url, data, minimum in rest:
        response = getattr(api_for(people.by_role(minimum)), method)(url, data, format="json")
        assert response.status_code in (200, 201), (url, response.content)
    assert not CredentialVersion.objects.filter(status="destroyed").exists()


@pytest.mark.parametrize("base_url,words", [
    ("https://api.example.com/v1?api_key=k1", "must not contain a query (?...) or a fragment (#...)"),
    ("https://api.example.com/v1#section", "must not contain a query (?...) or a fragment (#...)"),
    ("https://api.example.com/v1?", "must not contain a query (?...) or a fragment (#...)"),
    ("https://user:secret@api.example.com/v1", "must not contain credentials"),
])
def test_a_base_url_the_gateway_cannot_call_is_never_stored(people, petstore, client_for, base_url, words):
    """The gateway refuses such a URL at call time (not_configured); the settings page refuses
    to store it, with the reason, so it never gets there."""
    project, envs = petstore
    production = envs["production"]
    services.environment_upstream_set(environment=production, base_url="https://api.example.com/v1",
                                      allow_private_network=False, actor=people.admin)
    events = AuditEvent.objects.filter(event_type="environment.updated").count()
    with pytest.raises(DomainError) as exc:
        services.environment_upstream_set(environment=production, base_url=base_url, allow_private_network=True,
                                          actor=people.admin)
    assert exc.value.field == "base_url" and exc.value.message.startswith(f"The base URL {words}")

    url = f"/o/{people.org.slug}/p/{project.slug}/settings/environments/production/"
    response = client_for(people.admin).post(url, {"base_url": base_url, "allow_private_network": "on"})
    assert response.status_code == 200  # the page again, with the error; no redirect
    assert [str(m) for m in response.context["messages"]] == [exc.value.message]
    production.refresh_from_db()
    assert (production.base_url, production.allow_private_network) == ("https://api.example.com/v1", False)
    assert AuditEvent.objects.filter(event_type="environment.updated").count() == events


def _petstore_with_api_key_in(header: str) -> bytes:
    text = (SPECS_DIR / "petstore-v3.yaml").read_text()
    marker = "    api_key:\n      type: apiKey\n      name: api_key\n"
    assert marker in text
    return text.replace(marker, f"    api_key:\n      type: apiKey\n      name: {header}\n").encode()


def test_an_api_key_the_gateway_cannot_send_is_refused_at_set_up_with_the_reason(people, client_for, api_for):
    project = make_project(people.org, people.owner, name="Legacy Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner, data=_petstore_with_api_key_in("Host"))
    prod = project.environments.get(slug="production")
    reason = "Scheme 'api_key' cannot be used: it puts the key in the Host header, which the gateway sets itself"
    with pytest.raises(DomainError, match=reason):
        services.credential_set(environment=prod, scheme_name="api_key", values={"value": API_KEY},
                                actor=people.admin)

    page = f"/o/acme/p/{project.slug}/governance/credentials/production/"
    admin = client_for(people.admin)
    html = unescape(admin.get(page).content.decode())
    assert "API key in header Host (unusable)" in html and "not supported" in html
    assert reason in html and 'data-testid="set-api_key-api_key"' not in html   # no form for it
    response = admin.post(page + "schemes/api_key/", {"kind": "api_key", "value": API_KEY}, follow=True)
    assert response.status_code == 200 and reason in unescape(response.content.decode())

    api = api_for(people.admin)
    base = f"/api/v1/projects/{project.public_id}/environments/production/credentials/"
    refused = api.put(base + "api_key/", {"values": {"value": API_KEY}}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"].startswith(reason)
    listed = {row["scheme"]: row for row in api.get(base).json()["credentials"]}
    assert listed["api_key"]["supported"] is False and listed["api_key"]["note"].startswith(reason)
    assert listed["petstore_auth"]["supported"] is True
    assert not Credential.objects.filter(environment__project=project).exists()
    assert not AuditEvent.objects.filter(event_type__startswith="credential.").exists()
    # the import already said so: a finding that lowers the Security Score and names the tools
    findings = api.get(f"/api/v1/projects/{project.public_id}/findings/", {"category": "security"}).json()
    unusable = [f for f in findings["findings"] if f["code"] == "upstream_auth_unusable"]
    assert len(unusable) == 1 and unusable[0]["points"] > 0
    assert reason in unusable[0]["message"]
    # getInventory accepts only api_key; getPetById may also use petstore_auth, so it is not stuck
    assert unusable[0]["tools"] == ["getInventory"]


def test_a_credential_stored_in_such_a_place_before_is_not_sent_and_the_call_is_refused(people, petstore,
                                                                                        client_for, api_for):
    from apps.gateway.upstream import UpstreamError, prepare_request

    project, envs = petstore
    prod = envs["production"]
    prod.base_url = "https://petstore3.swagger.io/api/v3"
    prod.save()
    services.credential_set(environment=prod, scheme_name="api_key", values={"value": API_KEY}, actor=people.admin)
    # as if stored before the check existed: the placement the credential was saved with
    Credential.objects.filter(environment=prod, scheme_name="api_key").update(
        config={"in": "header", "param": "Content-Length"})
    get_pet = tool_by_name(project, "getPetById")
    with pytest.raises(services.CredentialUnavailable) as unavailable:
        services.upstream_auth(prod, get_pet)
    assert str(unavailable.value) == (
        "The credential for scheme 'api_key' in production cannot be used: The API key cannot be sent: it puts "
        "the key in the Content-Length header, which the gateway sets itself (it frames or routes the request).")
    with pytest.raises(UpstreamError) as refused:
        prepare_request(tool=get_pet, environment=prod, arguments={"petId": 1})
    assert refused.value.code == "credentials" and API_KEY not in refused.value.message

    html = unescape(client_for(people.admin).get(
        f"/o/acme/p/{project.slug}/governance/credentials/production/").content.decode())
    assert "set, cannot be sent" in html and API_KEY not in html
    assert "Calls that need this credential are refused: it puts the key in the Content-Length header" in html
    rows = {row["scheme"]: row for row in api_for(people.viewer).get(
        f"/api/v1/projects/{project.public_id}/environments/production/credentials/").json()["credentials"]}
    assert rows["api_key"]["cannot_send"].startswith("it puts the key in the Content-Length header")
    assert rows["petstore_auth"]["cannot_send"] == ""


def test_a_new_spec_version_that_moves_the_api_key_moves_the_stored_keys_with_it(people, petstore):
    from apps.gateway.upstream import prepare_request

    project, envs = petstore
    prod, staging = envs["production"], envs["staging"]
    prod.base_url = "https://petstore3.swagger.io/api/v3"
    prod.save()
    for env, key in ((prod, API_KEY), (staging, "pk_staging_key_0123456789abcdef")):
        services.credential_set(environment=env, scheme_name="api_key", values={"value": key}, actor=people.admin)
    inventory = tool_by_name(project, "getInventory")
    assert services.upstream_auth(prod, inventory).headers == {"api_key": API_KEY}

    assert import_spec(project, "petstore-v3.yaml", people.owner,
                       data=_petstore_with_api_key_in("X-Api-Key")).status == "ready"
    inventory = tool_by_name(project, "getInventory")   # the row of the new current version
    assert services.upstream_auth(prod, inventory).headers == {"X-Api-Key": API_KEY}
    assert services.upstream_auth(staging, inventory).headers == {"X-Api-Key": "pk_staging_key_0123456789abcdef"}
    request = prepare_request(tool=inventory, environment=prod, arguments={})
    assert request.headers["x-api-key"] == API_KEY and "api_key" not in request.headers
    # same secret, same version: only where it is sent changed, each move audited after the analysis
    assert list(CredentialVersion.objects.filter(credential__project=project).values_list("number", flat=True)) \
        == [1, 1]
    events = list(AuditEvent.objects.filter(event_type__in=["spec.analysed", "credential.moved"]).order_by("seq")
                  .values_list("event_type", "actor_label", "payload"))
    assert [e[0] for e in events] == ["spec.analysed", "spec.analysed", "credential.moved", "credential.moved"]
    moved = {e[2]["environment"]: e[2] for e in events[2:]}
    assert moved["production"] == {"project": project.slug, "environment": "production", "scheme": "api_key",
                                   "spec_version": 2, "before": {"in": "header", "param": "api_key"},
                                   "after": {"in": "header", "param": "X-Api-Key"}}
    assert {e[1] for e in events[2:]} == {"analysis worker"}
    assert API_KEY not in json.dumps([e[2] for e in events])

    # the same placement again moves nothing; a place HTTP cannot carry is not followed
    import_spec(project, "petstore-v3.yaml", people.owner, data=_petstore_with_api_key_in("X-Api-Key"))
    import_spec(project, "petstore-v3.yaml", people.owner, data=_petstore_with_api_key_in("Content-Length"))
    assert AuditEvent.objects.filter(event_type="credential.moved").count() == 2
    assert [c.config for c in Credential.objects.filter(project=project)] == [
        {"in": "header", "param": "X-Api-Key"}] * 2
