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
(SSRF), so http(s) only, and every address the host resolves to is judged by the one
egress guard (apps/core/egress.py): private, loopback and CGNAT receivers only when the
deployment sets ``WEBHOOK_ALLOW_PRIVATE`` (tests, on-premises receivers); link-local, cloud
metadata, multicast, reserved and the other never-class ranges are refused always. ``post``
sends through ``egress.client``: the connection is pinned to the address checked when it is
opened (DNS rebinding cannot swap it), redirects are not followed (a 30x to an internal
address would bypass the check) and no proxy or .netrc is read from the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from apps.core import egress

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


def _split(url: str) -> tuple[str, int]:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationError("The webhook URL must be an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise DestinationError("Put credentials in the signing secret, not in the webhook URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationError("The webhook URL has an invalid port.") from None
    return parts.hostname, port


def _refusal(host: str, exc: egress.Refused) -> DestinationError:
    if isinstance(exc, egress.Unresolvable):
        return DestinationError(f"The host {host} cannot be resolved.")
    return DestinationError(f"Refused to send webhooks to {host}: {exc.message}")


def check_destination(url: str, *, allow_private: bool,
                      resolve: Callable[[str, int], list[str]] | None = None) -> str:
    """The address ``url``'s host resolves to, if ``egress`` allows every address it has
    (validation when the URL is saved; ``post`` checks again when it connects). Raises
    ``DestinationError``."""
    host, port = _split(url)
    try:
        return egress.checked_address(host, port, allow_private=allow_private, resolve=resolve)
    except egress.Refused as exc:
        raise _refusal(host, exc) from None


def post(url: str, *, body: bytes, headers: dict[str, str], allow_private: bool, timeout: float) -> httpx.Response:
    """POST one signed message through the egress guard. Raises ``DestinationError`` when the
    destination is refused, ``httpx.HTTPError`` when the receiver cannot be reached."""
    host, _port = _split(url)
    try:
        egress.literal(host)
        with egress.client(allow_private=allow_private, timeout=timeout) as client:
            return client.post(url, content=body, headers=headers)
    except egress.Refused as exc:
        raise _refusal(host, exc) from None
