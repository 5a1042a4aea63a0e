"""OAuth2 client-credentials tokens for the upstream API, fetched with httpx and cached in memory.

The cache lives in the process only (never in the database, never logged): keyed by the
credential version, so a rotated secret never reuses a token fetched with the old one. A
token is refreshed 30 seconds before it expires; if the server returned a refresh token it
is tried first, then a fresh client-credentials grant. Errors name the token URL and the
HTTP status, never the client secret or the response body (which may echo it).

The token URL is judged by the one egress guard (apps/core/egress.py) with the environment's
``allow_private_network`` switch; link-local and metadata addresses are refused even with it
on. The connection is pinned to the checked address, redirects are not followed (a token
endpoint answers directly) and no proxy or .netrc is read from the environment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from apps.core import egress

REFRESH_MARGIN_SECONDS = 30
DEFAULT_LIFETIME_SECONDS = 300
TIMEOUT_SECONDS = 10.0


class TokenError(Exception):
    """The token endpoint refused or could not be reached; the message is safe to show."""


@dataclass
class _Cached:
    access_token: str
    expires_at: float
    refresh_token: str = ""


_cache: dict[tuple[str, str], _Cached] = {}


def _now() -> float:
    return time.monotonic()


_lock = threading.Lock()


def check_token_url(url: str) -> None:
    """Refuse non-HTTP(S) URLs, user-info, and hosts spelled as non-canonical IP addresses.
    Addresses are judged when the connection is opened (``egress.client``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TokenError(f"token URL {url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise TokenError("token URL must not contain credentials")
    try:
        egress.literal(parts.hostname)
    except egress.Refused as exc:
        raise TokenError(f"token URL refused: {exc.message}") from None


def _request(token_url: str, data: dict[str, str], client_id: str, client_secret: str, client_auth: str,
             allow_private_network: bool) -> _Cached:
    auth = None
    if client_auth == "post":
        data = {**data, "client_id": client_id, "client_secret": client_secret}
    else:
        auth = httpx.BasicAuth(client_id, client_secret)
    try:
        with egress.client(allow_private=allow_private_network, timeout=TIMEOUT_SECONDS) as client:
            response = client.post(token_url, data=data, auth=auth, headers={"Accept": "application/json"})
    except egress.Refused as exc:
        hint = "" if isinstance(exc, egress.Unresolvable) or allow_private_network else (
            " Allow private network access for this environment if a private address is intended.")
        raise TokenError(f"token URL refused: {exc.message}{hint}") from None
    except httpx.HTTPError as exc:
        raise TokenError(f"token request to {token_url} failed ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise TokenError(f"token request to {token_url} was refused (HTTP {response.status_code})")
    try:
        body = response.json()
    except ValueError:
        raise TokenError(f"token response from {token_url} is not JSON") from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenError(f"token response from {token_url} has no access_token")
    try:
        lifetime = int(body.get("expires_in", DEFAULT_LIFETIME_SECONDS))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_SECONDS
    refresh = body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else ""
    return _Cached(access_token=token, expires_at=_now() + max(lifetime, 1), refresh_token=refresh)


def has_fresh_token(*, cache_key: str, scopes: list[str]) -> bool:
    """Whether ``client_credentials_token`` would answer from its cache (no token request)."""
    with _lock:
        cached = _cache.get((cache_key, " ".join(scopes)))
    return bool(cached and cached.expires_at - REFRESH_MARGIN_SECONDS > _now())


def client_credentials_token(*, cache_key: str, token_url: str, client_id: str, client_secret: str,
                             scopes: list[str], client_auth: str = "basic",
                             allow_private_network: bool = False) -> str:
    """A valid access token for these client credentials, from the cache when still fresh."""
    scope = " ".join(scopes)
    key = (cache_key, scope)
    with _lock:
        cached = _cache.get(key)
    if cached and cached.expires_at - REFRESH_MARGIN_SECONDS > _now():
        return cached.access_token
    check_token_url(token_url)
    fresh = None
    if cached and cached.refresh_token:
        try:
            fresh = _request(token_url, {"grant_type": "refresh_token", "refresh_token": cached.refresh_token},
                             client_id, client_secret, client_auth, allow_private_network)
        except TokenError:
            fresh = None
    if fresh is None:
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        fresh = _request(token_url, data, client_id, client_secret, client_auth, allow_private_network)
    with _lock:
        _cache[key] = fresh
    return fresh.access_token


def forget(cache_key: str) -> None:
    """Drop cached tokens of one credential version (rotated or destroyed)."""
    with _lock:
        for key in [k for k in _cache if k[0] == cache_key]:
            del _cache[key]
