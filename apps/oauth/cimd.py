"""Client ID Metadata Documents fetched through the product's guarded egress.

django-oauth-toolkit resolves a ``client_id`` that is an https URL by fetching its document
(``CIMD_METADATA_FETCHER``); this fetcher sends that request through ``apps.core.egress``
(every connection checked and pinned: no private, loopback, link-local or cloud-metadata
address, no redirects, no proxies from the environment), with an overall deadline and the
document size cap. DOT then requires the document's ``client_id`` to equal the URL and takes
the redirect URIs from it (exact matching).

``OAUTH_CIMD_PRIVATE_HOSTS`` (default empty) names hosts whose documents may be fetched from
private, loopback or CGNAT addresses, for operators whose clients publish their metadata on a
private network. https and certificate verification still apply; link-local and cloud-metadata
addresses stay refused whatever the list says (the egress guard never reaches them)."""

from __future__ import annotations

import hashlib
import json
import time

import httpx
from django.conf import settings
from django.core.cache import cache
from oauth2_provider.cimd import (
    CIMDError,
    SafeMetadataFetcher,
    _build_application_kwargs,
    _effective_max_age,
    _validate_client_id_url,
)
from oauth2_provider.settings import oauth2_settings

from apps.core import egress


def private_host_allowed(host: str) -> bool:
    """May a client metadata document at ``host`` be on a private network address? Only for
    hosts the operator listed in ``OAUTH_CIMD_PRIVATE_HOSTS`` (exact names, case-insensitive)."""
    allowed = {h.strip().lower() for h in getattr(settings, "OAUTH_CIMD_PRIVATE_HOSTS", []) if h.strip()}
    return bool(host) and host.lower().rstrip(".") == host.lower() and host.lower() in allowed


def _failure_key(client_id: str) -> str:
    return "mcpforge:oauth:cimd-failure:" + hashlib.sha256(client_id.encode("utf-8", "replace")).hexdigest()


def last_failure(client_id: str) -> str | None:
    """Why the metadata document at ``client_id`` was last refused, while DOT backs off from it
    (DOT answers only "Invalid client_id"; the consent page shows this reason instead)."""
    if not isinstance(client_id, str) or not client_id.startswith("https://"):
        return None
    return cache.get(_failure_key(client_id))


class EgressMetadataFetcher(SafeMetadataFetcher):
    def fetch(self, client_id):
        try:
            data, max_age = self._fetch(client_id)
            # DOT checks these after the fetch and only logs why; checking them here too
            # lets the consent page say why the client could not be identified.
            if data.get("client_id") != client_id:
                raise CIMDError(f"the document's client_id ({str(data.get('client_id'))[:200]!r}) is not the URL "
                                "it was fetched from")
            _build_application_kwargs(data)
        except CIMDError as exc:
            backoff = int(oauth2_settings.CIMD_FAILURE_BACKOFF_SECONDS or 0)
            cache.set(_failure_key(client_id), str(exc)[:500], timeout=max(backoff, 60))
            raise
        cache.delete(_failure_key(client_id))
        return data, max_age

    def _fetch(self, client_id):
        _validate_client_id_url(client_id)  # https, a path, no user info or fragment
        budget = float(oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS)
        max_size = oauth2_settings.CIMD_MAX_DOCUMENT_SIZE
        deadline = time.monotonic() + budget
        try:
            with egress.client(allow_private=private_host_allowed, timeout=httpx.Timeout(budget)) as http, \
                    http.stream("GET", client_id, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise CIMDError(f"client_id document returned HTTP {response.status_code}")
                media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media_type != "application/json" and not (
                        media_type.startswith("application/") and media_type.endswith("+json")):
                    raise CIMDError(f"client_id document is not JSON (Content-Type: {media_type!r})")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_size:
                        raise CIMDError("client_id document exceeds the maximum allowed size")
                    if time.monotonic() > deadline:
                        raise CIMDError("client_id document took too long")
                cache_control = response.headers.get("cache-control")
        except egress.Refused as exc:
            raise CIMDError(f"client_id document refused: {exc}") from exc
        except httpx.HTTPError as exc:
            raise CIMDError(f"could not fetch client_id document: {exc.__class__.__name__}") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise CIMDError("client_id document is not valid JSON") from exc
        if not isinstance(data, dict):
            raise CIMDError("client_id document must be a JSON object")
        return data, _effective_max_age(cache_control)
