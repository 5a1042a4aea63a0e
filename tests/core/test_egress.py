"""apps/core/egress.py: one hostile destination list, run through the four outbound paths.

Each path is driven through its real entry function: the spec URL import (``fetch_spec``),
OAuth client-credentials tokens (``client_credentials_token``), approval webhooks
(``webhook.post``, what ``webhook_deliver`` sends with) and upstream calls (``execute_call``,
the approvals worker's entry, on the same ``send_async`` as the gateway). Nothing is mocked
but the two ends of the network: name resolution (``socket.getaddrinfo``, answering for a few
``.test`` names) and ``socket.connect``, which records every connection attempt and lets only
loopback ones through, so a test can say "no connection was attempted" and nothing leaves the
machine.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.approvals import webhook
from apps.core import egress
from apps.credentials import oauth
from apps.gateway import upstream
from apps.specs import fetch
from tests.gateway.doubles import FakeEnv, FakeTool

# --------------------------------------------------------------------------- the network's two ends


@dataclass
class Net:
    dns: dict[str, list[list[str]]] = field(default_factory=dict)  # name -> successive answers
    lookups: list[str] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)  # addresses a socket tried to connect to

    def attempted(self, address: str) -> bool:
        return any(_ip(a) == _ip(address) for a in self.connects)


def _ip(address: str):
    ip = ipaddress.ip_address(address.split("%")[0])
    return getattr(ip, "ipv4_mapped", None) or ip


@pytest.fixture
def net(monkeypatch):
    state = Net()
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.rstrip(".").endswith(".test"):
            state.lookups.append(name)
            answers = state.dns.get(name.rstrip("."))
            if not answers:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            port_number = int(port or 0)
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (a, port_number, 0, 0) if ":" in a else (a, port_number)) for a in answer]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        state.connects.append(str(address[0]))
        if not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback:
            raise ConnectionRefusedError(111, "connection refused by the test network")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return state


@pytest.fixture(scope="module")
def loopback_server():
    """Loopback HTTP server (IPv4): 200 with a token-shaped JSON body; /to-metadata redirects
    to the cloud metadata address."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            hits.append(self.path)
            if self.path.startswith("/to-metadata"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            raw = json.dumps({"access_token": "tok", "expires_in": 60}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.hits = hits
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(loopback_server):
    loopback_server.hits.clear()
    return loopback_server


# --------------------------------------------------------------------------- the four paths


@dataclass
class Result:
    ok: bool
    refused: bool  # refused by a destination rule (as opposed to a network failure or HTTP status)
    message: str


REFUSAL_WORDS = ("never called", "private or loopback", "non-standard form", "zone id", "credentials",
                 "not a valid URL", "Refused", "refused")


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()


def via_spec_fetch(url: str, allow_private: bool) -> Result:
    allowed = frozenset({_host_of(url)}) if allow_private else frozenset()
    try:
        fetch.fetch_spec(url, max_bytes=1_000_000, allowed_hosts=allowed, timeout=5)
    except fetch.FetchError as exc:
        text = str(exc)
        return Result(False, not text.startswith(("could not download", "the server answered")), text)
    return Result(True, False, "")


def via_oauth(url: str, allow_private: bool) -> Result:
    try:
        oauth.client_credentials_token(cache_key=str(uuid.uuid4()), token_url=url, client_id="c", client_secret="s",
                                       scopes=[], allow_private_network=allow_private)
    except oauth.TokenError as exc:
        text = str(exc)
        return Result(False, text.startswith(("token URL refused", "token URL must not")), text)
    return Result(True, False, "")


def via_webhook(url: str, allow_private: bool) -> Result:
    import httpx

    try:
        response = webhook.post(url, body=b"{}", headers={"Content-Type": "application/json"},
                                allow_private=allow_private, timeout=5)
    except webhook.DestinationError as exc:
        return Result(False, True, str(exc))
    except httpx.HTTPError as exc:
        return Result(False, False, type(exc).__name__)
    return Result(200 <= response.status_code < 300, False, f"HTTP {response.status_code}")


def via_upstream(url: str, allow_private: bool) -> Result:
    tool = FakeTool(path="/x", arg_map={})
    outcome = upstream.execute_call(tool=tool, environment=FakeEnv(base_url=url, allow_private_network=allow_private),
                                    arguments={})
    # A base URL httpx cannot parse at all (0251.0376.0251.0376) is refused as not configured.
    return Result(outcome.ok, outcome.error in ("destination_refused", "not_configured"), outcome.text)


PATHS = {"spec_fetch": via_spec_fetch, "oauth": via_oauth, "webhook": via_webhook, "upstream": via_upstream}


@pytest.fixture(params=sorted(PATHS))
def path(request, db):  # db: execute_call reads the environment's credentials
    return PATHS[request.param]


# --------------------------------------------------------------------------- the hostile list

# Refused whatever the private-network switch says.
NEVER = [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://100.100.100.200/latest/meta-data/", "100.100.100.200"),  # Alibaba, inside CGNAT space
    ("http://192.0.0.192/opc/v2/instance/", "192.0.0.192"),  # Oracle
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),  # AWS IPv6, inside unique-local space
    ("http://[2002:a9fe:a9fe::]/", "2002:a9fe:a9fe::"),  # 6to4 of 169.254.169.254
    ("http://[fe80::1]/", "fe80::1"),
    ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),  # NAT64
    ("http://[::a9fe:a9fe]/", "::a9fe:a9fe"),  # IPv4-compatible
    ("http://0.0.0.0/", "0.0.0.0"),  # noqa: S104 - a destination under test
    ("http://[::]/", "::"),
    ("http://255.255.255.255/", "255.255.255.255"),
    ("http://224.0.0.1/", "224.0.0.1"),
    ("http://[ff02::1]/", "ff02::1"),
    ("http://240.0.0.1/", "240.0.0.1"),
    ("http://192.0.2.10/", "192.0.2.10"),  # documentation
    ("http://[2001:db8::1]/", "2001:db8::1"),
    ("http://2852039166/", "169.254.169.254"),  # decimal
    ("http://0251.0376.0251.0376/", "169.254.169.254"),  # octal
    ("http://0xa9fea9fe/", "169.254.169.254"),  # hex
    ("http://169.254.169.254./", "169.254.169.254"),  # trailing dot
    ("http://[fe80::1%25eth0]/", "fe80::1"),  # zone id
    ("http://good@169.254.169.254/", "169.254.169.254"),  # user-info
    ("http://metadata.test/computeMetadata/v1/", "169.254.169.254"),  # a name that resolves there
    ("http://metadata.test./", "169.254.169.254"),  # the same name with a trailing dot
]

# Refused unless the path's private-network switch is on.
PRIVATE = [
    ("http://10.1.2.3/", "10.1.2.3"),
    ("http://172.16.5.4/", "172.16.5.4"),
    ("http://192.168.1.1/", "192.168.1.1"),
    ("http://100.64.0.1/", "100.64.0.1"),
    ("http://127.0.0.1:{port}/", "127.0.0.1"),
    ("http://127.1.2.3:{port}/", "127.1.2.3"),
    ("http://[::1]:{port}/", "::1"),
    ("http://[fc00::1]/", "fc00::1"),
    ("http://[::ffff:10.0.0.1]/", "10.0.0.1"),
    ("http://internal.test:{port}/", "127.0.0.1"),
    ("http://mixed.test/", "93.184.215.14"),  # a public and a private answer: the private one decides
]


@pytest.fixture
def dns(net):
    net.dns.update({"metadata.test": [["169.254.169.254"]], "internal.test": [["127.0.0.1"]],
                    "mixed.test": [["93.184.215.14", "10.0.0.5"]]})
    return net


def _assert_refused_without_connecting(result: Result, net: Net, address: str, url: str):
    assert not result.ok and result.refused, (url, result)
    assert any(word in result.message for word in REFUSAL_WORDS), (url, result.message)
    assert net.connects == [], (url, net.connects)
    assert not net.attempted(address)


@pytest.mark.parametrize("url,address", NEVER)
@pytest.mark.parametrize("allow_private", [False, True])
def test_never_class_is_refused_on_every_path_whatever_the_switch(path, dns, server, url, address, allow_private):
    result = path(url, allow_private)
    _assert_refused_without_connecting(result, dns, address, url)


@pytest.mark.parametrize("url,address", PRIVATE)
def test_private_class_is_refused_when_private_networks_are_off(path, dns, server, url, address):
    url = url.format(port=server.server_address[1])
    result = path(url, False)
    _assert_refused_without_connecting(result, dns, address, url)
    assert "private or loopback" in result.message


@pytest.mark.parametrize("url,address", PRIVATE)
def test_private_class_is_called_when_private_networks_are_on(path, dns, server, url, address):
    url = url.format(port=server.server_address[1])
    result = path(url, True)
    assert not result.refused, (url, result)
    assert dns.attempted(address), (url, dns.connects)
    if address == "127.0.0.1":
        assert result.ok, (url, result)  # the loopback server answered


def test_messages_name_the_reason():
    assert "Alibaba Cloud metadata" in egress.address_refusal("100.100.100.200", allow_private=True)
    assert "Oracle Cloud metadata" in egress.address_refusal("192.0.0.192", allow_private=True)
    assert "embeds 169.254.169.254" in egress.address_refusal("2002:a9fe:a9fe::", allow_private=True)
    assert "RFC 1918" in egress.address_refusal("10.0.0.1", allow_private=False)
    assert egress.address_refusal("10.0.0.1", allow_private=True) is None
    assert egress.address_refusal("93.184.215.14", allow_private=False) is None
    assert egress.address_refusal("2606:4700::1111", allow_private=False) is None
    assert egress.address_refusal("::ffff:8.8.8.8", allow_private=False) is None
    assert egress.address_refusal("2002:808:808::", allow_private=False) is None  # 6to4 of a public address


def test_every_table_entry_names_its_source_and_class():
    for block in egress.BLOCKS:
        assert block.source and block.klass in (egress.PRIVATE, egress.NEVER), block
    # link-local and metadata are never-class, whatever contains them
    for address in ("169.254.0.1", "169.254.169.254", "fe80::1", "100.100.100.200", "fd00:ec2::254",
                    "fd20:ce::254", "192.0.0.192", "168.63.129.16"):
        assert egress.classify(address).klass == egress.NEVER, address


# --------------------------------------------------------------------------- redirects and rebinding


def test_a_redirect_to_the_metadata_address_is_never_followed(path, net, server):
    """An allowed loopback server (private networks on) redirects to 169.254.169.254: the spec
    import re-checks the hop and refuses it; OAuth, webhooks and upstream calls do not follow
    cross-origin redirects at all. No path connects to the metadata address."""
    result = path(f"http://127.0.0.1:{server.server_address[1]}/to-metadata", True)
    assert not result.ok, result
    assert len(server.hits) == 1 and server.hits[0].startswith("/to-metadata")
    assert not net.attempted("169.254.169.254"), net.connects
    assert net.connects == ["127.0.0.1"]


def test_spec_fetch_refuses_the_redirect_hop_with_the_metadata_reason(net, server):
    with pytest.raises(fetch.FetchError, match=r"169\.254\.169\.254 is never called \(link-local cloud metadata"):
        fetch.fetch_spec(f"http://127.0.0.1:{server.server_address[1]}/to-metadata", max_bytes=1000,
                         allowed_hosts=frozenset({"127.0.0.1", "169.254.169.254"}))
    assert not net.attempted("169.254.169.254")


def test_dns_rebinding_public_then_metadata_never_reaches_the_second_answer(path, net, server):
    """The name answers a public address first and 169.254.169.254 afterwards. The one lookup
    is the one connected to: the (refused, by the test network) public address, never the
    metadata one."""
    net.dns["rebind.test"] = [["93.184.215.14"], ["169.254.169.254"], ["169.254.169.254"]]
    result = path("http://rebind.test/", False)
    assert not result.ok and not result.refused, result  # a network error, not a destination refusal
    assert net.connects and set(net.connects) == {"93.184.215.14"}, net.connects
    assert not net.attempted("169.254.169.254")


def test_dns_rebinding_loopback_then_metadata_is_pinned_to_the_checked_answer(path, net, server):
    net.dns["rebind.test"] = [["127.0.0.1"], ["169.254.169.254"], ["169.254.169.254"]]
    result = path(f"http://rebind.test:{server.server_address[1]}/", True)
    assert result.ok, result
    assert net.connects == ["127.0.0.1"] and net.lookups == ["rebind.test"]


def test_environment_proxies_are_ignored(monkeypatch, net, server):
    """A proxy variable in the worker's environment must not reroute outbound requests."""
    monkeypatch.setenv("HTTP_PROXY", "http://169.254.169.254:3128")
    monkeypatch.setenv("ALL_PROXY", "http://169.254.169.254:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    result = via_spec_fetch(f"http://127.0.0.1:{server.server_address[1]}/", True)
    assert result.ok, result
    assert result.ok and via_oauth(f"http://127.0.0.1:{server.server_address[1]}/", True).ok
    assert via_webhook(f"http://127.0.0.1:{server.server_address[1]}/", True).ok
    assert net.connects == ["127.0.0.1"] * 3


@pytest.mark.parametrize("host", ["2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "0x7f.1", "127.1",
                                  "017700000001", "169.254.169.254.", "[fe80::1%eth0]"])
def test_ambiguous_literals_are_refused_before_any_lookup(host):
    with pytest.raises(egress.Refused):
        egress.literal(host)
    with pytest.raises(egress.Refused):
        egress.checked_address(host, 80, allow_private=True, resolve=lambda *_: pytest.fail("resolved"))


def test_names_are_resolved_once_and_every_answer_is_judged():
    calls = []

    def resolve(host, port):
        calls.append(host)
        return ["93.184.215.14", "169.254.169.254"]

    with pytest.raises(egress.Refused, match="never called"):
        egress.checked_address("api.example.com", 443, allow_private=True, resolve=resolve)
    assert calls == ["api.example.com"]
    assert egress.checked_address("api.example.com", 443, allow_private=False,
                                  resolve=lambda *_: ["93.184.215.14"]) == "93.184.215.14"
    with pytest.raises(egress.Unresolvable):
        egress.checked_address("api.example.com", 443, allow_private=False, resolve=lambda *_: [])


# --------------------------------------------------------------------------- TLS on a pinned connection


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """HTTPS on 127.0.0.1 with a certificate for secure.test only (a throwaway CA); records
    the SNI name each handshake asked for."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "egress test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secure.test")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("secure.test")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(folder / "leaf.pem")
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server API
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    client_context = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    yield httpd.server_address[1], client_context, names
    httpd.shutdown()
    httpd.server_close()


def test_tls_on_the_pinned_address_is_verified_against_the_host_name(net, tls_server):
    """The socket goes to the checked address (127.0.0.1), while SNI and certificate
    verification use the URL's name: the right name passes, another name on the same
    address fails verification."""
    import httpx

    port, context, names = tls_server
    net.dns.update({"secure.test": [["127.0.0.1"]], "impostor.test": [["127.0.0.1"]]})
    with egress.client(allow_private=True, timeout=5, verify=context) as client:
        assert client.get(f"https://secure.test:{port}/").text == "ok"
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            client.get(f"https://impostor.test:{port}/")
    assert names[:2] == ["secure.test", "impostor.test"]
    assert net.connects == ["127.0.0.1", "127.0.0.1"]
