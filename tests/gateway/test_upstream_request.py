"""apps.gateway.upstream_request: the request the gateway sends upstream is, byte for byte, the
one ``httpx.Request`` built before (``reference_build_request`` below is the former
``build_request``, kept as the reference): method, target, header pairs in order, body, origin,
and the same refusal, except where the new one is meant to differ (``assert_builds_like_reference``
lists those: a clear UpstreamError where the old one raised a raw exception or used a base URL
with a query or fragment, and the "?" and "#" of a path template sent percent-encoded). A table
of tools and arguments, generated arguments (hypothesis), generated low-level inputs for
``encode``, then the bytes on the wire and the redirect rules of ``send_async`` against a raw
loopback server."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core import request_context
from apps.credentials.schemes import UpstreamAuth
from apps.gateway import conf, transport, upstream, upstream_request
from apps.gateway.upstream import (
    _FORBIDDEN_ARG_HEADERS,
    _PATH_TEMPLATE,
    USER_AGENT,
    UpstreamError,
    _form_fields,
    _text,
    base_url_problem,
    build_request,
)
from apps.gateway.upstream_request import UpstreamRequest, encode, via_httpx
from apps.inventory.toolgen import request_parts
from tests.gateway.conftest import run_async
from tests.gateway.doubles import FakeEnv, FakeTool
from tests.gateway.test_transport import Server

# --------------------------------------------------------------------------- the reference


def reference_base_url_of(environment) -> str:
    """``upstream.base_url_of`` as it was then: it let a query, a fragment and anything httpx
    refuses through (``base_url_problem`` refuses them now)."""
    base = (environment.base_url or "").strip()
    if not base:
        raise UpstreamError(
            "not_configured",
            f"The {environment.name} environment has no upstream base URL yet; an admin sets it in the "
            "project settings.",
        )
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamError("not_configured", f"The upstream base URL of {environment.name} is not an http(s) URL.")
    if parts.username or parts.password:
        raise UpstreamError("not_configured", "The upstream base URL must not contain credentials.")
    return base.rstrip("/")


def _single_line(kind: str, name: str, value: str) -> str:
    """``upstream._single_line`` as it was then (header values are checked against RFC 9110's
    field-value now, ``http_names.is_field_value``)."""
    if any(ch in value for ch in "\r\n\x00"):
        raise UpstreamError("bad_arguments", f"The {kind} {name} must be a single line.")
    return value


def _path_value(name: str, value: Any) -> str:
    """``upstream._path_value`` as it was then (style simple, which is still the default)."""
    text = ",".join(_text(v) for v in value) if isinstance(value, list) else _text(value)
    if text in ("", ".", ".."):
        raise UpstreamError("bad_arguments", f"The path parameter {name} cannot be {text!r}.")
    return quote(text, safe="")


def _query_items(parts: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``upstream._query_items`` as it was then: form style, exploded, which is still the
    default (an object's properties become top-level pairs; serialize now refuses those whose
    name another parameter or a policy owns)."""
    items: list[tuple[str, str]] = []
    for name, value in parts.items():
        if value is None:
            continue
        if isinstance(value, list):
            items.extend((name, _text(v)) for v in value if v is not None)
        elif isinstance(value, dict):
            items.extend((str(k), _text(v)) for k, v in value.items() if v is not None)
        else:
            items.append((name, _text(value)))
    return items


def _cookie_value(name: str, value: str) -> str:
    """``upstream._cookie_value`` as it was then (it blamed a bad cookie name on the arguments;
    ``_check_name`` refuses such a name as the tool's now)."""
    if any(ch in value for ch in ";,\r\n\x00") or any(ch in name for ch in "=;, \r\n\x00"):
        raise UpstreamError("bad_arguments", f"The cookie {name} contains characters a cookie cannot carry.")
    return value


def reference_build_request(tool, environment, arguments: Mapping[str, Any], auth=None) -> httpx.Request:
    """``upstream.build_request`` as it was when it returned an ``httpx.Request``: unchanged."""
    base = reference_base_url_of(environment)
    try:
        parts = request_parts(tool, arguments)
    except ValueError as exc:
        raise UpstreamError("bad_arguments", str(exc)) from None

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in parts["path"] or parts["path"][name] is None:
            raise UpstreamError("bad_arguments", f"The path parameter {name} is required.")
        return _path_value(name, parts["path"][name])

    path = _PATH_TEMPLATE.sub(substitute, tool.path)
    url = base + (path if path.startswith("/") else "/" + path)

    query = _query_items(parts["query"])
    headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json, */*;q=0.5"}
    request_id = request_context.current().request_id
    if request_id:
        headers["X-Request-ID"] = request_id
    for name, value in parts["header"].items():
        if value is None or name.lower() in _FORBIDDEN_ARG_HEADERS:
            continue
        headers[name] = _single_line("header", name, _text(value))
    cookies = {name: _cookie_value(name, _text(value)) for name, value in parts["cookie"].items()
               if value is not None}

    if auth is not None:
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
    request = httpx.Request(tool.method.upper(), url, params=query, headers=headers, **kwargs)
    request.read()
    return request


_BOUNDARY = re.compile(rb"--([0-9a-f]{32})\r\n")  # httpx's random multipart boundary, as the body opens


def _without_boundary(request_headers, content: bytes):
    """Multipart boundaries are random: compare with the boundary replaced (same length)."""
    found = _BOUNDARY.match(content)
    if found is None:
        return list(request_headers), content
    boundary = found.group(1)
    return [(k, v.replace(boundary, b"B" * 32)) for k, v in request_headers], content.replace(boundary, b"B" * 32)


def _attempt(build, *args, **kwargs):
    try:
        return build(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - any refusal must be the same refusal
        return None, exc


def assert_same(new: UpstreamRequest, ref: httpx.Request) -> None:
    """Everything transport.py sends, and what the destination check and TLS use."""
    assert isinstance(new, UpstreamRequest)
    assert new.method == ref.method
    assert new.target == ref.url.raw_path
    assert (new.scheme, new.host, new.netloc) == (ref.url.scheme, ref.url.host, ref.url.netloc)
    assert new.port == (ref.url.port or (443 if ref.url.scheme == "https" else 80))
    new_headers, new_content = _without_boundary(new.raw_headers, new.content)
    ref_headers, ref_content = _without_boundary(ref.headers.raw, ref.content)
    assert (new_headers, new_content) == (ref_headers, ref_content)
    new_head, new_refusal = _attempt(transport._request_head, new.method, new.target, new_headers)
    ref_head, ref_refusal = _attempt(transport._request_head, ref.method, ref.url.raw_path, ref_headers)
    assert (new_head, str(new_refusal)) == (ref_head, str(ref_refusal))  # transport refuses \r \n \0 alike
    # The conveniences tests and callers read: the URL as sent (no fragment; an empty path is "/").
    sent_url = ref.url.copy_with(fragment=None, raw_path=ref.url.raw_path)
    assert new.url == sent_url and str(new.url) == str(sent_url)
    assert (new.url.scheme, new.url.host, new.url.port, new.url.raw_path) == \
        (ref.url.scheme, ref.url.host, ref.url.port, ref.url.raw_path)
    for name, _ in ref.headers.raw:
        if "boundary=" not in ref.headers[name.decode()]:
            assert new.headers.get(name.decode().upper()) == ref.headers[name.decode()]


def assert_builds_like_reference(tool, env, arguments, auth=None, request_id: str = "") -> None:
    scope = request_context.active(request_context.RequestContext(request_id=request_id)) if request_id \
        else nullcontext()
    # Intended change: a "?" or "#" in the path template is sent in the path, percent-encoded, so
    # the new builder must equal the old one given the template with them already encoded (the
    # old one read them as a query, then dropped, or a fragment swallowing the path).
    ref_tool = dataclasses.replace(tool, path=tool.path.replace("?", "%3F").replace("#", "%23"))
    with scope:
        new, new_error = _attempt(build_request, tool, env, arguments, auth=auth)
        ref, ref_error = _attempt(reference_build_request, ref_tool, env, arguments, auth=auth)
    # Intended changes: input the old builder sent wrongly or let escape as a raw exception is now
    # a clear UpstreamError, and only that input:
    # - a base URL with a query or fragment, or one httpx cannot parse: "not_configured";
    if base_url_problem((env.base_url or "").strip()) is not None:
        assert isinstance(new_error, UpstreamError) and new_error.code == "not_configured", new_error
        return
    # - issue 16: arrays and objects in the path, a header or a cookie, and objects in the query, are
    #   serialized per OpenAPI's style/explode now (simple: "a,b" / "R,100"; the old builder sent
    #   JSON text, or "[]"): only the kind of outcome is compared for them.
    structured = [value for prop, value in arguments.items() if prop in tool.arg_map and (
        isinstance(value, dict) or (isinstance(value, list) and tool.arg_map[prop]["in"] in ("path", "header",
                                                                                            "cookie")))
                  and tool.arg_map[prop]["in"] != "body"]
    if structured:
        assert new_error is None or isinstance(new_error, UpstreamError), new_error
        return
    # - text a request cannot carry (UnicodeEncodeError: a lone surrogate anywhere, non-ASCII in
    #   a header or cookie) and a URL httpx refuses (InvalidURL: too long, a bad template):
    #   "bad_arguments" naming the argument, or "credentials"/"not_configured" when the credentials
    #   or the tool itself hold the text.
    if isinstance(ref_error, UnicodeEncodeError | httpx.InvalidURL):
        assert isinstance(new_error, UpstreamError), (new_error, ref_error)
        assert new_error.code in ("bad_arguments", "credentials", "not_configured"), new_error.message
        return
    # - issue 16: an object exploded into names another parameter owns is refused (smuggling), and
    #   header and cookie values are held to RFC 9110's field-value (http_names.is_field_value),
    #   with a sentence naming the character; the old builder sent or refused them otherwise.
    if isinstance(new_error, UpstreamError) and new_error.code == "bad_arguments" and (
            "a name that another parameter of this tool uses" in new_error.message
            or "value cannot carry" in new_error.message
            or (isinstance(ref_error, UpstreamError) and ref_error.code == "bad_arguments"
                and new_error.message.startswith(("The header ", "The cookie ")))):
        return
    #   A header or cookie the credentials replace is not refused for the argument's value any more
    #   (the old builder refused a control character in it before the credentials were added).
    if new_error is None and isinstance(ref_error, UpstreamError) and (
            "must be a single line" in ref_error.message or "a cookie cannot carry" in ref_error.message):
        return
    if ref_error is not None or new_error is not None:
        assert type(new_error) is type(ref_error), (new_error, ref_error)
        assert str(new_error) == str(ref_error)
        if isinstance(ref_error, UpstreamError):
            assert new_error.code == ref_error.code
        return
    assert_same(new, ref)


# --------------------------------------------------------------------------- the table


def _args(**where) -> dict:
    return {prop: {"in": spot, "name": name} for prop, (spot, name) in where.items()}


EVERYTHING = _args(petId=("path", "petId"), tags=("query", "tags"), limit=("query", "limit"),
                   filter=("query", "filter"), q=("query", "q"), trace=("header", "X-Trace"),
                   ctype=("header", "Content-Type"), auth=("header", "Authorization"),
                   session=("cookie", "session"), theme=("cookie", "theme"))
BODY = _args(name=("body", "name"), age=("body", "age"), extra=("body", "extra"))
WHOLE = {"body": {"in": "body", "name": ""}}

BASES = [
    "https://api.example.com/v1/", "https://api.example.com", "http://127.0.0.1:8080", "http://[::1]:8000/api",
    "https://API.Example.COM:443/Base/", "http://example.com:80/x", "https://bücher.example/v1",
    "https://xn--bcher-kva.example/v1", "https://api.example.com/v1?key=1", "https://api.example.com/v1#frag",
    "https://api.example.com/a b", "https://api.example.com/v1/./x/..", "https://api.example.com/%7Euser/",
    "https://api.example.com/v1/{x}", "https://api.example.com/%zz", "https://api.example.com/a|b^[c]",
    "https://api.example.com:8443", "https://api.example.com:99999", "https://[fe80::1%25eth0]/",
]
PATHS = [
    "/pets/{petId}", "pets/{petId}", "/", "", "/a/./{petId}/../b", "/files/{petId}.json", "/x|y^[z]/{petId}",
    "/café/{petId}", "/search?type=a&{petId}", "/a#frag/{petId}", "/%41/{petId}", "/%zz/{petId}",
    "/{petId}/.well-known", "/sp ace/{petId}", "/quote\"/{petId}", "/brace}/{petId}", "/~user/{petId};v=1",
]
ARGUMENTS = [
    {"petId": 42},
    {"petId": "../../admin?x=1#f", "tags": ["a", "b"], "limit": True},
    {"petId": "a b/é", "q": "x y&z=1/?#%20+é", "limit": 1.5, "tags": [1, None, False, {"k": [1]}]},
    {"petId": [1, 2, "x,y"], "filter": {"status": "sold", "limit": 3, "none": None, "deep": {"a": 1}}},
    {"petId": 1, "tags": ["z"], "filter": {"b": 2, "tags": "y"}, "q": ""},  # repeated names regroup
    {"petId": 1, "trace": "t-1", "session": "s1", "theme": "dark mode"},
    {"petId": 1, "auth": "Bearer stolen", "ctype": "text/x-arg"},
    {"petId": 1, "trace": "café"},  # non-ASCII header: httpx refuses it (UnicodeEncodeError)
    {"petId": 1, "trace": "a\r\nHost: evil"},
    {"petId": 1, "session": "a;b"},
    {"petId": None},
    {"petId": ""},
    {"nope": 1},
    {"petId": 1, "q": "x" * 70000},  # over httpx's query length limit
    {"petId": "x" * 70000},  # over httpx's URL length limit
    {"petId": "\ud800"},
    {"petId": 1, "q": "\udcff"},
]
AUTHS = [
    None,
    UpstreamAuth(headers={"api_key": "k-1"}),
    UpstreamAuth(headers={"Authorization": "Bearer up", "x-trace": "cred"}, query={"api_key": "k1", "limit": "5"},
                 cookies={"session": "cred"}),
    UpstreamAuth(query={"tags": "from-cred"}),
    UpstreamAuth(headers={"Host": "other.example", "Content-Length": "3"}),
]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("path", PATHS)
def test_bases_and_paths_build_as_httpx_did(base, path):
    tool = FakeTool(path=path, arg_map=EVERYTHING)
    for arguments in ({"petId": 7, "tags": ["a"]}, {"petId": "x/y", "q": "1"}, {"petId": 7}):
        assert_builds_like_reference(tool, FakeEnv(base_url=base), arguments if "{petId}" in path else
                                     {k: v for k, v in arguments.items() if k != "petId"})


@pytest.mark.parametrize("arguments", ARGUMENTS, ids=range(len(ARGUMENTS)))
@pytest.mark.parametrize("auth", AUTHS, ids=range(len(AUTHS)))
@pytest.mark.parametrize("method", ["get", "POST", "delete"])
def test_arguments_and_credentials_build_as_httpx_did(arguments, auth, method):
    assert_builds_like_reference(FakeTool(method=method, arg_map=EVERYTHING), FakeEnv(), arguments, auth=auth)
    assert_builds_like_reference(FakeTool(method=method, arg_map=EVERYTHING), FakeEnv(), arguments, auth=auth,
                                 request_id="req-123")


BODY_CASES = [
    ("application/json", BODY, {"name": "rex", "age": 3}),
    ("application/json", BODY, {"name": "ünïcode \u2028", "extra": {"nested": [1, 2.5, None, True]}}),
    ("application/vnd.api+json; charset=utf-8", BODY, {"name": "x"}),
    ("application/json", WHOLE, {"body": [1, 2]}),
    ("application/json", WHOLE, {"body": "text"}),
    ("application/json", WHOLE, {"body": None}),
    ("", WHOLE, {"body": {"a": 1}}),
    ("text/plain", WHOLE, {"body": "plain text"}),
    ("text/plain", WHOLE, {"body": ""}),  # empty body: httpx adds "Content-Length: 0" to POST/PUT/PATCH
    ("text/plain", WHOLE, {"body": {"not": "a string"}}),
    ("application/xml", WHOLE, {"body": "<a>é</a>"}),
    ("text/plain", WHOLE, {"body": "\ud800"}),
    ("application/x-www-form-urlencoded", BODY, {"name": "a b&c=d", "age": False, "extra": None}),
    ("application/x-www-form-urlencoded", BODY, {"extra": {"k": ["v"]}, "name": "é+%"}),
    ("application/x-www-form-urlencoded", BODY, {"extra": None}),  # no field left: no body at all
    ("application/x-www-form-urlencoded", WHOLE, {"body": {}}),
    ("application/x-www-form-urlencoded", WHOLE, {"body": [1]}),
    ("application/x-www-form-urlencoded; charset=utf-8", WHOLE, {"body": {"name": "\udcff"}}),
    ("multipart/form-data", BODY, {"name": "hello", "age": 3}),
    ("multipart/form-data", BODY, {"extra": None}),
    ("multipart/form-data", WHOLE, {"body": {"f": "é", "g": True}}),
]


@pytest.mark.parametrize("content_type,arg_map,arguments", BODY_CASES, ids=range(len(BODY_CASES)))
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET", "OPTIONS"])
def test_bodies_build_as_httpx_did(content_type, arg_map, arguments, method):
    tool = FakeTool(method=method, path="/things", body_content_type=content_type,
                arg_map={**arg_map, **_args(ctype=("header", "content-type"), cl=("header", "X-Len"))})
    assert_builds_like_reference(tool, FakeEnv(), arguments)
    assert_builds_like_reference(tool, FakeEnv(), {**arguments, "ctype": "application/x-custom"})
    assert_builds_like_reference(tool, FakeEnv(), arguments, auth=UpstreamAuth(headers={"content-type": "a/b"}))


def test_common_tools_take_the_cheap_path(monkeypatch):
    """The point of the module: what real tools send is built without httpx."""

    def refuse(*args, **kwargs):
        raise AssertionError("built by httpx")

    monkeypatch.setattr(upstream_request, "via_httpx", refuse)
    auth = UpstreamAuth(headers={"api_key": "k"}, query={"key": "q"}, cookies={"c": "1"})
    for base in ("https://api.example.com/v1/", "http://127.0.0.1:4010", "http://[::1]:8000/api",
                 "https://bücher.example"):
        env = FakeEnv(base_url=base)
        build_request(FakeTool(arg_map=EVERYTHING), env, {"petId": "a b", "tags": ["x", "y"], "q": "é&", "trace": "t",
                                                      "filter": {"kind": "z"}}, auth=auth)
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            build_request(FakeTool(method="POST", path="/x", arg_map=BODY, body_content_type=content_type), env,
                          {"name": "n"})
        build_request(FakeTool(method="PUT", path="/x", arg_map=WHOLE, body_content_type="text/plain"), env,
                      {"body": ""})


def test_the_request_value_is_immutable_and_keeps_secrets_out_of_its_repr():
    request = build_request(FakeTool(arg_map=EVERYTHING), FakeEnv(), {"petId": 1, "q": "x"},
                            auth=UpstreamAuth(headers={"api_key": "secret-1"}, query={"key": "secret-2"}))
    with pytest.raises(AttributeError):
        request.method = "POST"  # type: ignore[misc]
    assert request.headers["API_KEY"] == "secret-1" and "authorization" not in request.headers
    assert request.url.params["key"] == "secret-2" and request.url.path == "/v1/pets/1"
    assert "secret" not in repr(request) and repr(request) == "<UpstreamRequest('GET', 'https://api.example.com/v1/pets/1')>"
    assert request.raw_headers[0] == (b"Host", b"api.example.com")


# --------------------------------------------------------------------------- generated


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=6)
NAMES = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters=":"),
                min_size=1, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    path=st.sampled_from(PATHS),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    content_type=st.sampled_from(["", "application/json", "text/plain", "application/x-www-form-urlencoded",
                                  "multipart/form-data"]),
    arguments=st.fixed_dictionaries({}, optional={
        "petId": VALUES, "tags": VALUES, "limit": VALUES, "filter": VALUES, "q": VALUES, "trace": VALUES,
        "ctype": VALUES, "session": st.text(max_size=8), "theme": SCALARS, "name": VALUES, "age": VALUES,
    }),
    auth=st.one_of(st.none(), st.builds(
        UpstreamAuth,
        headers=st.dictionaries(NAMES, st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                                               max_size=8), max_size=2),
        query=st.dictionaries(st.text(max_size=5), st.text(max_size=8), max_size=2),
        cookies=st.dictionaries(st.sampled_from(["session", "k"]), st.text(max_size=5), max_size=2))),
)
def test_generated_calls_build_as_httpx_did(base, path, method, content_type, arguments, auth):
    tool = FakeTool(method=method, path=path, body_content_type=content_type, arg_map={**EVERYTHING, **BODY})
    assert_builds_like_reference(tool, FakeEnv(base_url=base), arguments, auth=auth)


TEXT = st.text(max_size=10)
PATH_TEXT = st.one_of(  # paths the cheap path takes, and paths httpx escapes or normalises
    st.text(alphabet=st.sampled_from(list("/.%2Fab~|;=")), max_size=12),
    st.text(alphabet=st.sampled_from(list("/.%2Fab~|{}?# é\x7f\"")), max_size=12),
).map(lambda p: "/" + p)


@settings(max_examples=400, deadline=None)
@given(
    base=st.one_of(st.sampled_from(BASES[:6]), st.sampled_from(BASES)), path=PATH_TEXT,
    method=st.sampled_from(["get", "POST", "patch", "DELETE"]),
    params=st.lists(st.tuples(st.sampled_from(["a", "b", "é", "a b", ""]), TEXT), max_size=5),
    headers=st.dictionaries(st.sampled_from(["X-A", "x-a", "Host", "content-length", "Content-Type",
                                             "Transfer-Encoding", "X-É"]), TEXT, max_size=3),
    body=st.one_of(st.none(), st.binary(max_size=8).map(lambda b: ("content", b)),
                   st.dictionaries(TEXT, TEXT, max_size=3).map(lambda d: ("data", d))),
)
def test_encode_matches_httpx_on_generated_inputs(base, path, method, params, headers, body):
    """``encode`` against ``httpx.Request`` directly, wider than tools produce (any header, any
    bytes, any path characters): the cheap path either agrees or hands over to httpx."""
    kwargs = {} if body is None else {body[0]: body[1]}
    new, new_error = _attempt(encode, method, base, path, params=params, headers=headers, **kwargs)

    def reference():
        request = httpx.Request(method, base + path, params=params, headers=headers, **kwargs)
        request.read()
        return request

    ref, ref_error = _attempt(reference)
    if ref_error is not None or new_error is not None:
        assert (type(new_error), str(new_error)) == (type(ref_error), str(ref_error))
        return
    assert_same(new, ref)
    assert via_httpx(method, base, path, params=params, headers=headers, **kwargs) == new


# --------------------------------------------------------------------------- on the wire


async def answer_by_target(reader, writer, server: Server) -> None:
    """``/hop/<n>`` redirects to ``/hop/<n+1>`` (relative), ``/away`` to another port,
    ``/again`` to itself, ``/unreadable/<n>`` to a Location that is not a URL, anything else
    answers 200 with the request target."""
    while (request := await server.read_request(reader)) is not None:
        target = request.split(b" ", 2)[1]
        if target.startswith(b"/hop/") and int(target.split(b"/")[2].split(b"?")[0]) < 2:
            nxt = int(target.split(b"/")[2].split(b"?")[0]) + 1
            head = b"HTTP/1.1 302 Found\r\nLocation: " + (b"%d?x=1" % nxt) + b"\r\nContent-Length: 0\r\n\r\n"
        elif target.startswith(b"/away"):
            head = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n"
        elif target.startswith(b"/again"):
            head = b"HTTP/1.1 301 Moved\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
        elif target.startswith(b"/unreadable/"):  # Locations httpx cannot join: InvalidURL, then an IDNA error
            location = {b"0": b"//[::1", b"1": b"http://xn--a.example/x?key=secret"}[target.split(b"/")[2]]
            head = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        else:
            body = json.dumps({"target": target.decode()}).encode()
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                    + body)
        writer.write(head)
        await writer.drain()


def _wire(request: httpx.Request) -> bytes:
    return transport._request_head(request.method, request.url.raw_path, request.headers.raw) + request.content


WIRE_CASES = [
    (FakeTool(arg_map=EVERYTHING), {"petId": "a b", "tags": ["x", "y"], "trace": "t", "session": "s"}),
    (FakeTool(method="POST", path="/things", arg_map=BODY, body_content_type="application/json"), {"name": "é"}),
    (FakeTool(method="PUT", path="/things", arg_map=BODY, body_content_type="application/x-www-form-urlencoded"),
     {"name": "a b", "age": 1}),
    (FakeTool(method="PATCH", path="/things", arg_map=WHOLE, body_content_type="text/plain"), {"body": ""}),
    (FakeTool(method="DELETE", path="/things/{petId}", arg_map=EVERYTHING), {"petId": 3, "q": "é"}),
]


def test_the_bytes_on_the_wire_are_those_httpx_built():
    auth = UpstreamAuth(headers={"api_key": "k-1"}, query={"key": "q"})

    async def main():
        server, pool = Server(answer_by_target), transport.UpstreamPool()
        async with server.running():
            env = FakeEnv(base_url=f"http://127.0.0.1:{server.port}/base", allow_private_network=True)
            expected = []
            for tool, arguments in WIRE_CASES:
                outcome = await upstream.send_async(build_request(tool, env, arguments, auth=auth), tool=tool,
                                                    environment=env, client=pool)
                assert outcome.ok, outcome
                expected.append(_wire(reference_build_request(tool, env, arguments, auth=auth)))
            await pool.aclose()
        assert server.requests == expected

    run_async(main())


def test_redirects_same_origin_reads_only_and_at_most_the_hop_limit():
    assert conf.get_int("MCP_UPSTREAM_MAX_REDIRECTS") == 3

    async def main():
        server, pool = Server(answer_by_target), transport.UpstreamPool()
        async with server.running():
            env = FakeEnv(base_url=f"http://127.0.0.1:{server.port}", allow_private_network=True)

            async def call(method, path, **arguments):
                tool = FakeTool(method=method, path=path, arg_map=EVERYTHING)
                server.requests.clear()
                outcome = await upstream.send_async(build_request(tool, env, arguments), tool=tool, environment=env,
                                                    client=pool)
                return outcome, list(server.requests), reference_build_request(tool, env, arguments)

            followed, sent, ref = await call("GET", "/hop/0", q="é")
            assert followed.ok and followed.structured == {"target": "/hop/2?x=1"}
            # Each hop: the same header pairs (Host included), no body, as httpx.Request(method, url, headers=...).
            hop1 = httpx.Request("GET", ref.url.join("1?x=1"), headers=ref.headers)
            hop2 = httpx.Request("GET", hop1.url.join("2?x=1"), headers=hop1.headers)
            assert sent == [_wire(ref), _wire(hop1), _wire(hop2)]

            head, sent, _ = await call("HEAD", "/hop/0")
            assert head.ok and len(sent) == 3

            posted, sent, _ = await call("POST", "/hop/0")
            assert posted.error == "redirect_refused" and len(sent) == 1

            away, sent, _ = await call("GET", "/away")
            assert away.error == "redirect_refused" and len(sent) == 1
            assert "redirected to http://127.0.0.1/x" in away.text

            loop, sent, _ = await call("GET", "/again")
            assert loop.error == "redirect_refused" and len(sent) == 4  # the first request, then 3 hops
            await pool.aclose()

    run_async(main())


def test_a_redirect_to_a_location_that_is_not_a_url_is_refused_with_a_message():
    """httpx's ``URL.join`` raises (InvalidURL, or idna's UnicodeError) on such a Location: the
    call ends as a ``redirect_refused`` outcome that does not repeat the Location."""

    async def main():
        server, pool = Server(answer_by_target), transport.UpstreamPool()
        async with server.running():
            env = FakeEnv(base_url=f"http://127.0.0.1:{server.port}", allow_private_network=True)
            tool = FakeTool(path="/unreadable/{petId}", arg_map=EVERYTHING)
            outcomes = [await upstream.send_async(build_request(tool, env, {"petId": n}), tool=tool, environment=env,
                                                  client=pool) for n in (0, 1)]
            await pool.aclose()
        assert len(server.requests) == 2  # nothing followed
        for outcome in outcomes:
            assert not outcome.ok and outcome.error == "redirect_refused" and outcome.status is None
            assert outcome.text == ("The upstream API answered HTTP 302 Found with a Location header that is not a "
                                    "valid URL; the gateway did not follow it.")

    run_async(main())


def test_a_redirected_read_sends_no_body_and_no_header_about_one(settings):
    """A GET (or HEAD) that carried a body hops without it: the hop must not announce one
    (Content-Length would make the upstream wait for bytes that never come, until the deadline)."""
    settings.MCP_UPSTREAM_TIMEOUT_SECONDS = 3

    async def main():
        server, pool = Server(answer_by_target), transport.UpstreamPool()
        async with server.running():
            env = FakeEnv(base_url=f"http://127.0.0.1:{server.port}", allow_private_network=True)
            results = {}
            for method in ("GET", "HEAD"):
                tool = FakeTool(method=method, path="/hop/0", body_content_type="application/json",
                            arg_map={**BODY, **_args(enc=("header", "Content-Encoding"))})
                server.requests.clear()
                request = build_request(tool, env, {"name": "rex", "enc": "identity"})
                assert request.content == b'{"name":"rex"}'
                outcome = await upstream.send_async(request, tool=tool, environment=env, client=pool)
                results[method] = (outcome, list(server.requests), request)
            await pool.aclose()
        for method, (outcome, sent, request) in results.items():
            assert outcome.ok and outcome.error == "", (method, outcome)
            assert len(sent) == 3
            assert sent[0] == _wire_of(request)  # the first request as built, body included
            for hop, path in zip(sent[1:], (b"/hop/1?x=1", b"/hop/2?x=1"), strict=True):
                kept = [(k, v) for k, v in request.raw_headers
                        if k.lower() not in (b"content-length", b"content-type", b"content-encoding")]
                assert hop == transport._request_head(method, path, kept)
        assert results["GET"][0].structured == {"target": "/hop/2?x=1"}

    run_async(main())


def test_redirected_drops_framing_always_and_content_headers_with_a_body():
    url = httpx.URL("https://api.example.com/next")
    headers = ((b"Host", b"api.example.com"), (b"Content-Type", b"application/json"), (b"X-A", b"1"),
               (b"content-length", b"2"), (b"Transfer-Encoding", b"chunked"), (b"Content-Encoding", b"gzip"))
    with_body = UpstreamRequest("GET", "https", "api.example.com", 443, b"api.example.com", b"/", headers, b"{}")
    hop = with_body.redirected(url)
    assert hop.raw_headers == ((b"Host", b"api.example.com"), (b"X-A", b"1")) and hop.content == b""
    assert (hop.target, hop.method) == (b"/next", "GET")
    # No body: Content-Type (here from a header argument) is what the request said, and stays.
    bodyless = UpstreamRequest("GET", "https", "api.example.com", 443, b"api.example.com", b"/", headers, b"")
    assert bodyless.redirected(url).raw_headers == ((b"Host", b"api.example.com"),
                                                    (b"Content-Type", b"application/json"), (b"X-A", b"1"),
                                                    (b"Content-Encoding", b"gzip"))


def _wire_of(request: UpstreamRequest) -> bytes:
    return transport._request_head(request.method, request.target, request.raw_headers) + request.content
