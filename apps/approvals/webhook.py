"""Outgoing webhook signing and destination checks. Pure: no Django import.

Signature
---------
Every delivery carries three headers:

* ``X-MCPForge-Timestamp``: Unix seconds when the message was signed;
* ``X-MCPForge-Delivery``: a UUID, unique per message (receivers may de-duplicate on it);
* ``X-MCPForge-Signature: sha256=<hex>``: HMAC-SHA256 with the organization's webhook
  secret over ``"<timestamp>.<raw body>"``.

Signing the timestamp together with the body is what stops replay: a captured request
cannot be re-sent later with a fresh timestamp, and receivers reject timestamps older than
a few minutes (``verify`` uses five). Compare with ``hmac.compare_digest``.

Destinations
------------
A webhook URL typed by an organization admin must not let them probe our own network
(SSRF), so http(s) only, and every address the host resolves to must be public
(no loopback, private, CGNAT or reserved ranges) unless the deployment sets
``WEBHOOK_ALLOW_PRIVATE`` (tests, on-premises receivers); link-local (cloud metadata),
multicast and unspecified addresses are refused always. The connection is pinned to the
address that was checked, so DNS rebinding cannot swap it afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-MCPForge-Signature"
TIMESTAMP_HEADER = "X-MCPForge-Timestamp"
DELIVERY_HEADER = "X-MCPForge-Delivery"
EVENT_HEADER = "X-MCPForge-Event"
DEFAULT_TOLERANCE_SECONDS = 300


class DestinationError(ValueError):
    """The webhook URL may not be called; the message says why and is safe to show."""


def canonical_body(payload: dict) -> bytes:
    """The exact bytes sent (and signed): compact, key-sorted JSON."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, *, timestamp: str | int, body: bytes, signature: str, now: float,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """What a receiver does: fresh timestamp and matching signature (constant time)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


def _normalise(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_refusal(address: str, *, allow_private: bool) -> str | None:
    """Why a webhook may not go to ``address``, or None. Link-local (cloud metadata),
    multicast and unspecified addresses are refused even when private ones are allowed."""
    ip = _normalise(address)
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    if ip.is_link_local:
        return f"{ip} is link-local (cloud metadata and similar services are never called)"
    if ip.is_global or allow_private:
        return None
    return f"{ip} is a private or loopback address; webhooks only go to public addresses"


def check_destination(url: str, *, allow_private: bool,
                      resolve: Callable[[str, int], list[str]] | None = None) -> str:
    """The address to connect to for ``url``: http(s) only, and every address the host
    resolves to must pass ``address_refusal``. Raises ``DestinationError``."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationError("The webhook URL must be an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise DestinationError("Put credentials in the signing secret, not in the webhook URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationError("The webhook URL has an invalid port.") from None
    try:
        addresses = (resolve or _resolve)(parts.hostname, port)
    except (OSError, UnicodeError):
        raise DestinationError(f"The host {parts.hostname} cannot be resolved.") from None
    if not addresses:
        raise DestinationError(f"The host {parts.hostname} cannot be resolved.")
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private)
        if reason:
            raise DestinationError(f"Refused to send webhooks to {parts.hostname}: {reason}.")
    return addresses[0]


def pinned_url(url: str, address: str) -> tuple[str, dict[str, str], str | None]:
    """(URL with the host replaced by the checked address, Host header, TLS SNI name) so a DNS
    answer that changes between the check and the connect (rebinding) cannot redirect the
    message. Returns the URL unchanged when the host already is that address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = _normalise(address)
    if str(ip) == host.strip("[]"):
        return url, {}, None
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    default_port = 443 if parts.scheme == "https" else 80
    host_header = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    return parts._replace(netloc=netloc).geturl(), {"Host": host_header}, host if parts.scheme == "https" else None


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(_normalise(host.strip("[]")))]
    except ValueError:
        pass
    seen: list[str] = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen
