"""Fetching a spec from a URL without opening an SSRF hole. No Django import.

Private, loopback, link-local (cloud metadata 169.254.169.254), multicast and reserved
addresses are refused unless the host is on the admin allow-list; every redirect hop is
checked again; at most 3 redirects; the body is streamed and capped.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 3


class FetchError(Exception):
    """The URL cannot be imported; the message is safe to show."""


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve host {host!r}") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, allowed_hosts: frozenset[str] = frozenset()) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// URLs can be imported")
    if not parts.hostname:
        raise FetchError("the URL has no host")
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not accepted")
    host = parts.hostname.lower()
    if host in allowed_hosts:
        return
    for address in _addresses(host):
        if not is_public(address):
            raise FetchError(
                f"{host} resolves to {address}, a private, loopback or link-local address; "
                "ask an admin to add the host to SPEC_IMPORT_ALLOWED_HOSTS if it is meant to be reachable"
            )


def fetch_spec(
    url: str, *, max_bytes: int, allowed_hosts: frozenset[str] = frozenset(), timeout: float = 10.0
) -> Fetched:
    """Download ``url`` following at most 3 redirects, each hop re-checked."""
    current = url
    with httpx.Client(follow_redirects=False, timeout=timeout, headers={"User-Agent": "MCPForge-importer"}) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(current, allowed_hosts)
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
            except httpx.HTTPError as exc:
                raise FetchError(f"could not download the document: {exc.__class__.__name__}") from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
