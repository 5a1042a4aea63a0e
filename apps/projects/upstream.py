"""What an environment's upstream settings mean for calls, in words. Pure: no Django import.

Shown after a save and on the environment settings page: a base URL whose host is a literal
private or loopback address (or ``localhost``) is refused by the gateway while the
private-network switch is off; with the switch on, the page says what it now allows. No DNS
lookup here: the gateway judges every address a host name resolves to at call time anyway."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from apps.core.egress import NEVER, PRIVATE, Refused, address_refusal, classify, literal


@dataclass(frozen=True)
class UpstreamNote:
    """One sentence about the saved settings; ``level`` is a Bootstrap message level."""

    level: str  # "warning" | "info"
    text: str


def _literal_host(base_url: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        host = urlsplit(base_url).hostname or ""
    except ValueError:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.ip_address("127.0.0.1")
    try:
        return literal(host)
    except Refused:
        return None


def upstream_note(base_url: str, allow_private_network: bool) -> UpstreamNote | None:
    """The warning (calls will be refused) or the notice (private upstream allowed) for these
    settings, or None when there is nothing to say."""
    if not base_url:
        return None
    address = _literal_host(base_url)
    klass = classify(address).klass if address is not None else "name"
    if klass in (PRIVATE, NEVER) and (klass == NEVER or not allow_private_network):
        reason = address_refusal(address, allow_private=allow_private_network)
        hint = "" if klass == NEVER else " Tick \"Allow a private or loopback upstream address\" if this is intended."
        return UpstreamNote("warning", f"Calls will be refused: {reason}.{hint}")
    if allow_private_network and klass == PRIVATE:
        return UpstreamNote("info", f"Private network access is on: the gateway will call {address}, a private "
                                    "or loopback address (link-local and cloud metadata addresses stay refused).")
    if allow_private_network:
        return UpstreamNote("info", "Private network access is on: the gateway will also call this host if it "
                                    "resolves to a private or loopback address (link-local and cloud metadata "
                                    "addresses stay refused).")
    return None
