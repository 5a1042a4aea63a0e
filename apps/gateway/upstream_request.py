"""The upstream request as bytes: ``UpstreamRequest`` and ``encode``, its builder. Pure: no Django.

Why not ``httpx.Request``
    transport.py already sends without httpx; what was left of httpx on the hot path was
    building the request (URL parsing in ``httpx._urlparse``, ``QueryParams``, ``Headers``, the
    byte stream and ``_prepare``): about a quarter of the CPU of planning a tool call. The
    transport only needs method, origin, request target, header pairs and body, so the
    gateway builds those directly.

Bytes identical to httpx
    ``encode`` produces exactly what ``httpx.Request(method, base + path, params=...,
    headers=..., content= | data= | files=)`` followed by ``read()`` sent before (target, header
    names, order and values, Host and Content-Length, body); tests/gateway/test_upstream_request.py
    compares the two on a table of tools and on generated arguments. The cheap path covers
    what real tools produce: a base URL without query or fragment, a path made of characters
    httpx leaves as they are, string query items and ASCII headers, no multipart body. Anything
    else (a multipart body, a path httpx would escape or normalise, a header httpx would refuse,
    a URL over httpx's length limit, ...) is built by httpx itself and converted, so rare cases
    keep httpx's exact bytes and its exceptions without this module copying its rules.

    The cheap path relies on these httpx rules (checked by the tests against the installed
    httpx): ``params=`` replaces any query of the URL, groups repeated names at their first
    position and encodes with ``urllib.parse.urlencode``; a path made only of unreserved
    characters and httpx's path-safe set (``%`` included) and without ``.``/``..`` segments is
    sent unchanged; Host (the URL's netloc) comes first, then ``Content-Length: 0`` for an
    empty POST/PUT/PATCH, then the given headers, then the body's own headers unless a header
    of that name was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
# httpx._urlparse: unreserved characters plus PATH_SAFE (printable ASCII except space " # < > ? ` { }).
_PATH_CHARS = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in ' "#<>?`{}')
_MAX_URL_LENGTH = 65536  # httpx refuses longer URLs (and query strings): left to it
_EMPTY_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # httpx adds "Content-Length: 0" to these
_FORM_TYPE = "application/x-www-form-urlencoded"
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding"})  # lower case, as compared
_BODY_HEADERS = _FRAMING_HEADERS | {b"content-type", b"content-encoding"}


class UpstreamURL:
    """``UpstreamRequest.url``: scheme, host, port, netloc and raw_path as httpx.URL gives them,
    without parsing anything; any other attribute (``join``, ``params``, ``path``, ``str()``)
    comes from an ``httpx.URL`` built on first use (redirects, tests, debugging)."""

    __slots__ = ("_request", "_parsed")

    def __init__(self, request: UpstreamRequest):
        self._request = request
        self._parsed: httpx.URL | None = None

    @property
    def scheme(self) -> str:
        return self._request.scheme

    @property
    def host(self) -> str:
        return self._request.host

    @property
    def port(self) -> int | None:
        """None for the scheme's default port, as httpx.URL."""
        request = self._request
        return None if _DEFAULT_PORTS.get(request.scheme) == request.port else request.port

    @property
    def netloc(self) -> bytes:
        return self._request.netloc

    @property
    def raw_path(self) -> bytes:
        return self._request.target

    def as_httpx(self) -> httpx.URL:
        if self._parsed is None:
            request = self._request
            self._parsed = httpx.URL(f"{request.scheme}://{request.netloc.decode('ascii')}"
                                     f"{request.target.decode('ascii')}")
        return self._parsed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.as_httpx(), name)

    def __str__(self) -> str:
        return str(self.as_httpx())

    def __repr__(self) -> str:
        return repr(self.as_httpx())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UpstreamURL):
            other = other.as_httpx()
        return self.as_httpx() == other

    def __hash__(self) -> int:
        return hash(self.as_httpx())


@dataclass(frozen=True)
class UpstreamRequest:
    """One request as transport.py sends it.

    ``host`` is the URL host as ``httpx.URL.host`` gives it (lower case, IPv6 without brackets;
    what the destination check resolves and TLS verifies); ``port`` is explicit or the scheme's
    default; ``netloc`` is the Host header's form (IDNA, brackets, non-default port);
    ``target`` the path and query exactly as on the wire; ``raw_headers`` the header pairs in
    the order sent, Host included. ``headers`` and ``url`` are read-only conveniences built
    on first use (changing the ``httpx.Headers`` returned changes nothing that is sent)."""

    method: str
    scheme: str
    host: str
    port: int
    netloc: bytes
    target: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...]
    content: bytes = b""

    @cached_property
    def headers(self) -> httpx.Headers:
        """Case-insensitive view (``.get``, ``[]``, ``in``; repeated names joined with ", ")."""
        return httpx.Headers(list(self.raw_headers))

    @cached_property
    def url(self) -> UpstreamURL:
        return UpstreamURL(self)

    def redirected(self, url: httpx.URL) -> UpstreamRequest:
        """The request ``send_async`` sends after a followed redirect: same method and header
        pairs (Host included: only same-origin redirects are followed), and no body.

        Only GET and HEAD are followed, and for them the body is dropped whatever the status.
        RFC 9110 (15.4) makes the request after a 303 a GET (no body) and lets a client do the
        same for a POST on 301/302; 307/308 keep the method and would repeat the body. But a
        body on GET or HEAD has no defined meaning (9.3.1, 9.3.2), so the rule stays one: reads
        only, body dropped. The hop therefore carries no header about a body it does not
        send: Content-Length and Transfer-Encoding are always removed (the upstream would wait
        for the missing bytes until the deadline), Content-Type and Content-Encoding too when a
        body was dropped. A request without body or such headers hops exactly as
        ``httpx.Request(method, url, headers=request.headers)`` did."""
        drop = _BODY_HEADERS if self.content else _FRAMING_HEADERS
        headers = tuple(pair for pair in self.raw_headers if pair[0].lower() not in drop)
        return UpstreamRequest(self.method, url.scheme, url.host, _port_of(url), url.netloc, url.raw_path,
                               headers, b"")

    @classmethod
    def from_httpx(cls, request: httpx.Request) -> UpstreamRequest:
        """The same request taken from an ``httpx.Request`` (its body is read)."""
        url = request.url
        return cls(request.method, url.scheme, url.host, _port_of(url), url.netloc, url.raw_path,
                   tuple(request.headers.raw), request.read())

    def __repr__(self) -> str:
        # Neither headers nor query string: credentials may be in either.
        path = self.target.split(b"?", 1)[0].decode("ascii", "replace")
        return f"<UpstreamRequest({self.method!r}, '{self.scheme}://{self.netloc.decode('ascii', 'replace')}{path}')>"


def _port_of(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


@dataclass(frozen=True)
class _Origin:
    """What every request to one base URL shares: read from httpx once per base URL."""

    scheme: str
    host: str
    port: int
    netloc: bytes
    host_header: tuple[bytes, bytes]
    path: str  # the base URL's path, as written (and as sent: httpx leaves it unchanged)


_ORIGINS: dict[str, _Origin | None] = {}
_MAX_ORIGINS = 1024


def _origin(base: str) -> _Origin | None:
    """The base URL's origin, or None when it is not for the cheap path (httpx builds those)."""
    try:
        return _ORIGINS[base]
    except KeyError:
        pass
    origin = None
    start = base.find("://")
    if start > 0 and "?" not in base and "#" not in base:
        slash = base.find("/", start + 3)
        path = base[slash:] if slash >= 0 else ""
        try:
            probe = httpx.URL(base + "/_")
        except (httpx.InvalidURL, UnicodeError, ValueError):
            probe = None
        # The probe shows that httpx keeps the base path as written (no escaping, no dot segments).
        if (probe is not None and probe.host and not path.rstrip(_PATH_CHARS)
                and probe.raw_path == f"{path}/_".encode("ascii")):
            origin = _Origin(probe.scheme, probe.host, _port_of(probe), probe.netloc, (b"Host", probe.netloc), path)
    if len(_ORIGINS) >= _MAX_ORIGINS:
        _ORIGINS.clear()
    _ORIGINS[base] = origin
    return origin


def encode(method: str, base: str, path: str, *, params: Sequence[tuple[str, str]], headers: Mapping[str, str],
           content: bytes | None = None, data: Mapping[str, str] | None = None,
           files: Any = None) -> UpstreamRequest:
    """``httpx.Request(method, base + path, params=params, headers=headers, content=content,
    data=data, files=files)`` with its body read, as an ``UpstreamRequest``.

    ``path`` starts with "/". Raises what httpx would raise for a request it cannot build."""
    fast = _encode_fast(method, base, path, params, headers, content, data, files)
    if fast is not None:
        return fast
    return via_httpx(method, base, path, params=params, headers=headers, content=content, data=data, files=files)


def via_httpx(method: str, base: str, path: str, *, params: Sequence[tuple[str, str]], headers: Mapping[str, str],
              content: bytes | None = None, data: Mapping[str, str] | None = None,
              files: Any = None) -> UpstreamRequest:
    """``encode`` through httpx itself: multipart bodies and anything unusual."""
    kwargs: dict[str, Any] = {}
    if content is not None:
        kwargs["content"] = content
    if data is not None:
        kwargs["data"] = data
    if files is not None:
        kwargs["files"] = files
    return UpstreamRequest.from_httpx(httpx.Request(method, base + path, params=params, headers=headers, **kwargs))


def _encode_fast(method: str, base: str, path: str, params: Sequence[tuple[str, str]], headers: Mapping[str, str],
                 content: bytes | None, data: Mapping[str, str] | None, files: Any) -> UpstreamRequest | None:
    """``encode`` without httpx, or None when the request is not one this path covers."""
    if files is not None or (content is not None and data is not None):
        return None
    origin = _origin(base)
    if origin is None or len(base) + len(path) > _MAX_URL_LENGTH or path.rstrip(_PATH_CHARS):
        return None
    if "/." in path:
        segments = path.split("/")
        if "." in segments or ".." in segments:
            return None  # httpx removes dot segments

    target = origin.path + path
    if params:
        grouped: dict[str, list[str]] = {}  # httpx's QueryParams: repeated names at their first place
        for name, value in params:
            if type(name) is not str or type(value) is not str:
                return None
            grouped.setdefault(name, []).append(value)
        query = urlencode([(name, value) for name, values in grouped.items() for value in values])
        if len(query) > _MAX_URL_LENGTH:
            return None
        target = f"{target}?{query}"

    raw: list[tuple[bytes, bytes]] = []
    names: set[str] = set()
    for name, value in headers.items():
        if type(name) is not str or type(value) is not str or not name.isascii() or not value.isascii():
            return None
        raw.append((name.encode("ascii"), value.encode("ascii")))
        names.add(name.lower())

    body = b""
    if content is not None:
        if type(content) is not bytes:
            return None
        body = content
        if body and "content-length" not in names:
            raw.append((b"Content-Length", str(len(body)).encode("ascii")))
            names.add("content-length")
    elif data:
        if not isinstance(data, Mapping):
            return None
        for name, value in data.items():
            if type(name) is not str or type(value) is not str:
                return None
        body = urlencode(list(data.items()), doseq=True).encode("utf-8")
        if "content-length" not in names:
            raw.append((b"Content-Length", str(len(body)).encode("ascii")))
            names.add("content-length")
        if "content-type" not in names:
            raw.append((b"Content-Type", _FORM_TYPE.encode("ascii")))
            names.add("content-type")

    method = method.upper()
    auto: list[tuple[bytes, bytes]] = []
    if "host" not in names:
        auto.append(origin.host_header)
    if "content-length" not in names and "transfer-encoding" not in names and method in _EMPTY_BODY_METHODS:
        auto.append((b"Content-Length", b"0"))
    return UpstreamRequest(method, origin.scheme, origin.host, origin.port, origin.netloc, target.encode("ascii"),
                           tuple(auto + raw) if auto else tuple(raw), body)
