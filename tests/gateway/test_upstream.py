"""apps.gateway.upstream: request building (pure), destination rules, outcomes; and
execute_call, the synchronous entry the approvals worker uses, against a real local server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from apps.credentials.schemes import UpstreamAuth
from apps.gateway import upstream
from apps.gateway.upstream import UpstreamError, address_refusal, build_request, response_outcome
from tests.gateway.conftest import run_async


@dataclass
class FakeTool:
    """The Tool fields build_request reads (a plain object: no database needed)."""

    name: str = "t"
    method: str = "GET"
    path: str = "/pets/{petId}"
    arg_map: dict = field(default_factory=dict)
    body_content_type: str = ""
    output_schema: dict | None = None
    security: list = field(default_factory=list)


@dataclass
class FakeEnv:
    name: str = "production"
    base_url: str = "https://api.example.com/v1/"
    allow_private_network: bool = False


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
