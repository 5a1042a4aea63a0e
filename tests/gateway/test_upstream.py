"""apps.gateway.upstream: request building (pure), destination rules, outcomes; and
execute_call, the synchronous entry the approvals worker uses, against a real local server."""

from __future__ import annotations

import json

import pytest

from apps.core.egress import address_refusal
from apps.credentials.schemes import UpstreamAuth
from apps.gateway import upstream
from apps.gateway.upstream import UpstreamError, build_request, response_outcome
from tests.gateway.conftest import run_async
from tests.gateway.doubles import FakeEnv, FakeTool

PET = FakeTool(arg_map={
    "petId": {"in": "path", "name": "petId"},
    "tags": {"in": "query", "name": "tags"},
    "limit": {"in": "query", "name": "limit"},
    "X-Trace": {"in": "header", "name": "X-Trace"},
    "Authorization": {"in": "header", "name": "Authorization"},
    "session": {"in": "cookie", "name": "session"},
})


def test_path_query_header_cookie_placement():
    request = build_request(PET, FakeEnv(), {"petId": 42, "tags": ["a", "b"], "limit": True, "X-Trace": "t1",
                                             "session": "s1"})
    assert str(request.url) == "https://api.example.com/v1/pets/42?tags=a&tags=b&limit=true"
    assert request.method == "GET"
    assert request.headers["X-Trace"] == "t1"
    assert request.headers["Cookie"] == "session=s1"
    assert request.headers["User-Agent"].startswith("MCPForge-Gateway")


def test_path_values_cannot_escape_their_segment():
    request = build_request(PET, FakeEnv(), {"petId": "../../admin?x=1#f"})
    assert request.url.raw_path == b"/v1/pets/..%2F..%2Fadmin%3Fx%3D1%23f"
    for bad in (".", "..", ""):
        with pytest.raises(UpstreamError) as exc:
            build_request(PET, FakeEnv(), {"petId": bad})
        assert exc.value.code == "bad_arguments"


def test_arguments_cannot_set_credentials_or_framing_headers():
    request = build_request(PET, FakeEnv(), {"petId": 1, "Authorization": "Bearer stolen"})
    assert "Authorization" not in request.headers
    with pytest.raises(UpstreamError):
        build_request(PET, FakeEnv(), {"petId": 1, "X-Trace": "a\r\nHost: evil"})


def test_credentials_are_added_last_and_win():
    auth = UpstreamAuth(headers={"Authorization": "Bearer upstream-secret", "X-Trace": "from-credential"},
                        query={"api_key": "k1", "limit": "5"}, cookies={"session": "cred"})
    request = build_request(PET, FakeEnv(), {"petId": 1, "limit": 10, "X-Trace": "arg", "session": "arg"}, auth=auth)
    assert request.headers["Authorization"] == "Bearer upstream-secret"
    assert request.headers["X-Trace"] == "from-credential"
    assert request.url.params.get_list("limit") == ["5"] and request.url.params["api_key"] == "k1"
    assert request.headers["Cookie"] == "session=cred"


def test_bodies_by_content_type():
    spread = FakeTool(method="POST", path="/pets", body_content_type="application/json",
                      arg_map={"name": {"in": "body", "name": "name"}, "age": {"in": "body", "name": "age"}})
    request = build_request(spread, FakeEnv(), {"name": "rex", "age": 3})
    assert json.loads(request.content) == {"name": "rex", "age": 3}
    assert request.headers["Content-Type"] == "application/json"

    whole = FakeTool(method="POST", path="/pets", body_content_type="application/json",
                     arg_map={"body": {"in": "body", "name": ""}})
    assert json.loads(build_request(whole, FakeEnv(), {"body": [1, 2]}).content) == [1, 2]

    form = FakeTool(method="POST", path="/login", body_content_type="application/x-www-form-urlencoded",
                    arg_map={"user": {"in": "body", "name": "user"}, "remember": {"in": "body", "name": "remember"}})
    request = build_request(form, FakeEnv(), {"user": "a b", "remember": False})
    assert request.content == b"user=a+b&remember=false"

    multipart = FakeTool(method="POST", path="/upload", body_content_type="multipart/form-data",
                         arg_map={"note": {"in": "body", "name": "note"}})
    request = build_request(multipart, FakeEnv(), {"note": "hello"})
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="note"' in request.content and b"hello" in request.content


def test_base_url_must_be_usable():
    for base in ("", "ftp://x", "https://user:pw@api.example.com"):
        with pytest.raises(UpstreamError) as exc:
            build_request(PET, FakeEnv(base_url=base), {"petId": 1})
        assert exc.value.code == "not_configured"
    with pytest.raises(UpstreamError) as exc:
        build_request(PET, FakeEnv(), {"nope": 1})
    assert exc.value.code == "bad_arguments"


@pytest.mark.parametrize("address,private_ok,refused", [
    ("93.184.216.34", False, False),
    ("2606:4700::1111", False, False),
    ("127.0.0.1", False, True),
    ("127.0.0.1", True, False),
    ("10.1.2.3", True, False),
    ("192.168.1.1", False, True),
    ("::ffff:10.0.0.1", False, True),
    ("169.254.169.254", True, True),  # cloud metadata: never, whatever the switch
    ("fe80::1", True, True),
    ("0.0.0.0", True, True),  # noqa: S104 - an address under test, not a bind
    ("224.0.0.1", True, True),
])
def test_destination_rules(address, private_ok, refused):
    assert (address_refusal(address, allow_private=private_ok) is not None) is refused


def test_response_outcomes():
    tool = FakeTool(output_schema={"type": "object"})
    ok = response_outcome(tool, 200, "OK", "application/json", b'{"a": 1}', 5)
    assert ok.ok and ok.structured == {"a": 1} and json.loads(ok.text) == {"a": 1}
    listed = response_outcome(tool, 200, "OK", "application/json; charset=utf-8", b"[1, 2]", 5)
    assert listed.structured == {"result": [1, 2]}  # MCP structured content is always an object
    wrapped = FakeTool(output_schema={"$comment": "mcpforge: structured result is wrapped as {result: ...}",
                                      "type": "object"})
    assert response_outcome(wrapped, 200, "OK", "application/json", b'{"a": 1}', 1).structured == {"result": {"a": 1}}
    empty = response_outcome(tool, 204, "No Content", "", b"", 1)
    assert empty.ok and empty.structured is None and "no content" in empty.text
    error = response_outcome(tool, 503, "Service Unavailable", "text/plain", b"x" * 5000, 1)
    assert not error.ok and error.error == "upstream_status" and error.status == 503
    assert error.text.startswith("The upstream API answered HTTP 503 Service Unavailable: xxx")
    assert len(error.text) < 2200
    assert upstream.CallOutcome(True, 200, None, "t", 1).as_dict()["error"] == ""


def test_execute_call_sync_against_a_real_server(misbehaving_upstream, db):
    """The approvals worker's entry: credentials (none needed here) + one real HTTP exchange."""
    tool = FakeTool(path="/echo/{thing}", arg_map={"thing": {"in": "path", "name": "thing"},
                                                   "q": {"in": "query", "name": "q"}})
    env = FakeEnv(base_url=misbehaving_upstream, allow_private_network=True)
    outcome = upstream.execute_call(tool=tool, environment=env, arguments={"thing": "x", "q": "1"})
    assert outcome.ok and outcome.status == 200 and outcome.structured["query"] == {"q": "1"}
    refused = upstream.execute_call(tool=tool, environment=FakeEnv(base_url=misbehaving_upstream),
                                    arguments={"thing": "x"})
    assert not refused.ok and refused.error == "destination_refused"


def test_execute_call_also_works_where_an_event_loop_runs(misbehaving_upstream, db):
    """Celery's eager mode may run the approved call in a thread that runs a loop (tests, ASGI)."""
    tool = FakeTool(path="/echo/{thing}", arg_map={"thing": {"in": "path", "name": "thing"}})
    env = FakeEnv(base_url=misbehaving_upstream, allow_private_network=True)

    async def inside_loop():
        return upstream.execute_call(tool=tool, environment=env, arguments={"thing": "loop"})

    outcome = run_async(inside_loop())
    assert outcome.ok and outcome.structured["path"] == "/echo/loop"


# --------------------------------------------------------------------------- input that cannot be sent

ANY = FakeTool(arg_map={
    "petId": {"in": "path", "name": "petId"},
    "q": {"in": "query", "name": "q"},
    "filter": {"in": "query", "name": "filter"},
    "X-Trace": {"in": "header", "name": "X-Trace"},
    "session": {"in": "cookie", "name": "session"},
})


@pytest.mark.parametrize("tool,arguments,named,why", [
    (ANY, {"petId": 1, "X-Trace": "café"}, "The header X-Trace", "'é' (U+00E9): HTTP header values can only be ASCII"),
    (ANY, {"petId": 1, "X-Trace": {"k": "ü"}}, "The header X-Trace", "'ü' (U+00FC)"),
    (ANY, {"petId": 1, "X-Trace": "a\udc80"}, "The header X-Trace", "U+DC80, a lone surrogate"),
    (ANY, {"petId": "a\ud800b"}, "The path parameter petId", "U+D800, a lone surrogate"),
    (ANY, {"petId": ["ok", "\udfff"]}, "The path parameter petId", "U+DFFF, a lone surrogate"),
    (ANY, {"petId": 1, "q": "\udcff"}, "The query parameter q", "U+DCFF, a lone surrogate"),
    (ANY, {"petId": 1, "filter": {"k\ud801": "v"}}, "The query parameter filter", "U+D801, a lone surrogate"),
    (ANY, {"petId": 1, "session": "café"}, "The cookie session", "HTTP cookie values can only be ASCII"),
    (ANY, {"petId": 1, "session": "\ud800"}, "The cookie session", "U+D800, a lone surrogate"),
    (FakeTool(method="POST", path="/pets", body_content_type="application/json",
              arg_map={"name": {"in": "body", "name": "name"}}), {"name": {"x": ["\ud800"]}},
     "The body property name", "U+D800, a lone surrogate"),
    (FakeTool(method="POST", path="/pets", body_content_type="text/plain",
              arg_map={"body": {"in": "body", "name": ""}}), {"body": "text \udc00"},
     "The request body", "U+DC00, a lone surrogate"),
    (FakeTool(method="POST", path="/pets", body_content_type="application/x-www-form-urlencoded",
              arg_map={"body": {"in": "body", "name": ""}}), {"body": {"name": "\ud800"}},
     "The request body", "U+D800"),
    (FakeTool(method="POST", path="/pets", body_content_type="multipart/form-data",
              arg_map={"note": {"in": "body", "name": "note"}}), {"note": "\ud800"},
     "The body property note", "U+D800"),
])
def test_text_a_request_cannot_carry_is_refused_naming_the_argument(tool, arguments, named, why):
    """Before, UnicodeEncodeError escaped build_request (a crash instead of an error result)."""
    with pytest.raises(UpstreamError) as exc:
        build_request(tool, FakeEnv(), arguments)
    assert exc.value.code == "bad_arguments"
    assert exc.value.message.startswith(named + " contains ") and why in exc.value.message
    assert exc.value.message.endswith("; the call was not made.")
    outcome = exc.value.outcome()
    assert not outcome.ok and outcome.error == "bad_arguments" and outcome.text == exc.value.message


def test_non_ascii_path_query_and_body_text_is_still_sent_as_utf8():
    request = build_request(ANY, FakeEnv(), {"petId": "café", "q": "ü", "filter": {"é": "ß"}})
    assert request.target == b"/v1/pets/caf%C3%A9?q=%C3%BC&%C3%A9=%C3%9F"
    body = FakeTool(method="POST", path="/pets", body_content_type="application/json",
                    arg_map={"name": {"in": "body", "name": "name"}})
    assert build_request(body, FakeEnv(), {"name": "café"}).content == '{"name":"café"}'.encode()


def test_an_argument_header_the_credentials_replace_is_not_refused():
    request = build_request(ANY, FakeEnv(), {"petId": 1, "X-Trace": "café"},
                            auth=UpstreamAuth(headers={"x-trace": "cred"}))
    assert request.headers["X-Trace"] == "cred"
    with pytest.raises(UpstreamError) as exc:  # the credential's own text is what cannot be sent: not the argument
        build_request(ANY, FakeEnv(), {"petId": 1, "X-Trace": "café", "session": "ü"},
                      auth=UpstreamAuth(headers={"X-Trace": "clé"}, cookies={"session": "s"}))
    assert exc.value.code == "credentials" and "header 'X-Trace'" in exc.value.message


@pytest.mark.parametrize("auth,where", [
    (UpstreamAuth(headers={"X-Api-Key": "clé-secrète"}), "header 'X-Api-Key'"),
    (UpstreamAuth(cookies={"sid": "clé-secrète"}), "cookie 'sid'"),
    (UpstreamAuth(query={"key": "clé-secrète\ud800"}), "query parameter 'key'"),
])
def test_credentials_a_request_cannot_carry_are_a_credentials_error_without_the_secret(auth, where):
    with pytest.raises(UpstreamError) as exc:
        build_request(ANY, FakeEnv(), {"petId": 1}, auth=auth)
    assert exc.value.code == "credentials"
    assert exc.value.message == (f"The upstream credential sent as {where} in production contains text an HTTP "
                                 "request cannot carry; an admin must set it again.")
    assert "secr" not in exc.value.message


def test_a_url_over_the_length_limit_is_bad_arguments():
    for arguments in ({"petId": "x" * 70000}, {"petId": 1, "q": "x" * 70000}):
        with pytest.raises(UpstreamError) as exc:
            build_request(ANY, FakeEnv(), arguments)
        assert exc.value.code == "bad_arguments" and "longer than 65536 characters" in exc.value.message


@pytest.mark.parametrize("tool", [
    FakeTool(path="/pets/{petId}", arg_map={**ANY.arg_map, "h": {"in": "header", "name": "X-Näme"}}),
    FakeTool(path="/p\ud800/{petId}", arg_map=ANY.arg_map),
    FakeTool(path="/p\x00/{petId}", arg_map=ANY.arg_map),
])
def test_a_tool_whose_definition_cannot_be_sent_is_not_configured(tool):
    with pytest.raises(UpstreamError) as exc:
        build_request(tool, FakeEnv(), {"petId": 1, "h": "v"} if "h" in tool.arg_map else {"petId": 1})
    assert exc.value.code == "not_configured" and exc.value.message.startswith("The tool t cannot be called")


@pytest.mark.parametrize("base", [
    "https://api.example.com/v1?api_key=1", "https://api.example.com/v1?", "https://api.example.com/v1#top",
    "https://api.example.com#/v2",
])
def test_a_base_url_with_a_query_or_fragment_is_refused(base):
    """Before, a query was dropped and a fragment swallowed the tool path (calls went to /v1)."""
    with pytest.raises(UpstreamError) as exc:
        build_request(PET, FakeEnv(base_url=base), {"petId": 1})
    assert exc.value.code == "not_configured"
    assert exc.value.message.startswith("The upstream base URL of production must not contain a query (?...) or a "
                                        "fragment (#...)")


@pytest.mark.parametrize("base,problem", [
    ("https://api.example.com/v1", None),
    ("http://127.0.0.1:4010/", None),
    ("https://bücher.example/api", None),
    ("https://api.example.com/v1?key=1", "must not contain a query (?...) or a fragment (#...)"),
    ("https://api.example.com/#x", "must not contain a query (?...) or a fragment (#...)"),
    ("https://u:p@api.example.com", "must not contain credentials"),
    ("ftp://api.example.com", "is not an http(s) URL"),
    ("https://api.example.com:99999", "is not a valid URL"),
    ("http://[::1", "is not a valid URL"),
])
def test_base_url_problem(base, problem):
    found = upstream.base_url_problem(base, "The base URL")
    assert (found is None) if problem is None else found.startswith(f"The base URL {problem}")
    if problem is not None:  # and build_request says the same, as not_configured, never a raw exception
        with pytest.raises(UpstreamError) as exc:
            build_request(PET, FakeEnv(base_url=base), {"petId": 1})
        assert exc.value.code == "not_configured"


@pytest.mark.parametrize("template,target", [
    ("/search?type=a&{petId}", b"/v1/search%3Ftype=a&7?limit=1"),
    ("/a#frag/{petId}", b"/v1/a%23frag/7?limit=1"),
    ("/pets/{petId}?", b"/v1/pets/7%3F?limit=1"),
    ("/pets/{petId}", b"/v1/pets/7?limit=1"),  # unchanged without them
])
def test_question_mark_and_hash_in_a_path_template_stay_in_the_path(template, target):
    """The template is a path: "?" and "#" are sent percent-encoded rather than starting a query
    (dropped before) or a fragment (which swallowed the rest of the path)."""
    tool = FakeTool(path=template, arg_map=PET.arg_map)
    assert build_request(tool, FakeEnv(), {"petId": 7, "limit": 1}).target == target


@pytest.mark.parametrize(("where", "name"), [("header", "X Trace"), ("header", "X-Trace("), ("header", "X-Tracé"),
                                             ("cookie", "session id"), ("cookie", "a=b"), ("cookie", 'k"')])
def test_a_header_or_cookie_parameter_http_cannot_name_is_the_tools_fault_not_the_agents(where, name):
    tool = FakeTool(arg_map={"petId": {"in": "path", "name": "petId"}, "p": {"in": where, "name": name}})
    with pytest.raises(UpstreamError) as refused:
        build_request(tool, FakeEnv(), {"petId": 1, "p": "v"})
    assert refused.value.code == "not_configured"
    assert refused.value.message.startswith(f"The tool t cannot be called with its {where} parameter ")
    assert f"that is not a valid HTTP {where} name" in refused.value.message
    # the agent can still call the tool without that optional parameter
    assert str(build_request(tool, FakeEnv(), {"petId": 1}).url) == "https://api.example.com/v1/pets/1"


def test_a_cookie_value_http_cannot_carry_is_still_the_agents_fault():
    tool = FakeTool(arg_map={"petId": {"in": "path", "name": "petId"}, "s": {"in": "cookie", "name": "session"}})
    with pytest.raises(UpstreamError) as refused:
        build_request(tool, FakeEnv(), {"petId": 1, "s": "a;b"})
    assert refused.value.code == "bad_arguments" and "The cookie session" in refused.value.message
