"""Fetching a spec from a URL without opening an SSRF hole. No Django import.

Destinations are judged by the one egress guard (apps/core/egress.py): private and loopback
addresses only for hosts on the admin allow-list (``SPEC_IMPORT_ALLOWED_HOSTS``), link-local,
cloud metadata, multicast, reserved and the other never-class ranges not even then. The
connection is pinned to the address that was checked; every redirect hop (at most 3) is
checked again when its connection is opened; the body is streamed and capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from apps.core import egress

MAX_REDIRECTS = 3


class FetchError(Exception):
    """The URL cannot be imported; the message is safe to show."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str


def check_url(url: str) -> None:
    """Scheme, host and user-info rules, and the host when it is an IP literal (names are
    judged when the connection is opened, against the addresses they resolve to)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// URLs can be imported")
    if not parts.hostname:
        raise FetchError("the URL has no host")
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not accepted")
    try:
        egress.literal(parts.hostname)
    except egress.Refused as exc:
        raise FetchError(exc.message) from None


def _refusal(exc: egress.Refused) -> FetchError:
    if isinstance(exc, egress.Unresolvable):
        return FetchError(exc.message)
    return FetchError(f"{exc.message} Ask an admin to add the host to SPEC_IMPORT_ALLOWED_HOSTS if it is a "
                      "private address meant to be reachable (link-local and metadata addresses never are).")


def fetch_spec(
    url: str, *, max_bytes: int, allowed_hosts: frozenset[str] = frozenset(), timeout: float = 10.0
) -> Fetched:
    """Download ``url`` following at most 3 redirects, each hop re-checked."""
    current = url

    def private_ok(host: str) -> bool:
        return host.lower().strip("[]") in allowed_hosts

    with egress.client(allow_private=private_ok, timeout=timeout,
                       headers={"User-Agent": "MCPForge-importer"}) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(current)
            try:
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        if not location:
                            raise FetchError("redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"the server answered HTTP {response.status_code}")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(
                            f"the document is {int(declared) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB"
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            raise FetchError(f"the document is larger than the {max_bytes / 1e6:.0f} MB limit")
                    return Fetched(
                        url=current, content=bytes(body), content_type=response.headers.get("content-type", "")
                    )
            except egress.Refused as exc:
                raise _refusal(exc) from None
            except httpx.HTTPError as exc:
                raise FetchError(f"could not download the document: {exc.__class__.__name__}") from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
