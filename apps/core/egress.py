"""One egress guard for every outbound HTTP request the product makes. Pure: no Django import.

Used by the spec URL import (apps/specs/fetch.py), OAuth client-credentials token requests
(apps/credentials/oauth.py), approval webhooks (apps/approvals/webhook.py) and upstream API
calls (apps/gateway/upstream.py, for the gateway and the approved-call worker alike).

The rule
    Every address a host name resolves to is judged against ``BLOCKS``, a table derived from
    the IANA IPv4 and IPv6 Special-Purpose Address Registries (plus the multicast blocks and
    the cloud metadata services). Each entry is one of two classes:

    * ``PRIVATE``: private networks, loopback, CGNAT, unique-local. Refused unless the caller's
      allow-private switch is on (``Environment.allow_private_network`` for upstream calls and
      OAuth token URLs, ``WEBHOOK_ALLOW_PRIVATE`` for webhooks, a host listed in
      ``SPEC_IMPORT_ALLOWED_HOSTS`` for spec imports);
    * ``NEVER``: link-local, cloud metadata, "this network", unspecified, multicast, broadcast,
      reserved, documentation and protocol-assignment ranges, and IPv6 outside 2000::/3 that no
      entry names. Refused whatever the switch says.

    Addresses that embed an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64 well-known
    and local-use prefixes, Teredo) are judged by the embedded address(es) as well: the stricter
    verdict wins, so ``2002:a9fe:a9fe::`` is 169.254.169.254. (The local-use NAT64 prefix does
    not say where it carries the IPv4 address, so every RFC 6052 position is judged: in practice
    it is refused.)

    Host names that are IP addresses in a form other than the canonical one (``2852039166``,
    ``0xa9fea9fe``, ``0251.0376.0251.0376``, ``169.254.169.254.``) are refused outright: URL
    parsers, resolvers and proxies disagree about what they mean, and that disagreement is the
    attack. So are IPv6 zone ids (``fe80::1%eth0``).

Pinning
    A name is resolved once, all its addresses are judged, and the connection goes to the
    first one; nothing resolves the name again (no DNS rebinding between check and connect).
    For httpx clients ``client()`` plugs a network backend into httpcore that does exactly that
    inside ``connect_tcp``: every connection httpx opens (redirect hops included) is checked at
    the moment it is made, while TLS SNI and certificate verification keep the URL's host name.
    The clients ignore proxy variables and .netrc (``trust_env=False``); no proxy setting exists.
    (The CA bundle may still come from ``SSL_CERT_FILE``/``SSL_CERT_DIR``, as httpx does.)
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PRIVATE = "private"
NEVER = "never"


class Refused(Exception):
    """The destination may not be called; the message says why and is safe to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Block:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    name: str
    source: str  # the RFC (or vendor document) that defines the block
    klass: str  # PRIVATE or NEVER


def _b(cidr: str, name: str, source: str, klass: str) -> Block:
    return Block(ipaddress.ip_network(cidr), name, source, klass)


# Cloud metadata services: always refused, checked before the ranges that contain them
# (100.100.100.200 sits in CGNAT space, fd00:ec2::254 in unique-local space).
METADATA = (
    _b("169.254.169.254/32", "link-local cloud metadata service (AWS, GCP, Azure, ...)", "vendor docs", NEVER),
    _b("169.254.170.2/32", "link-local AWS ECS task metadata", "vendor docs", NEVER),
    _b("169.254.0.23/32", "link-local Tencent Cloud metadata", "vendor docs", NEVER),
    _b("100.100.100.200/32", "Alibaba Cloud metadata", "vendor docs", NEVER),
    _b("192.0.0.192/32", "Oracle Cloud metadata", "vendor docs", NEVER),
    _b("168.63.129.16/32", "Azure WireServer (host agent)", "vendor docs", NEVER),
    _b("fd00:ec2::254/128", "AWS metadata service (IPv6)", "vendor docs", NEVER),
    _b("fd20:ce::254/128", "GCP metadata service (IPv6)", "vendor docs", NEVER),
)

# IANA IPv4 Special-Purpose Address Registry, entries that are not globally reachable, plus
# multicast (IPv4 Multicast Address Space Registry). Globally reachable entries (192.0.0.9/32,
# 192.0.0.10/32, 192.31.196.0/24, 192.52.193.0/24, 192.175.48.0/24) are ordinary destinations.
IPV4_BLOCKS = (
    _b("0.0.0.0/8", '"this network"', "RFC 791 section 3.2", NEVER),
    _b("10.0.0.0/8", "private network", "RFC 1918", PRIVATE),
    _b("100.64.0.0/10", "shared address space (CGNAT)", "RFC 6598", PRIVATE),
    _b("127.0.0.0/8", "loopback", "RFC 1122 section 3.2.1.3", PRIVATE),
    _b("169.254.0.0/16", "link-local (cloud metadata lives here)", "RFC 3927", NEVER),
    _b("172.16.0.0/12", "private network", "RFC 1918", PRIVATE),
    _b("192.0.0.0/24", "IETF protocol assignments", "RFC 6890 section 2.1", NEVER),
    _b("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737", NEVER),
    _b("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526", NEVER),
    _b("192.168.0.0/16", "private network", "RFC 1918", PRIVATE),
    _b("198.18.0.0/15", "benchmarking network", "RFC 2544", PRIVATE),
    _b("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737", NEVER),
    _b("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737", NEVER),
    _b("224.0.0.0/4", "multicast", "RFC 5771", NEVER),
    _b("255.255.255.255/32", "limited broadcast", "RFC 8190, RFC 919 section 7", NEVER),
    _b("240.0.0.0/4", "reserved", "RFC 1112 section 4", NEVER),
)

# IANA IPv6 Special-Purpose Address Registry (not globally reachable entries), multicast, and
# everything outside global unicast 2000::/3 that no entry names (reserved by the IETF).
IPV6_BLOCKS = (
    _b("::/128", "unspecified address", "RFC 4291", NEVER),
    _b("::1/128", "loopback", "RFC 4291", PRIVATE),
    _b("100::/64", "discard-only", "RFC 6666", NEVER),
    _b("100:0:0:1::/64", "dummy prefix", "RFC 9780", NEVER),
    _b("2001:db8::/32", "documentation", "RFC 3849", NEVER),
    _b("3fff::/20", "documentation", "RFC 9637", NEVER),
    _b("5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602", NEVER),
    _b("fc00::/7", "unique-local", "RFC 4193", PRIVATE),
    _b("fe80::/10", "link-local", "RFC 4291", NEVER),
    _b("fec0::/10", "deprecated site-local", "RFC 3879", NEVER),
    _b("ff00::/8", "multicast", "RFC 4291", NEVER),
)

# IPv6 prefixes that carry an IPv4 address: judged by what they carry (and by their own class).
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")  # IPv4-mapped, RFC 4291 2.5.5.2
_COMPATIBLE = ipaddress.ip_network("::/96")  # IPv4-compatible (deprecated), RFC 4291 2.5.5.1
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix, RFC 6052
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64, RFC 8215
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")  # 6to4, RFC 3056
_TEREDO = ipaddress.ip_network("2001::/32")  # Teredo, RFC 4380
_IETF_2001 = ipaddress.ip_network("2001::/23")  # IETF protocol assignments, RFC 2928
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")

BLOCKS = METADATA + IPV4_BLOCKS + IPV6_BLOCKS


@dataclass(frozen=True)
class Verdict:
    klass: str  # "public", PRIVATE or NEVER
    reason: str  # empty for public


_PUBLIC = Verdict("public", "")
_RANK = {"public": 0, PRIVATE: 1, NEVER: 2}


def _worst(*verdicts: Verdict) -> Verdict:
    return max(verdicts, key=lambda v: _RANK[v.klass])


def _embedded_rfc6052(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address a local-use NAT64 address may carry (RFC 6052 section 2.2: the
    position depends on a prefix length the address does not state, so all are judged)."""
    b = ip.packed
    spots = (b[4:8], b[5:8] + b[9:10], b[6:8] + b[9:11], b[7:8] + b[9:12], b[9:13], b[12:16])
    return [ipaddress.IPv4Address(s) for s in spots]


def _embedded(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], Verdict]:
    """(IPv4 addresses carried by ``ip``, the verdict on the carrying prefix itself)."""
    if ip in _MAPPED:
        return [ipaddress.IPv4Address(ip.packed[12:])], _PUBLIC
    if ip in _COMPATIBLE:  # ::/128 and ::1/128 were matched before
        return [ipaddress.IPv4Address(ip.packed[12:])], Verdict(
            NEVER, "an IPv4-compatible IPv6 address (deprecated, RFC 4291)")
    if ip in _NAT64:
        return [ipaddress.IPv4Address(ip.packed[12:])], _PUBLIC
    if ip in _NAT64_LOCAL:
        return _embedded_rfc6052(ip), Verdict(PRIVATE, "a local-use NAT64 address (RFC 8215)")
    if ip in _SIX_TO_FOUR:
        return [ipaddress.IPv4Address(ip.packed[2:6])], _PUBLIC
    if ip in _TEREDO:
        server, client = ip.teredo
        return [server, client], _PUBLIC
    return [], _PUBLIC


# (version, first, last, verdict) in table order, compared as integers (``ip in network`` is
# ten times slower, and the gateway judges an address on every tool call).
_RANGES = tuple((b.network.version, int(b.network.network_address), int(b.network.broadcast_address),
                 Verdict(b.klass, f"{b.name}, {b.source}")) for b in BLOCKS)


def _table(ip: IPAddress) -> Verdict | None:
    version, value = ip.version, int(ip)
    for v, first, last, verdict in _RANGES:
        if v == version and first <= value <= last:
            return verdict
    return None


def classify(address: str | IPAddress) -> Verdict:
    """The class of one address: "public", ``PRIVATE`` or ``NEVER``, with the reason."""
    return _classify(ipaddress.ip_address(address) if isinstance(address, str) else address)


@functools.lru_cache(maxsize=4096)
def _classify(ip: IPAddress) -> Verdict:
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return Verdict(NEVER, "an IPv6 address with a zone id")
    if isinstance(ip, ipaddress.IPv4Address):
        return _table(ip) or (_PUBLIC if ip.is_global else Verdict(NEVER, "not globally reachable"))
    direct = _table(ip)
    if direct is not None:
        return direct
    carried, own = _embedded(ip)
    if carried:
        verdicts = [own]
        for inner in carried:
            v = _classify(inner)
            if v.klass != "public":
                v = Verdict(v.klass, f"it embeds {inner}: {v.reason}")
            verdicts.append(v)
        return _worst(*verdicts)
    if ip in _IETF_2001:
        return _PUBLIC if ip.is_global else Verdict(NEVER, "IETF protocol assignments, RFC 2928")
    if ip not in _GLOBAL_UNICAST:
        return Verdict(NEVER, "reserved by the IETF, RFC 4291")
    return _PUBLIC


def address_refusal(address: str | IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be called, or None."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    verdict = classify(ip)
    if verdict.klass == "public" or (verdict.klass == PRIVATE and allow_private):
        return None
    if verdict.klass == NEVER:
        return f"{ip} is never called ({verdict.reason})"
    return f"{ip} is a private or loopback address ({verdict.reason}) and private network access is off"


# --------------------------------------------------------------------------- host names

# Anything made only of digits, dots and hex markers is meant as a number: refused unless it
# is the canonical dotted quad (inet_aton would read 0x7f.1, 017700000001, 2130706433...).
_NUMERIC_LOOKING = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*\.?$", re.IGNORECASE)


def literal(host: str) -> IPAddress | None:
    """The IP address ``host`` spells (brackets allowed), None for a name. Raises ``Refused`` for
    IP addresses in a non-canonical form and for IPv6 zone ids."""
    name = (host or "").strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if "%" in name:
        raise Refused(f"The host {host} carries an IPv6 zone id; only plain addresses can be called.")
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)
        except ValueError:
            raise Refused(f"The host {host} is not a valid IPv6 address.") from None
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        pass
    if _NUMERIC_LOOKING.match(name):
        raise Refused(f"The host {host} is an IP address in a non-standard form; write it as four decimal "
                      "numbers (a.b.c.d).")
    return None


class Unresolvable(Refused):
    """The host name does not resolve (a network problem rather than a refusal)."""


def _unique(infos: Iterable) -> list[str]:
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def system_resolve(host: str, port: int) -> list[str]:
    """Addresses of ``host`` from the system resolver, in its order, without duplicates."""
    return _unique(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


Resolver = Callable[[str, int], list[str]]


@functools.lru_cache(maxsize=4096)
def _address_refusal_text(address: str, allow_private: bool) -> str | None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:  # a scoped IPv6 answer (fe80::1%eth0) or something odd: never
        return f"it resolves to {address}, which is never called"
    return address_refusal(parsed, allow_private=allow_private)


def _judge(host: str, addresses: list[str], *, allow_private: bool) -> str:
    if not addresses:
        raise Unresolvable(f"The host {host} cannot be resolved.")
    for address in addresses:
        reason = _address_refusal_text(address, allow_private)
        if reason:
            raise Refused(f"Refused to connect to {host}: {reason}.")
    return addresses[0]


@functools.lru_cache(maxsize=4096)
def _literal_outcome(host: str, allow_private: bool) -> tuple[str, str]:
    """("name", "") for a host name; ("ok", address) or ("refused", message) for an IP
    literal (cached: the gateway checks its upstream's host on every call)."""
    try:
        ip = literal(host)
        if ip is None:
            return "name", ""
        return "ok", _judge(host, [str(ip)], allow_private=allow_private)
    except Refused as exc:
        return "refused", exc.message


def _checked_literal(host: str, allow_private: bool) -> str | None:
    kind, value = _literal_outcome(host, allow_private)
    if kind == "refused":
        raise Refused(value)
    return value if kind == "ok" else None


def checked_address(host: str, port: int, *, allow_private: bool, resolve: Resolver | None = None) -> str:
    """The one address to connect to for ``host``: resolved once, every address judged.

    Raises ``Refused`` (``Unresolvable`` when the name does not resolve). The caller must
    connect to the returned address and to nothing else."""
    address = _checked_literal(host, allow_private)
    if address is not None:
        return address
    try:
        addresses = (resolve or system_resolve)(host, port)
    except (OSError, UnicodeError):
        raise Unresolvable(f"The host {host} cannot be resolved.") from None
    return _judge(host, addresses, allow_private=allow_private)


async def checked_address_async(host: str, port: int, *, allow_private: bool) -> str:
    """``checked_address`` for event-loop code (the name lookup runs off the loop)."""
    address = _checked_literal(host, allow_private)
    if address is not None:
        return address
    import anyio

    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unresolvable(f"The host {host} cannot be resolved.") from None
    return _judge(host, _unique(infos), allow_private=allow_private)


# --------------------------------------------------------------------------- httpx clients


class _PinnedBackend(httpcore.NetworkBackend):
    """httpcore network backend: every TCP connection is preceded by ``checked_address`` and
    goes to the address it returned. httpcore then starts TLS with the URL's host name as
    SNI and for certificate verification."""

    def __init__(self, allow_private: Callable[[str], bool]):
        self._allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        address = checked_address(host, port, allow_private=self._allow_private(host))
        return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                       socket_options=socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        raise Refused("Unix sockets are never called.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connections go through ``_PinnedBackend``."""

    def __init__(self, *, allow_private: bool | Callable[[str], bool], verify: ssl.SSLContext | bool = True):
        # CA bundle: certifi, or SSL_CERT_FILE / SSL_CERT_DIR when the operator set them (a
        # private CA); trust_env stays off for everything that could reroute a request.
        context = httpx.create_ssl_context(verify=verify, trust_env=True)
        super().__init__(verify=context, trust_env=False)
        policy = allow_private if callable(allow_private) else (lambda _host, flag=bool(allow_private): flag)
        # httpx has no public hook for a network backend (encode/httpx discussion #3180), so the
        # pool HTTPTransport.__init__ built is replaced by one with the same defaults.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_PinnedBackend(policy))


def client(*, allow_private: bool | Callable[[str], bool], timeout: float | httpx.Timeout,
           verify: ssl.SSLContext | bool = True, headers: dict[str, str] | None = None) -> httpx.Client:
    """An httpx client for one outbound path: pinned, checked connections, no redirects followed
    (callers that follow them do so hop by hop), no proxies or .netrc from the environment.

    ``allow_private`` is the path's switch, or a function of the host name (spec imports allow
    private addresses per host)."""
    return httpx.Client(transport=PinnedTransport(allow_private=allow_private, verify=verify), timeout=timeout,
                        follow_redirects=False, trust_env=False, headers=headers)


# --------------------------------------------------------------------------- upstream base URLs


def base_url_problem(base: str, subject: str = "The upstream base URL") -> str | None:
    """Why the gateway cannot call ``base`` as an upstream base URL (a sentence starting with
    ``subject``), or None. Pure. ``apps.gateway.upstream.base_url_of`` refuses such a URL at call time and
    ``apps.projects.services.environment_upstream_set`` refuses to store one.

    Tool paths are appended to the base URL as text, so a query would end up in the middle of
    the URL (and was dropped) and a fragment would swallow the tool path (every call went to the
    bare base path): neither is allowed. Query parameters such as API keys belong in the
    environment's credentials."""
    if "?" in base or "#" in base:
        return (f"{subject} must not contain a query (?...) or a fragment (#...): tool paths are appended to it. "
                "Put query parameters such as API keys in the environment's credentials.")
    try:
        parts = urlsplit(base)
        hostname, _ = parts.hostname, parts.port  # .port raises for a port out of range
        credentials = parts.username or parts.password
    except ValueError:
        return f"{subject} is not a valid URL."
    if parts.scheme not in ("http", "https") or not hostname:
        return f"{subject} is not an http(s) URL."
    if credentials:
        return f"{subject} must not contain credentials."
    try:
        httpx.URL(base)  # what the request is built from (port range, IPv6 and IDNA host rules)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return f"{subject} is not a valid URL."
    return None
