"""Client registration on its success paths, and its audit trail.

* CIMD: a client metadata document served over real TLS by a local HTTPS server (certificate
  from a CA made here, trusted through ``SSL_CERT_FILE``). The egress guard refuses it by default
  (loopback); an operator who lists the host in ``OAUTH_CIMD_PRIVATE_HOSTS`` lets it through, and
  the full authorization (consent, code, PKCE exchange) then works. Certificate checks and the
  never-reached ranges (link-local, metadata) hold whatever the list says.
* DCR: each registration is kept with the address it came from, and written into an
  organization's audit chain the first time the client reaches it.
* Revocation of a client from the authorised-clients page is audited with who and for whom.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.audit.models import AuditEvent
from tests.oauth.test_oauth_guards import (  # noqa: F401 - setup is a fixture
    CALLBACK,
    authorize_params,
    code_from,
    consent,
    exchange,
    pkce,
    register,
    setup,
)

pytestmark = pytest.mark.django_db


def _cert(subject: str, issuer_key, issuer_name, key, *, ca: bool, sans=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class _Dual(ThreadingHTTPServer):
    address_family = socket.AF_INET6  # "localhost" may resolve to ::1 or 127.0.0.1: serve both

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


@pytest.fixture
def metadata_server(tmp_path):
    """An HTTPS server on loopback for ``localhost`` serving client metadata documents:
    ``/<name>/client.json`` answers a document whose client_id is its own URL."""
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MCPForge test CA")])
    ca = _cert("MCPForge test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = _cert("localhost", ca_key, ca_name, leaf_key, ca=False,
                 sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                       x509.IPAddress(ipaddress.ip_address("::1"))])
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem) + leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            served.append(self.path)
            url = f"https://localhost:{self.server.server_address[1]}{self.path}"
            if self.path.startswith("/impostor/"):  # a document claiming to be another client
                url = "https://agent.example/client.json"
            body = json.dumps({"client_id": url, "client_name": "Private Network Agent", "redirect_uris": [CALLBACK],
                               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                               "token_endpoint_auth_method": "none"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Dual(("::", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "leaf.pem"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield type("Served", (), {"base": f"https://localhost:{server.server_address[1]}", "paths": served,
                                  "ca": str(tmp_path / "ca.pem")})
    finally:
        server.shutdown()
        server.server_close()


def test_cimd_on_a_private_network_refused_by_default_then_allowed_for_a_listed_host(
        setup, client_for, metadata_server, settings, monkeypatch):  # noqa: F811
    from oauth2_provider.models import Application

    monkeypatch.setenv("SSL_CERT_FILE", metadata_server.ca)
    browser = client_for(setup["people"].member)

    # default: no private hosts listed, the guard refuses loopback before connecting
    assert settings.OAUTH_CIMD_PRIVATE_HOSTS == []
    refused_id = f"{metadata_server.base}/default/client.json"
    _verifier, challenge = pkce()
    answer = browser.get("/oauth/authorize/", authorize_params(refused_id, challenge, setup["resource"]))
    assert "code=" not in answer.get("Location", "") and b"authorizationForm" not in answer.content
    assert metadata_server.paths == []  # nothing was even fetched
    assert not Application.objects.filter(client_id=refused_id).exists()
    page = answer.content.decode()  # the person is told why, not only "Invalid client_id"
    assert "This application could not be identified" in page and refused_id in page
    assert "private or loopback address" in page and "OAUTH_CIMD_PRIVATE_HOSTS" in page

    # the operator lists the host: the document is fetched (TLS verified) and the flow completes
    settings.OAUTH_CIMD_PRIVATE_HOSTS = ["localhost"]
    client_id = f"{metadata_server.base}/agent/client.json"
    verifier, challenge = pkce()
    shown = browser.get("/oauth/authorize/", authorize_params(client_id, challenge, setup["resource"]))
    assert shown.status_code == 200, shown.content[:500]
    assert "Private Network Agent" in shown.content.decode() and CALLBACK in shown.content.decode()
    assert metadata_server.paths == ["/agent/client.json"]
    query = code_from(consent(browser, authorize_params(client_id, challenge, setup["resource"])))
    token = exchange(browser, client_id, query["code"], verifier)
    assert token.status_code == 200, token.content
    assert token.json()["access_token"].startswith("mcpfo_")
    app = Application.objects.get(client_id=client_id)
    assert app.redirect_uris.split() == [CALLBACK]

    org = setup["people"].org
    (registered,) = AuditEvent.objects.filter(organization=org, event_type="oauth.client_registered")
    assert registered.payload["method"] == "cimd" and registered.payload["client_id"] == client_id
    assert registered.payload["redirect_uris"] == [CALLBACK]
    assert AuditEvent.objects.filter(organization=org, event_type="oauth.client_authorized").count() == 1


def test_cimd_document_claiming_another_client_is_refused_with_the_reason_in_the_page(
        setup, client_for, metadata_server, settings, monkeypatch):  # noqa: F811
    from oauth2_provider.models import Application

    monkeypatch.setenv("SSL_CERT_FILE", metadata_server.ca)
    settings.OAUTH_CIMD_PRIVATE_HOSTS = ["localhost"]
    browser = client_for(setup["people"].member)
    client_id = f"{metadata_server.base}/impostor/client.json"
    _verifier, challenge = pkce()
    for _attempt in range(2):  # the second attempt is backed off by DOT: the reason is still shown
        answer = browser.get("/oauth/authorize/", authorize_params(client_id, challenge, setup["resource"]))
        page = answer.content.decode()
        assert answer.status_code == 400 and b"authorizationForm" not in answer.content
        assert "could not be identified" in page
        assert "is not the URL it was fetched from" in page and "https://agent.example/client.json" in page
    assert metadata_server.paths == ["/impostor/client.json"]  # fetched once, then backed off
    assert not Application.objects.filter(client_id__in=[client_id, "https://agent.example/client.json"]).exists()


def test_listed_host_still_needs_a_trusted_certificate_and_never_reaches_metadata(metadata_server, settings,
                                                                                   monkeypatch):
    from oauth2_provider.cimd import CIMDError

    from apps.oauth.cimd import EgressMetadataFetcher

    settings.OAUTH_CIMD_PRIVATE_HOSTS = ["localhost", "169.254.169.254", "metadata.google.internal"]
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(CIMDError, match="could not fetch"):  # our test CA is not trusted: TLS fails
        EgressMetadataFetcher().fetch(f"{metadata_server.base}/untrusted/client.json")
    with pytest.raises(CIMDError, match="refused"):
        EgressMetadataFetcher().fetch("https://169.254.169.254/latest/client.json")
    monkeypatch.setenv("SSL_CERT_FILE", metadata_server.ca)
    settings.OAUTH_CIMD_PRIVATE_HOSTS = ["other.example"]  # another host listed: localhost stays refused
    with pytest.raises(CIMDError, match="private or loopback address"):
        EgressMetadataFetcher().fetch(f"{metadata_server.base}/unlisted/client.json")
    settings.OAUTH_CIMD_PRIVATE_HOSTS = ["LOCALHOST"]  # names compare case-insensitively
    document, _max_age = EgressMetadataFetcher().fetch(f"{metadata_server.base}/ok/client.json")
    assert document["client_name"] == "Private Network Agent"


def test_dcr_registration_is_kept_and_audited_in_each_organization_it_reaches(setup, client_for):  # noqa: F811
    from apps.oauth.models import ClientRegistration

    people = setup["people"]
    browser = client_for(people.member)
    client_id = register(browser)
    registration = ClientRegistration.objects.get(client_id=client_id)
    assert registration.remote_addr == "127.0.0.1" and registration.client_name == "Guard Agent"
    assert registration.redirect_uris.split() == [CALLBACK]
    assert not AuditEvent.objects.filter(event_type="oauth.client_registered").exists()  # no organization yet

    for _ in range(2):  # authorised twice in Acme: the registration is written once
        verifier, challenge = pkce()
        query = code_from(consent(browser, authorize_params(client_id, challenge, setup["resource"])))
        assert exchange(browser, client_id, query["code"], verifier).status_code == 200
    (event,) = AuditEvent.objects.filter(organization=people.org, event_type="oauth.client_registered")
    assert event.payload["method"] == "dcr" and event.payload["registered_from"] == "127.0.0.1"
    assert event.payload["client_id"] == client_id and event.payload["client_name"] == "Guard Agent"
    assert event.actor is None and event.actor_label == "OAuth client registration"

    # the same client reaching another organization is written there too (denied consent counts)
    from tests.factories import make_project

    project = make_project(people.other_org, people.outsider, name="Elsewhere")
    other = client_for(people.outsider)
    _verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, f"http://testserver/mcp/{people.other_org.slug}/{project.slug}/"
                                                    "development/")
    shown = other.get("/oauth/authorize/", params)
    assert shown.status_code == 200
    form = {k: v for k, v in shown.context["form"].initial.items() if v is not None}
    denied = other.post("/oauth/authorize/", form)  # no "allow": the person refuses
    assert "error=access_denied" in denied["Location"]
    assert AuditEvent.objects.filter(organization=people.other_org, event_type="oauth.client_registered").count() == 1
    assert AuditEvent.objects.filter(organization=people.other_org, event_type="oauth.client_denied").count() == 1
    assert AuditEvent.objects.filter(organization=people.org, event_type="oauth.client_registered").count() == 1


def test_refused_dcr_registration_keeps_nothing(setup, client_for):  # noqa: F811
    from apps.oauth.models import ClientRegistration

    answer = client_for(setup["people"].member).post("/oauth/register/", data={
        "client_name": "Bad", "redirect_uris": ["javascript:alert(1)"], "grant_types": ["authorization_code"],
        "response_types": ["code"], "token_endpoint_auth_method": "none"}, content_type="application/json")
    assert answer.status_code == 400
    assert not ClientRegistration.objects.exists()


def test_revoking_a_client_is_audited_with_actor_and_person(setup, client_for):  # noqa: F811
    from oauth2_provider.models import Application

    people = setup["people"]
    member, admin = client_for(people.member), client_for(people.admin)
    client_id = register(member)
    verifier, challenge = pkce()
    query = code_from(consent(member, authorize_params(client_id, challenge, setup["resource"])))
    assert exchange(member, client_id, query["code"], verifier).status_code == 200
    app = Application.objects.get(client_id=client_id)
    assert admin.post(f"/o/{people.org.slug}/oauth-clients/{app.pk}/{people.member.pk}/revoke/").status_code == 302
    (revoked,) = AuditEvent.objects.filter(organization=people.org, event_type="oauth.client_revoked")
    assert revoked.actor == people.admin
    assert revoked.payload["for_user"] == people.member.email and revoked.payload["client_id"] == client_id
    # (this key was "tokens_ended", which the audit redactor masked as a secret)
    assert revoked.payload["tokens_ended_count"] >= 1
    # the access token's mirror revocation is audited too
    assert AuditEvent.objects.filter(organization=people.org, event_type="oauth.token_revoked").count() == 1
