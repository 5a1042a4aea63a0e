"""The base URL a spec's ``servers`` suggest for an environment. Pure: no Django import.

OpenAPI resolves a relative server URL against the location of the document. So: the first
absolute http(s) server URL wins; failing that, a relative one is resolved only when it is
unambiguous: the spec was fetched from an http(s) URL and its servers name one relative URL.
A URL still holding a ``{variable}`` (no default) is never suggested."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def _usable(url: str) -> bool:
    if "{" in url or "}" in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def suggested_base_url(servers: list[str], source_url: str = "") -> str:
    """The suggestion, or "" when the servers do not name one base URL."""
    urls = [s.strip() for s in servers or [] if isinstance(s, str) and s.strip()]
    for url in urls:
        if _usable(url):
            return url
    relative = {url for url in urls if not urlsplit(url).scheme}
    if len(relative) != 1 or not _usable(source_url or ""):
        return ""
    resolved = urljoin(source_url, relative.pop())
    return resolved if _usable(resolved) else ""
