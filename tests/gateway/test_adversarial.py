"""Issue 16, tried as an attacker would: every reproduced bypass and stall replayed through the
real ASGI app (uvicorn + mcpforge.asgi) with the official ``mcp`` client, or a raw JSON-RPC POST
where the client cannot say it (NaN, duplicate keys), plus variations. Each call must be held
for approval or refused, never executed: the recording upstream receives nothing.

The policies: createPayout needs an approval when ``amount > 1000`` or ``note matches
"(?i)wire|offshore"``; createTransfer (a string-typed ``amount`` query parameter) when
``amount > 1000``. Otherwise no approval (tier "none")."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time

import httpx
import pytest

from tests.gateway.conftest import ThreadedUvicorn, audit_events, make_token, run_client

pytestmark = pytest.mark.django_db(transaction=True)

RECEIVED: list[dict] = []  # every request the upstream got, in order

PAY_SPEC = r"""
openapi: 3.0.3
info: {title: Payouts, version: "1.0"}
servers: [{url: "http://payouts.invalid"}]
paths:
  /payouts:
    post:
      operationId: createPayout
      parameters:
        - {name: filter, in: query, style: deepObject, explode: true, schema: {type: object}}
        - {name: opts, in: query, schema: {type: object}}
        - {name: X-Memo, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [amount]
              properties:
                amount: {type: number}
                note: {type: string}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /transfers:
    get:
      operationId: createTransfer
      parameters:
        - {name: amount, in: query, required: true, schema: {type: string}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /refunds:
    post:
      operationId: createRefund
      parameters:
        - {name: amount, in: query, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {amount: {type: number}}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /search:
    get:
      operationId: search
      parameters:
        - {name: q, in: query, schema: {type: string, pattern: "^(a+)+$"}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /lookup:
    get:
      operationId: lookup
      parameters:
        - {name: code, in: query, schema: {type: string, pattern: "^(a+)\\1$"}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /paint/{color}:
    get:
      operationId: paint
      parameters:
        - name: color
          in: path
          required: true
          style: matrix
          explode: true
          schema: {type: array, items: {type: string}}
        - {name: shade, in: query, style: pipeDelimited, explode: false, schema: {type: array, items: {type: string}}}
        - {name: box, in: query, style: spaceDelimited, explode: false, schema: {type: array, items: {type: string}}}
        - {name: rgb, in: query, schema: {type: object}}
        - {name: X-Tint, in: header, explode: true, schema: {type: object}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
"""


def _recorder():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def record(request):
        RECEIVED.append({"method": request.method, "path": request.scope["raw_path"].decode(),
                         "query": request.scope["query_string"].decode(), "headers": dict(request.headers),
                         "body": (await request.body()).decode()})
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/{rest:path}", record, methods=["GET", "POST", "PUT", "DELETE"])])


@pytest.fixture(scope="module")
def recording_upstream() -> str:
    with ThreadedUvicorn(_recorder()) as server:
        yield server.url


class Payouts:
    def __init__(self, endpoint: str, token: str, people):
        self.endpoint, self.token, self.people, self.org = endpoint, token, people, people.org

    def call(self, name: str, arguments: dict):
        async def go(client):
            return await client.call_tool(name, arguments)

        return run_client(self.endpoint, self.token, go)

    def raw(self, body: str) -> dict:
        """A tools/call as raw JSON-RPC text (what the SDK client cannot send: NaN, duplicate keys)."""
        response = httpx.post(self.endpoint, content=body.encode(), timeout=30, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def payouts(transactional_db, people, gateway_server, recording_upstream) -> Payouts:
    from apps.credentials.services import environment_upstream_set
    from apps.governance.services import grant_create, policy_create, tool_set_enabled
    from apps.inventory.models import Tool
    from tests.factories import import_spec, make_project

    owner = people.owner
    project = make_project(people.org, owner, name="Payouts")
    version = import_spec(project, "payouts.yaml", owner, data=PAY_SPEC.encode())
    assert version.status == "ready", version.status
    env = project.environments.get(slug="development")
    environment_upstream_set(environment=env, base_url=recording_upstream, allow_private_network=True, actor=owner)
    keys = list(Tool.objects.filter(project=project).values_list("operation_key", flat=True))
    tool_set_enabled(project=project, environment=env, operation_keys=keys, enabled=True, actor=owner,
                     reason="confirmed in test")
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    over = {"field": "amount", "operator": ">", "value": 1000}
    policy_create(project=project, actor=owner, name="Big or wire payouts", kind="none",
                  operation_keys=["POST /payouts"], conditional_tiers=[
                      {"when": [over], "approvals": 1},
                      {"when": [{"field": "note", "operator": "matches", "value": "(?i)wire|offshore"}],
                       "approvals": 1}])
    policy_create(project=project, actor=owner, name="Big transfers and refunds", kind="none",
                  operation_keys=["GET /transfers", "POST /refunds"],
                  conditional_tiers=[{"when": [over], "approvals": 1}])
    RECEIVED.clear()
    return Payouts(f"{gateway_server}/mcp/{people.org.slug}/{project.slug}/development/",
                   make_token(people.member, people.org), people)


def _held(result) -> bool:
    structured = result.structured_content or {}
    return not result.is_error and structured.get("mcpforge_approval", {}).get("status") == "pending"


def assert_held_or_refused(payouts: Payouts, name: str, arguments: dict) -> str:
    result = payouts.call(name, arguments)
    held = _held(result)
    assert held or result.is_error, (arguments, result)
    assert RECEIVED == [], (arguments, RECEIVED)
    return "held" if held else result.content[0].text


def _raw_call(name: str, arguments_json: str) -> str:
    return '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "' + name + '", "arguments": ' \
        + arguments_json + "}}"


# --------------------------------------------------------------------------- the controls


def test_small_calls_go_through_and_big_ones_are_held(payouts):
    ok = payouts.call("createPayout", {"amount": 10, "note": "rent"})
    assert not ok.is_error and ok.structured_content == {"ok": True}
    assert len(RECEIVED) == 1 and json.loads(RECEIVED[0]["body"]) == {"amount": 10, "note": "rent"}
    RECEIVED.clear()
    assert assert_held_or_refused(payouts, "createPayout", {"amount": 5000}) == "held"
    assert assert_held_or_refused(payouts, "createPayout", {"amount": 10, "note": "wire"}) == "held"


# --------------------------------------------------------------------------- 1. long arguments


@pytest.mark.parametrize("note", ["wire" + " " * 4100, " " * 100_000 + "OFFSHORE", "x" * 5000 + "Wire" + "y" * 5000])
def test_a_long_argument_does_not_switch_a_condition_off(payouts, note):
    assert assert_held_or_refused(payouts, "createPayout", {"amount": 10, "note": note}) == "held"


# --------------------------------------------------------------------------- 2. non-finite numbers


@pytest.mark.parametrize("amount", ["1e400", "NaN", "Infinity", "-Infinity", "-1e400", "1E+999"])
def test_non_finite_numbers_are_refused_before_policy_and_upstream(payouts, amount):
    answer = payouts.raw(_raw_call("createPayout", '{"amount": ' + amount + "}"))
    result = answer["result"]
    assert result["isError"] is True, answer
    assert "is not a finite number" in result["content"][0]["text"]
    assert RECEIVED == []
    (denied,) = audit_events(payouts.org, "tool.call_denied")
    assert denied.payload["reason"] == "invalid_arguments"


def test_non_finite_numbers_nested_anywhere_are_refused(payouts):
    for arguments in ('{"amount": 5, "opts": {"x": [1, NaN]}}', '{"amount": 5, "filter": {"a": {"b": Infinity}}}'):
        result = payouts.raw(_raw_call("createPayout", arguments))["result"]
        assert result["isError"] is True and "is not a finite number" in result["content"][0]["text"]
    assert RECEIVED == []


# --------------------------------------------------------------------------- duplicate JSON keys


def test_duplicate_keys_policy_and_upstream_see_the_same_value(payouts):
    """The SDK keeps the last of duplicate keys; the policy and the upstream request are both made
    from that one parsed value, so the upstream never gets a value the policy did not judge."""
    held = payouts.raw(_raw_call("createPayout", '{"amount": 10, "amount": 5000000}'))["result"]
    assert held["structuredContent"]["mcpforge_approval"]["status"] == "pending"
    assert RECEIVED == []
    sent = payouts.raw(_raw_call("createPayout", '{"amount": 5000000, "amount": 10}'))["result"]
    assert sent["isError"] is False
    (request,) = RECEIVED
    assert json.loads(request["body"]) == {"amount": 10}


# --------------------------------------------------------------------------- 3. numeric strings


@pytest.mark.parametrize("amount", ["0" * 101 + "5000", "５０００", "٥٠٠٠", "1_000_000", "5e3", "1E4", "+5000",
                                    " 5000", "5000\u2003", "\u00a05000", "5000.0000001", "0x1388", "१०००००"])
def test_numeric_strings_compare_as_numbers_or_hold(payouts, amount):
    assert assert_held_or_refused(payouts, "createTransfer", {"amount": amount}) == "held"


@pytest.mark.parametrize("amount", [True, [5000], {"v": 5000}, "5000000"])
def test_type_confusion_is_refused_or_held(payouts, amount):
    assert_held_or_refused(payouts, "createPayout", {"amount": amount})


# --------------------------------------------------------------------------- 4. smuggling


@pytest.mark.parametrize("arguments", [
    {"amount": 10, "opts": {"amount": 5000000}},              # form style explodes to ?amount=
    {"amount": 10, "opts": {"filter[x]": 1}},                 # a name the deepObject parameter owns
    {"amount": 10, "session": "s", "opts": {"note": "wire"}},  # a policy field (note) via another argument
])
def test_an_object_parameter_cannot_smuggle_a_policy_field(payouts, arguments):
    text = assert_held_or_refused(payouts, "createPayout", arguments)
    assert text != "held" and "a name that" in text


def test_deep_object_is_sent_under_its_own_name_and_judged_by_what_is_received(payouts):
    result = payouts.call("createPayout", {"amount": 10, "filter": {"amount": 5000000}})
    assert not result.is_error
    (request,) = RECEIVED
    assert request["query"] == "filter%5Bamount%5D=5000000"  # not ?amount=5000000
    assert json.loads(request["body"]) == {"amount": 10}


def test_every_style_reaches_the_upstream_as_openapi_says(payouts):
    result = payouts.call("paint", {"color": ["blue", "black"], "shade": ["a", "b"], "box": ["1", "2"],
                                    "rgb": {"R": 100, "G": 200}, "X-Tint": {"R": 1, "G": 2}})
    assert not result.is_error, result
    (request,) = RECEIVED
    assert request["path"] == "/paint/;color=blue;color=black"
    assert request["query"] == "shade=a%7Cb&box=1+2&R=100&G=200"
    assert request["headers"]["x-tint"] == "R=1,G=2"


def test_values_received_are_judged_not_only_the_arguments(payouts):
    """createRefund has a query parameter ``amount`` (the argument ``amount``) and a body property
    ``amount`` (the argument ``body_amount``): the policy ``amount > 1000`` reads the argument,
    but the upstream also receives the body's amount, which is judged too."""
    assert payouts.call("createRefund", {"amount": "5", "body_amount": 5}).is_error is False
    RECEIVED.clear()
    assert assert_held_or_refused(payouts, "createRefund", {"amount": "5", "body_amount": 5000000}) == "held"


# --------------------------------------------------------------------------- 5. ReDoS


def test_a_redos_argument_is_refused_in_linear_time(payouts):
    for q in ("a" * 30 + "!", "a" * 100_000 + "!"):
        text = assert_held_or_refused(payouts, "search", {"q": q})
        assert "does not match" in text


def test_a_pattern_re2_cannot_run_refuses_the_call(payouts):
    text = assert_held_or_refused(payouts, "lookup", {"code": "aa"})
    assert "linear-time regex engine" in text
    (denied,) = audit_events(payouts.org, "tool.call_denied")
    assert denied.payload["reason"] == "unsupported_pattern"


def test_the_import_reports_the_pattern(payouts):
    from apps.specs.models import SpecVersion

    version = SpecVersion.objects.filter(project__name="Payouts").latest("created_at")
    (finding,) = [f for f in version.findings if f["code"] == "quality.unsupported_pattern"]
    assert "lookup: code at inputSchema/properties/code/pattern" in finding["message"]


def test_redos_in_a_loop_does_not_stall_another_clients_tools_list(payouts, settings):
    # The attack must go on for the whole measurement: with the default per-tool limit (60 a
    # minute) the attacker was rate-limited within a second, its thread died, and the listings
    # were then timed on a quiet gateway.
    settings.MCP_RATE_LIMIT_PER_TOOL = settings.MCP_RATE_LIMIT_PER_TOKEN = 1_000_000
    stop = threading.Event()
    attacks = [0]
    failures: list[BaseException] = []

    def attacker():
        async def loop(client):
            while not stop.is_set():
                await client.call_tool("search", {"q": "a" * 30 + "!"})
                await client.call_tool("search", {"q": "a" * 50_000 + "!"})
                attacks[0] += 2

        try:
            run_client(payouts.endpoint, payouts.token, loop)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    try:
        async def measure(client):
            await client.list_tools()
            timings = []
            for _ in range(30):
                started = time.perf_counter()
                await client.list_tools()
                timings.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)
            return timings

        time.sleep(0.3)
        before = attacks[0]
        timings = run_client(payouts.endpoint, payouts.token, measure)
        during = attacks[0] - before
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == [] and not thread.is_alive()
    assert before > 0 and during > 0, (before, during)  # the attack ran while the listings were timed
    assert max(timings) < 1.0, (max(timings), statistics.median(timings))  # bench/redos.py has the real figure
    assert RECEIVED == []


# --------------------------------------------------------------------------- 6. header values


@pytest.mark.parametrize("value", ["a\x0b\x0cb", "a\r\nX-Admin: 1", "a\x00b", "a\x7f", "a\u2028b", "a\u0085b",
                                   " padded", "padded\t", "caf\xe9", "a\nb"])
def test_header_and_cookie_values_outside_rfc9110_are_refused(payouts, value):
    for argument in ("X-Memo", "session"):
        text = assert_held_or_refused(payouts, "createPayout", {"amount": 10, argument: value})
        assert "the call was not made" in text


def test_approved_call_executes_the_same_request(payouts, settings):
    """The approvals worker builds the request with the same serializer: a held call with an
    object query parameter runs, once approved, exactly as serialized at hold time."""
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide
    from mcpforge.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        held = payouts.call("createPayout", {"amount": 5000, "filter": {"k": "v"}, "X-Memo": "m"})
        assert _held(held)
        request = ApprovalRequest.objects.get(public_id=held.structured_content["mcpforge_approval"]["request_id"])
        approval_decide(request=request, reviewer=payouts.people.reviewer, decision="approve", comment="ok")
    finally:
        app.conf.task_always_eager = before
    (sent,) = RECEIVED
    assert sent["query"] == "filter%5Bk%5D=v" and sent["headers"]["x-memo"] == "m"
    assert json.loads(sent["body"]) == {"amount": 5000}

