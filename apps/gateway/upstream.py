"""One tool call against the upstream API: request building, destination checks, transport.

Used by the MCP gateway (``execute_call_async`` inside the ASGI server) and by the approvals
worker (``execute_call``, synchronous, once a human approved the call). Both go through the
same three steps:

1. ``build_request`` (pure): the tool's ``arg_map`` splits the arguments into path, query,
   header, cookie and body; the environment's ``base_url`` gives scheme, host and base path;
   the upstream credentials (``apps.credentials.services.auth_from_secrets``) are added last so an
   argument can never override them. The caller's MCPForge token is never forwarded: the
   request is built from scratch, not copied from the incoming one. The result is an
   ``UpstreamRequest`` (upstream_request.py): the bytes httpx would have sent, built without
   httpx's URL and header machinery, which cost a quarter of planning a call.
2. Destination check (apps/core/egress.py, shared with every outbound path): the host is
   resolved once and every address must be allowed, private and loopback ones only when the
   environment has ``allow_private_network`` (loopback mocks, on-premise APIs); link-local,
   cloud metadata, multicast, reserved and the other never-class addresses are never called.
   The connection is then pinned to the checked address (Host header and TLS SNI keep the
   name), so a DNS answer that changes between the check and the connect (DNS rebinding)
   cannot redirect the call. Each redirect hop is checked again.
3. Transport (transport.py, keep-alive HTTP/1.1 on asyncio and httptools): one overall
   deadline, the response read and cut at ``MCP_UPSTREAM_MAX_BYTES`` (2 MiB by default),
   redirects followed only on the same origin for GET/HEAD and at most
   ``MCP_UPSTREAM_MAX_REDIRECTS`` times, no cookies kept between calls.

Every failure becomes a ``CallOutcome`` with ``ok=False`` and an ``error`` code; nothing here
raises into the caller for an upstream problem.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from apps.core import egress, request_context
from apps.core.http_names import FIELD_VALUE_CHARACTERS, HTTP_NAME_CHARACTERS, HTTP_TOKEN, is_field_value
from apps.inventory.toolgen import RESERVED_HEADER_PARAMS, is_wrapped, request_parts

from . import conf, parameters, transport
from .upstream_request import UpstreamRequest, encode

# httpx logs every request URL at INFO; an API key placed in the query string would land in
# the log. Upstream URLs are never logged by the gateway.
logging.getLogger("httpx").setLevel(logging.WARNING)

USER_AGENT = "MCPForge-Gateway/1.0"
TEXT_ERROR_BODY_CHARS = 2000
# Headers an argument may never set: transport framing, and the places credentials live.
_FORBIDDEN_ARG_HEADERS = RESERVED_HEADER_PARAMS
_PATH_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_URL_CHARS = 65536  # httpx's limit on a URL and on each of its parts


@dataclass
class CallOutcome:
    """What one upstream call produced.

    ``error`` is "" on success, else a stable code: ``upstream_status`` (the API answered 4xx/5xx),
    ``timeout``, ``unreachable``, ``too_large``, ``redirect_refused``, ``destination_refused``,
    ``not_configured``, ``bad_arguments``, ``credentials``. ``text`` is always safe to show the
    agent (no secrets: it never echoes request headers)."""

    ok: bool
    status: int | None
    structured: dict | None
    text: str
    latency_ms: int
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UpstreamError(Exception):
    """A call that cannot be made; ``code`` is one of the CallOutcome error codes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def outcome(self, latency_ms: int = 0) -> CallOutcome:
        return CallOutcome(ok=False, status=None, structured=None, text=self.message, latency_ms=latency_ms,
                           error=self.code)


# --------------------------------------------------------------------------- building


def _text(value: Any) -> str:
    return parameters.text(value)


def _field_value(tool, where: str, name: str, value: str, *, cookie: bool = False) -> str:
    """A header or cookie value as sent, or ``bad_arguments``: RFC 9110 field-value only
    (``http_names.is_field_value``: printable ASCII, spaces and tabs inside; no control
    character, DEL, non-ASCII or surrounding whitespace), and for a cookie no ``;`` or ``,``
    (they end or separate cookies)."""
    if is_field_value(value) and not (cookie and (";" in value or "," in value)):
        return value
    if message := _unsendable_message(f"The {where} {name}", value, ascii_only=where):
        raise UpstreamError("bad_arguments", message)  # non-ASCII: the long-standing wording
    bad = next((ch for ch in value if not is_field_value(ch) and ch not in " \t"), None)
    if bad is None and cookie:
        bad = next((ch for ch in value if ch in ";,"), None)
    what = f"contains {bad!r} (U+{ord(bad):04X})" if bad is not None else "starts or ends with whitespace"
    raise UpstreamError("bad_arguments", f"The {where} {name} {what}, which an HTTP {where} value cannot carry "
                                         f"(only {FIELD_VALUE_CHARACTERS}"
                                         f"{', without ; or ,' if cookie else ''}); the call was not made.")


def _check_name(tool, where: str, name: str) -> None:
    """A header or cookie parameter the spec named with characters HTTP does not allow is the
    tool's fault, not the agent's: refused as ``not_configured`` before anything is sent."""
    if not HTTP_TOKEN.fullmatch(name):
        raise UpstreamError("not_configured", f"The tool {tool.name} cannot be called with its {where} parameter "
                                              f"{name[:60]!a}: that is not a valid HTTP {where} name (the spec must "
                                              f"use {HTTP_NAME_CHARACTERS} only).")


_CHECKED_BASES: dict[str, str] = {}  # base URL as configured -> as used; only usable ones (every call reads it)


base_url_problem = egress.base_url_problem  # moved to apps.core.egress (one home for "may we call this")


def base_url_of(environment) -> str:
    """The environment's upstream base URL, checked; raises ``UpstreamError`` if unusable."""
    base = (environment.base_url or "").strip()
    checked = _CHECKED_BASES.get(base)
    if checked is not None:
        return checked
    if not base:
        raise UpstreamError(
            "not_configured",
            f"The {environment.name} environment has no upstream base URL yet; an admin sets it in the "
            "project settings.",
        )
    problem = base_url_problem(base, f"The upstream base URL of {environment.name}")
    if problem:
        raise UpstreamError("not_configured", f"{problem} An admin corrects it in the project settings.")
    if len(_CHECKED_BASES) >= 1024:
        _CHECKED_BASES.clear()
    _CHECKED_BASES[base] = checked = base.rstrip("/")
    return checked


@dataclass(frozen=True)
class Serialized:
    """A call's arguments as the upstream receives them, before credentials: ``path`` (the
    request path, encoded), ``query`` and ``cookies`` (unencoded pairs, in order),
    ``headers`` (the argument headers sent), ``body`` (``request_parts``' body) and ``parts``
    (``request_parts``), plus ``plain_path`` (each path parameter's text as the upstream
    decodes it). ``serialize`` makes it; ``build_request`` sends it; ``documents`` gives the
    approval policies what the upstream reads."""

    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    cookies: tuple[tuple[str, str], ...]
    body: Any
    body_fields: tuple[tuple[str, Any], ...]
    plain_path: tuple[tuple[str, str], ...]
    parts: Mapping[str, Any]
    # Header and cookie values that cannot be sent, by (location, lower-case name): raised by
    # ``build_request`` unless the credentials replace that header or cookie.
    problems: tuple[tuple[str, str, UpstreamError], ...] = ()

    def documents(self, fields: frozenset[str] | set[str]) -> list[dict[str, Any]]:
        """What the upstream receives, as documents for ``policies.requirement(received=)``.

        One mapping of every name the request carries (path parameters, query pairs,
        headers, cookies, top-level body properties or form fields) to its value as received
        (query, path, header, cookie and form values as text, JSON body values as JSON);
        where a name a policy reads (``fields``: the conditions' top-level fields) is received
        more than once with different values (``?amount=1&amount=5000``, a query and a body
        property), one more document per other value, so each value is judged: the
        strictest answer wins. Bounded by the number of values sent."""
        seen: dict[str, list[Any]] = {}
        for name, value in (*self.plain_path, *self.query, *self.headers, *self.cookies, *self.body_fields):
            values = seen.setdefault(name, [])
            if value not in values:
                values.append(value)
        base = {name: values[0] for name, values in seen.items()}
        documents = [base]
        for name in fields:
            for value in seen.get(name, ())[1:]:
                documents.append({**base, name: value})
        return documents


def serialize(tool, arguments: Mapping[str, Any], *, owned: frozenset[str] | set[str] = frozenset()) -> Serialized:
    """The arguments serialized per each parameter's OpenAPI ``style``/``explode``
    (parameters.py; ``arg_map`` entries carry non-default ones), checked. Pure.

    Raises ``UpstreamError``: ``bad_arguments`` for a value that cannot be sent (unknown
    argument, a required path parameter missing, a header or cookie value outside RFC 9110's
    field-value), and for a parameter whose serialization would send a name it does not own:
    an object exploded into ``?amount=...`` (form style) where ``amount`` is another
    parameter's or body property's name, or one of ``owned`` (the approval policies' fields).
    That is how an agent would smuggle a value past the check of the parameter that owns the
    name; the call is refused, nothing is sent. ``not_configured`` for a style the location
    does not have or a header or cookie name HTTP cannot carry."""
    try:
        parts = request_parts(tool, arguments)
    except ValueError as exc:
        raise UpstreamError("bad_arguments", str(exc)) from None
    meta = {(target["in"], target["name"]): target for target in tool.arg_map.values()}
    names = {target["name"] for target in tool.arg_map.values() if target["name"]}

    def style(location: str, name: str) -> tuple[str, bool]:
        return parameters.style_of(meta.get((location, name)) or {"in": location})

    def media(location: str, name: str) -> str:
        return str((meta.get((location, name)) or {}).get("media") or "")

    def own(location: str, name: str, produced: str) -> None:
        # "amount[x]" counts as "amount": PHP, Rails and qs read it into the parameter amount.
        base = produced.split("[", 1)[0]
        if produced == name or base == name:
            return
        owner = "an approval policy" if produced in owned or base in owned else (
            "another parameter of this tool" if produced in names or base in names else "")
        if owner:
            raise UpstreamError("bad_arguments", f"The {location} parameter {name} would be sent as {produced!a}, a "
                                                 f"name that {owner} uses; the call was refused (pass that value "
                                                 "through its own argument).")

    try:
        plain_path: list[tuple[str, str]] = []

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            value = parts["path"].get(name)
            if value is None:
                raise UpstreamError("bad_arguments", f"The path parameter {name} is required.")
            if media("path", name):
                value = _text(value)
            try:
                encoded, plain = parameters.path_text(name, value, *style("path", name))
            except UnicodeEncodeError:
                raise UpstreamError("bad_arguments", _unsendable_message(f"The path parameter {name}", value)) from None
            if encoded in ("", ".", ".."):
                raise UpstreamError("bad_arguments", f"The path parameter {name} cannot be {plain!r}.")
            plain_path.append((name, plain))
            return encoded

        path = _PATH_TEMPLATE.sub(substitute, tool.path)
        if "?" in path or "#" in path:  # only the template's own: substituted values are already encoded
            path = path.replace("?", "%3F").replace("#", "%23")
        if not path.startswith("/"):
            path = "/" + path

        query: list[tuple[str, str]] = []
        for name, value in parts["query"].items():
            if media("query", name):
                pairs = [] if value is None else [(name, _text(value))]
            else:
                pairs = parameters.query_pairs(name, value, *style("query", name))
            for produced, _ in pairs:
                own("query", name, produced)
            query.extend(pairs)

        headers: list[tuple[str, str]] = []
        problems: list[tuple[str, str, UpstreamError]] = []
        for name, value in parts["header"].items():
            if value is None or name.lower() in _FORBIDDEN_ARG_HEADERS:
                continue
            _check_name(tool, "header", name)
            sent = _text(value) if media("header", name) else parameters.header_text(value, style("header", name)[1])
            try:
                headers.append((name, _field_value(tool, "header", name, sent)))
            except UpstreamError as exc:
                problems.append(("header", name.lower(), exc))

        cookies: list[tuple[str, str]] = []
        for name, value in parts["cookie"].items():
            _check_name(tool, "cookie", name)
            if media("cookie", name):
                pairs = [] if value is None else [(name, _text(value))]
            else:
                pairs = parameters.cookie_pairs(name, value, *style("cookie", name))
            for produced, sent in pairs:
                own("cookie", name, produced)
                _check_name(tool, "cookie", produced)
                try:
                    cookies.append((produced, _field_value(tool, "cookie", produced, sent, cookie=True)))
                except UpstreamError as exc:
                    problems.append(("cookie", produced, exc))
    except parameters.StyleError as exc:
        raise UpstreamError(exc.code, exc.message) from None

    body = parts["body"]
    fields: tuple[tuple[str, Any], ...] = ()
    if isinstance(body, dict):  # sent as form fields (text) or as a JSON object
        content_type = (tool.body_content_type or "").split(";")[0].strip().lower()
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            fields = tuple((str(k), _text(v)) for k, v in body.items() if v is not None)
        else:
            fields = tuple((str(k), v) for k, v in body.items())
    return Serialized(path, tuple(query), tuple(headers), tuple(cookies), body, fields, tuple(plain_path), parts,
                      tuple(problems))


def build_request(tool, environment, arguments: Mapping[str, Any], auth=None, *,
                  serialized: Serialized | None = None) -> UpstreamRequest:
    """The HTTP request for ``tool`` called with ``arguments`` in ``environment``.

    Pure apart from reading the objects given: ``auth`` is an ``UpstreamAuth`` (headers, query,
    cookies) or None. Raises ``UpstreamError`` for anything that cannot be sent, never a raw
    encoding or URL exception: an argument (``bad_arguments``: a lone surrogate anywhere, non-ASCII
    text in a header or cookie, a URL over httpx's length limit), the credentials
    (``credentials``) or the tool or base URL (``not_configured``). Non-ASCII text in path and
    query values is percent-encoded as UTF-8, in a body sent as UTF-8. The bytes are those
    ``httpx.Request(method, url, params=query, headers=headers, content= | data= | files=)``
    produces (``upstream_request.encode``), so the query, form and multipart encodings are httpx's.

    A "?" or "#" in the tool's path template (specs sometimes write ``/search?type=a``) is
    sent as part of the path, percent-encoded (%3F, %23), like any other character a path cannot
    carry as written: the template is a path, so nothing of it is dropped and it never becomes a
    query or a fragment. Before, httpx read it as a query (then replaced by the call's query) or a
    fragment (which swallowed the rest of the path). Templates without them are unchanged."""
    base = base_url_of(environment)
    if serialized is None:
        serialized = serialize(tool, arguments)
    parts, path = serialized.parts, serialized.path
    query = list(serialized.query)
    headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json, */*;q=0.5"}
    request_id = request_context.current().request_id
    if request_id:
        headers["X-Request-ID"] = request_id
    headers.update(serialized.headers)
    cookies = dict(serialized.cookies)
    for location, name, problem in serialized.problems:
        replaced = auth is not None and (
            name in {k.lower() for k in auth.headers} if location == "header" else name in auth.cookies)
        if not replaced:
            raise problem

    if auth is not None:
        # Credentials last: they replace any same-named argument.
        auth_query = dict(auth.query)
        query = [(k, v) for k, v in query if k not in auth_query] + list(auth_query.items())
        lowered = {k.lower() for k in auth.headers}
        headers = {k: v for k, v in headers.items() if k.lower() not in lowered}
        headers.update(auth.headers)
        cookies.update(auth.cookies)
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())

    body = parts["body"]
    content_type = (tool.body_content_type or "").split(";")[0].strip().lower()
    kwargs: dict[str, Any] = {}
    try:
        if body is not None:
            if content_type == "application/x-www-form-urlencoded":
                kwargs["data"] = _form_fields(body)
            elif content_type == "multipart/form-data":
                kwargs["files"] = [(k, (None, v)) for k, v in _form_fields(body).items()]
            elif content_type and "json" not in content_type and isinstance(body, str):
                kwargs["content"] = body.encode()
                headers["Content-Type"] = tool.body_content_type
            else:
                kwargs["content"] = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
                headers["Content-Type"] = tool.body_content_type if "json" in content_type else "application/json"
        # The body is materialised (multipart included) so the request can be re-sent to a pinned address.
        return encode(tool.method.upper(), base, path, params=query, headers=headers, **kwargs)
    except UnicodeEncodeError:
        # Only on this (rare) path is it worked out which value could not be encoded.
        raise _unencodable(tool, environment, parts, auth, headers, cookies) from None
    except httpx.InvalidURL as exc:
        if "too long" in str(exc):
            raise UpstreamError("bad_arguments", f"The request URL would be longer than {_MAX_URL_CHARS} "
                                "characters; shorten the path and query arguments.") from None
        raise UpstreamError("not_configured", f"The tool {tool.name} cannot be called: its path does not make "
                                              f"a valid URL ({exc}).") from None


# --------------------------------------------------------------------------- unencodable input


def _strings(value: Any):
    """Every text in an argument value (object keys included): what could fail to encode."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _bad_character(text: str, *, ascii_only: bool) -> str | None:
    """The first character of ``text`` that cannot be sent: a lone surrogate (not Unicode text,
    so not UTF-8 either) or, where only ASCII goes (header and cookie values), any non-ASCII."""
    if text.isascii():
        return None
    for ch in text:
        if "\ud800" <= ch <= "\udfff" or (ascii_only and ch > "\x7f"):
            return ch
    return None


def _unsendable_message(subject: str, value: Any, *, ascii_only: str = "") -> str:
    """The sentence for ``subject`` ("The header X-Trace") whose ``value`` cannot be sent, "" if
    it can. ``ascii_only`` names where only ASCII goes ("header", "cookie")."""
    for text in _strings(value):
        ch = _bad_character(text, ascii_only=bool(ascii_only))
        if ch is None:
            continue
        if "\ud800" <= ch <= "\udfff":
            return (f"{subject} contains U+{ord(ch):04X}, a lone surrogate: it is not valid Unicode text and cannot "
                    "be encoded; the call was not made.")
        return (f"{subject} contains {ch!r} (U+{ord(ch):04X}): HTTP {ascii_only} values can only be ASCII text; "
                "the call was not made.")
    return ""


def _unencodable(tool, environment, parts: dict[str, Any], auth, headers: Mapping[str, str],
                 cookies: Mapping[str, str]) -> UpstreamError:
    """The error for a request that could not be encoded: the first argument at fault
    (``bad_arguments``), else the credentials (``credentials``, naming where they go, never
    their value), else the tool's own definition (``not_configured``). ``headers`` and
    ``cookies`` are those about to be sent: an argument the credentials replaced is not blamed."""
    auth_query = set(auth.query) if auth is not None else set()
    auth_headers = set(auth.headers) if auth is not None else set()
    auth_cookies = set(auth.cookies) if auth is not None else set()
    for name, value in parts["query"].items():
        sent = [item for item in _query_pairs(tool, name, value) if item[0] not in auth_query]
        if message := _unsendable_message(f"The query parameter {name}", sent):
            return UpstreamError("bad_arguments", message)
    for where, given, sending, replaced in (("header", parts["header"], headers, auth_headers),
                                            ("cookie", parts["cookie"], cookies, auth_cookies)):
        for name, value in given.items():
            text = None if value is None else _text(value)
            if text is None or sending.get(name) != text or name in replaced or not name.isascii():
                continue  # not sent as given (dropped, replaced); a non-ASCII name is the tool's
            if message := _unsendable_message(f"The {where} {name}", text, ascii_only=where):
                return UpstreamError("bad_arguments", message)
    body = parts["body"]
    if body is not None:
        whole = any(target["in"] == "body" and target["name"] == "" for target in tool.arg_map.values())
        fields = body.items() if isinstance(body, dict) and not whole else [("", body)]
        for name, value in fields:
            subject = f"The body property {name}" if name else "The request body"
            if message := _unsendable_message(subject, value):
                return UpstreamError("bad_arguments", message)
    if auth is not None:
        for kind, values, ascii_only in (("header", auth.headers, True), ("cookie", auth.cookies, True),
                                         ("query parameter", auth.query, False)):
            for name, value in values.items():
                if _bad_character(name, ascii_only=ascii_only) or _bad_character(value, ascii_only=ascii_only):
                    return UpstreamError(
                        "credentials",
                        f"The upstream credential sent as {kind} {name!a} in {environment.name} contains text an "
                        "HTTP request cannot carry; an admin must set it again.")
    return UpstreamError("not_configured", f"The tool {tool.name} cannot be called: its definition (path, "
                                           "parameter names or body content type) contains text an HTTP request "
                                           "cannot carry.")


def _query_pairs(tool, name: str, value: Any) -> list[tuple[str, str]]:
    target = next((t for t in tool.arg_map.values() if t["in"] == "query" and t["name"] == name), None)
    if target is not None and target.get("media"):
        return [(name, _text(value))]
    return parameters.query_pairs(name, value, *parameters.style_of(target or {"in": "query"}))


def _form_fields(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise UpstreamError("bad_arguments", "A form body must be an object.")
    return {str(k): _text(v) for k, v in body.items() if v is not None}


def prepare_request(*, tool, environment, arguments: Mapping[str, Any], secrets: Callable[[], tuple] | None = None,
                    serialized: Serialized | None = None) -> UpstreamRequest:
    """``build_request`` with the environment's decrypted credentials (sync). ``secrets``
    returns the credential material (the gateway passes its in-memory copy, see snapshot.py);
    without it the material is read from the database and decrypted."""
    from apps.core.errors import DomainError
    from apps.credentials.services import auth_from_secrets, upstream_secrets

    base_url_of(environment)  # a clear "not configured" before any credential is decrypted
    try:
        materials = secrets() if secrets is not None else upstream_secrets(environment, tool)
        auth = auth_from_secrets(materials, environment)
    except DomainError as exc:
        raise UpstreamError("credentials", exc.message) from None
    return build_request(tool, environment, arguments, auth=auth, serialized=serialized)


# --------------------------------------------------------------------------- destination


async def checked_address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: ``host`` resolved once, every address allowed by the egress
    guard (apps/core/egress.py) under the environment's private-network switch."""
    try:
        return await egress.checked_address_async(host, port, allow_private=allow_private)
    except egress.Unresolvable:
        raise UpstreamError("unreachable", f"The upstream host {host} cannot be resolved.") from None
    except egress.Refused as exc:
        hint = "" if allow_private or "private or loopback" not in exc.message else (
            " An admin must enable private network access for this environment if it is intended.")
        raise UpstreamError("destination_refused", exc.message + hint) from None


# --------------------------------------------------------------------------- transport


def new_async_client() -> transport.UpstreamPool:
    """The connection pool the gateway keeps open for its lifetime (connection reuse to
    upstreams). It keeps no cookies (it is shared by every caller, and an upstream's
    Set-Cookie must neither pile up in the process nor reach another caller's call) and reads
    no proxy settings from the environment (they must not reroute upstream calls)."""
    return transport.UpstreamPool(connect_timeout=min(conf.get_int("MCP_UPSTREAM_TIMEOUT_SECONDS"),
                                                      conf.get_int("MCP_UPSTREAM_CONNECT_TIMEOUT_SECONDS")),
                                  ssl_context=transport.upstream_ssl_context(conf.upstream_ca_bundle()))


def _same_origin(a, b: httpx.URL) -> bool:
    """``a`` is an ``UpstreamRequest.url``: its port, like httpx.URL's, is None when the default."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def send_async(request: UpstreamRequest, *, tool, environment,
                     client: transport.UpstreamPool | None = None) -> CallOutcome:
    """Send a built request under the destination, size, redirect and time rules.

    The socket connects to the address ``checked_address`` approved (DNS answers that change
    afterwards cannot redirect the call); the Host header and TLS name stay the URL's host.

    Redirects (301, 302, 303, 307, 308) are followed for GET and HEAD on the same origin, at
    most ``MCP_UPSTREAM_MAX_REDIRECTS`` times; each hop repeats the method and headers without a
    body (``UpstreamRequest.redirected``). Anything else is a ``redirect_refused`` outcome, and so
    is a redirect whose Location is not a URL at all: the API did answer, but with nothing the
    gateway will follow, which reads better to an agent than ``upstream_status`` (an API error
    to act on). That message does not repeat the Location: it may echo the query, credentials
    included."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    pool = client or new_async_client()
    limit = conf.get_int("MCP_UPSTREAM_MAX_BYTES")
    deadline = conf.get_int("MCP_UPSTREAM_TIMEOUT_SECONDS")
    try:
        async with asyncio.timeout(deadline):
            hops = 0
            while True:
                address = await checked_address(request.host, request.port,
                                                allow_private=bool(environment.allow_private_network))
                response = await pool.request(
                    destination=transport.Destination(request.scheme, address, request.port, request.host),
                    method=request.method, target=request.target, headers=request.raw_headers,
                    body=request.content, limit=limit)
                location = response.headers.get("location")
                if response.status_code in _REDIRECT_STATUSES and location:
                    url = request.url
                    try:
                        target = url.join(location)
                        same_origin = _same_origin(url, target)  # reading .host may raise too (IDNA)
                    except (httpx.InvalidURL, UnicodeError, ValueError):
                        raise UpstreamError(
                            "redirect_refused",
                            f"The upstream API answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
                            + " with a Location header that is not a valid URL; the gateway did not follow it.",
                        ) from None
                    if (not same_origin or request.method not in ("GET", "HEAD")
                            or hops >= conf.get_int("MCP_UPSTREAM_MAX_REDIRECTS")):
                        raise UpstreamError(
                            "redirect_refused",
                            f"The upstream API redirected to {target.scheme}://{target.host}{target.path}; "
                            "the gateway follows redirects only on the same host, for reads, "
                            f"at most {conf.get_int('MCP_UPSTREAM_MAX_REDIRECTS')} times.",
                        )
                    hops += 1
                    request = request.redirected(target)
                    continue
                return response_outcome(tool, response.status_code, response.reason_phrase,
                                        response.headers.get("content-type", ""), response.body, elapsed())
    except UpstreamError as exc:
        return exc.outcome(elapsed())
    except TimeoutError:
        return UpstreamError("timeout", f"The upstream API did not answer within {deadline} s.").outcome(elapsed())
    except transport.ResponseTooLarge:
        return UpstreamError("too_large", _too_large(limit)).outcome(elapsed())
    except transport.TransportError as exc:
        return UpstreamError("unreachable", str(exc)).outcome(elapsed())  # transport.py words whole sentences
    finally:
        if client is None:
            await pool.aclose()


def _too_large(limit: int) -> str:
    return (f"The upstream response is larger than {limit // 1024} KiB; the gateway does not pass it on. "
            "Narrow the request (filters, paging).")


def _is_json(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def response_outcome(tool, status: int, reason: str, content_type: str, body: bytes, latency_ms: int) -> CallOutcome:
    """Turn an upstream response into the result the agent sees. Pure."""
    text = body.decode("utf-8", errors="replace")
    value: Any = None
    parsed = False
    if body and _is_json(content_type):
        try:
            value = json.loads(text)
            parsed = True
        except ValueError:
            parsed = False
    if 200 <= status < 300:
        structured: dict | None = None
        if parsed:
            if is_wrapped(tool.output_schema) or not isinstance(value, dict):
                structured = {"result": value}
            else:
                structured = value
            text = json.dumps(value, ensure_ascii=False)
        elif not body:
            text = f"HTTP {status} {reason}".strip() + " (no content)"
        elif not content_type.lower().startswith(("text/", "application/xml")) and "\ufffd" in text:
            text = f"HTTP {status}: {len(body)} bytes of {content_type or 'binary data'} (not shown)"
        return CallOutcome(ok=True, status=status, structured=structured, text=text, latency_ms=latency_ms)
    snippet = text.strip()
    if len(snippet) > TEXT_ERROR_BODY_CHARS:
        snippet = snippet[:TEXT_ERROR_BODY_CHARS] + "…"
    message = f"The upstream API answered HTTP {status} {reason}".rstrip()
    message += f": {snippet}" if snippet else "."
    return CallOutcome(ok=False, status=status, structured=None, text=message, latency_ms=latency_ms,
                       error="upstream_status")


# --------------------------------------------------------------------------- entry points


async def execute_call_async(*, tool, environment, arguments: Mapping[str, Any],
                             request: UpstreamRequest | None = None,
                             client: transport.UpstreamPool | None = None) -> CallOutcome:
    """The gateway's entry: ``request`` is normally prepared in the caller's database thread
    (credentials need the database); when omitted it is prepared here in a worker thread."""
    if request is None:
        from asgiref.sync import sync_to_async

        try:
            request = await sync_to_async(prepare_request, thread_sensitive=False)(
                tool=tool, environment=environment, arguments=arguments)
        except UpstreamError as exc:
            return exc.outcome()
    return await send_async(request, tool=tool, environment=environment, client=client)


def execute_call(*, tool, environment, arguments: dict) -> CallOutcome:
    """Make the call synchronously (Celery tasks, management commands): credentials are read in
    the calling thread (and its transaction), the HTTP exchange runs on a private event loop,
    in a helper thread when this thread already runs one (it then blocks that loop: from
    async code prefer ``execute_call_async``)."""
    try:
        request = prepare_request(tool=tool, environment=environment, arguments=arguments)
    except UpstreamError as exc:
        return exc.outcome()
    exchange = send_async(request, tool=tool, environment=environment)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(exchange)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcp-upstream") as pool:
        return pool.submit(asyncio.run, exchange).result()
