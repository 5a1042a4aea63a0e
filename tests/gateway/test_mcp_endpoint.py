"""The MCP endpoint end to end: the official SDK client -> uvicorn running mcpforge.asgi ->
governance, audit, credentials -> Stoplight Prism (or a deliberately broken local upstream).

Every case asserts what the agent sees (the MCP result or HTTP answer) and what the audit
log recorded."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from mcp.shared.exceptions import MCPError

from tests.gateway.conftest import (
    PETSTORE_API_KEY,
    UPSTREAM_HITS,
    audit_events,
    call,
    list_names,
    make_token,
    run_client,
)

pytestmark = pytest.mark.django_db(transaction=True)

READ_ONLY = ["findPetsByStatus", "findPetsByTags", "getPetById", "getInventory", "getOrderById", "getUserByName"]
SIDE_EFFECT = ["updatePet", "addPet", "updatePetWithForm", "uploadFile", "placeOrder"]


def post_raw(url: str, *, token: str | None = None, headers: dict | None = None) -> httpx.Response:
    """A bare MCP POST (tools/list), for checks below the SDK (HTTP status, headers)."""
    all_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-11-25", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, headers=all_headers, timeout=10,
                      json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})


def types_of(org) -> list[str]:
    return [e.event_type for e in audit_events(org)]


# --------------------------------------------------------------------------- tools/list


def test_three_users_see_three_different_lists(world):
    viewer = list_names(world.endpoint(), world.tokens["viewer"])
    member = list_names(world.endpoint(), world.tokens["member"])
    admin = list_names(world.endpoint(), world.tokens["admin"])

    assert viewer == ["mcpforge_approval_status"]  # no grant: only the built-in tool
    assert member == ["mcpforge_approval_status", *READ_ONLY]
    # admin: every tool enabled in development (read-only and side-effect by default), document order
    assert admin[0] == "mcpforge_approval_status"
    assert sorted(admin[1:]) == sorted(READ_ONLY + SIDE_EFFECT)
    assert "deletePet" not in admin  # critical: disabled by default even for an all-tools grant
    assert len({tuple(viewer), tuple(member), tuple(admin)}) == 3
    # listing is not a call (the import pinned the default-on tools: tool.definition_pinned)
    assert not [t for t in types_of(world.people.org) if t.startswith("tool.") and t != "tool.definition_pinned"]
    listed = {e.actor_label: e.payload for e in audit_events(world.people.org, "gateway.tools_listed")}
    assert listed["viewer@acme.test"]["names"] == viewer and listed["member@acme.test"]["listed"] == len(member)
    assert listed["admin@acme.test"]["environment"] == "development"


def test_list_carries_schemas_and_annotations_from_the_classification(world, settings):
    from apps.inventory.selectors import tool_by_name

    settings.MCP_COMPACT_TOOLS = 0  # the stored definitions as they are (compact: test_compact_listing.py)

    async def tools(client):
        return (await client.list_tools()).tools

    listed = {t.name: t for t in run_client(world.endpoint(), world.tokens["member"], tools)}
    stored = tool_by_name(world.project, "getPetById")
    tool = listed["getPetById"]
    assert tool.input_schema == stored.input_schema
    assert tool.output_schema == stored.output_schema
    assert tool.annotations.read_only_hint is True
    assert tool.annotations.title == stored.annotations["title"]
    builtin = listed["mcpforge_approval_status"]
    assert builtin.input_schema["required"] == ["request_id"]


def test_pagination_with_cursor(world, settings):
    settings.MCP_TOOLS_PAGE_SIZE = 3
    full = list_names(world.endpoint(), world.tokens["admin"])

    async def pages(client):
        sizes, cursor = [], None
        while True:
            page = await client.list_tools(cursor=cursor)
            sizes.append(len(page.tools))
            cursor = page.next_cursor
            if not cursor:
                return sizes

    sizes = run_client(world.endpoint(), world.tokens["admin"], pages)
    assert sum(sizes) == len(full) == 12 and max(sizes) == 3 and len(sizes) == 4

    async def bad_cursor(client):
        return await client.list_tools(cursor="not-a-cursor")

    with pytest.raises(MCPError) as exc:
        run_client(world.endpoint(), world.tokens["admin"], bad_cursor)
    assert "Invalid cursor" in exc.value.message


def test_legacy_handshake_clients_work_too(world):
    """2025-era clients (initialize handshake, e.g. desktop apps) against the stateless server."""
    names = list_names(world.endpoint(), world.tokens["member"], mode="legacy")
    assert names == ["mcpforge_approval_status", *READ_ONLY]
    result = call(world.endpoint(), world.tokens["member"], "getOrderById", {"orderId": 7}, mode="legacy")
    assert result.is_error is False and result.structured_content["status"] == "placed"


# --------------------------------------------------------------------------- tools/call


def test_read_only_call_returns_prism_response_and_is_audited_before_and_after(world):
    result = call(world.endpoint(), world.tokens["member"], "getPetById", {"petId": 10})

    assert result.is_error is False
    # Prism answers with the example of the spec: the pet "doggie"; Prism also checked the api_key
    # header the credential supplied (it answers 401 without it).
    assert result.structured_content["name"] == "doggie"
    assert '"doggie"' in result.content[0].text
    called, completed = audit_events(world.people.org, "tool.called", "tool.call_completed")
    assert called.seq < completed.seq
    assert called.payload["outcome"] == "started"
    assert called.payload["tool"] == "getPetById"
    assert called.payload["arguments"] == {"petId": 10}
    assert called.payload["token_name"] == "agent" and called.payload["environment"] == "development"
    assert called.actor_label == "member@acme.test"
    assert completed.payload["call_id"] == called.payload["call_id"]
    assert completed.payload["outcome"] == "ok" and completed.payload["upstream_status"] == 200
    assert completed.payload["latency_ms"] >= 0
    assert PETSTORE_API_KEY not in str([e.payload for e in audit_events(world.people.org)])


def test_upstream_gets_credentials_and_arguments_but_never_our_token(world, weird):
    token = world.tokens["member"]
    result = call(weird, token, "getEcho", {"thing": "a/../b", "q": "x y", "X-Trace": "t-1"})

    assert result.is_error is False
    seen = result.structured_content
    assert seen["path"] == "/echo/a%2F..%2Fb"  # a path argument cannot add path segments
    assert seen["query"] == {"q": "x y"}
    assert seen["headers"]["x-trace"] == "t-1"
    assert "authorization" not in seen["headers"]
    assert token not in str(seen)
    assert seen["headers"]["user-agent"].startswith("MCPForge-Gateway")


def test_invalid_arguments_are_refused_before_the_upstream(world):
    result = call(world.endpoint(), world.tokens["member"], "getPetById", {"petId": "ten", "extra": 1})

    assert result.is_error is True
    text = result.content[0].text
    assert "Invalid arguments for getPetById" in text and "petId" in text and "extra" in text
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "invalid_arguments"
    assert denied.payload["arguments"] == {"petId": "ten", "extra": 1}
    assert not audit_events(world.people.org, "tool.called")


def test_disabled_tool_is_refused(world):
    result = call(world.endpoint(), world.tokens["admin"], "deletePet", {"petId": 10})

    assert result.is_error is True
    assert "disabled" in result.content[0].text
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "disabled" and denied.payload["tool"] == "deletePet"
    assert not audit_events(world.people.org, "tool.called")


def test_tool_without_grant_is_refused(world):
    result = call(world.endpoint(), world.tokens["member"], "addPet", {"name": "rex", "photoUrls": []})

    assert result.is_error is True
    assert "no grant" in result.content[0].text
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "no_grant"


def test_tool_of_another_project_is_unknown_here(world, weird):
    hits_before = len(UPSTREAM_HITS)
    with pytest.raises(MCPError) as exc:
        call(world.endpoint(), world.tokens["member"], "getEcho", {"thing": "x"})

    assert exc.value.message.startswith("Unknown tool: getEcho")
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "unknown_tool" and denied.payload["project"] == "petstore"
    assert len(UPSTREAM_HITS) == hits_before


def test_wrong_environment(world):
    # staging: the member's read-only grant applies everywhere, but nothing is enabled there yet
    assert list_names(world.endpoint(world.staging), world.tokens["member"]) == ["mcpforge_approval_status"]
    result = call(world.endpoint(world.staging), world.tokens["member"], "getPetById", {"petId": 10})
    assert result.is_error is True and "disabled in staging" in result.content[0].text
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["environment"] == "staging" and denied.payload["reason"] == "disabled"

    # an environment that does not exist, and an organization the token does not belong to
    base = f"{world.url}/mcp/{world.people.org.slug}/{world.project.slug}"
    response = post_raw(f"{base}/nowhere/", token=world.tokens["member"])
    assert response.status_code == 404
    outsider_token = make_token(world.people.outsider, world.people.other_org)
    response = post_raw(world.endpoint(), token=outsider_token)
    assert response.status_code == 404
    assert "No MCP endpoint" in response.json()["error"]["message"]


def test_upstream_timeout(world, weird, settings):
    settings.MCP_UPSTREAM_TIMEOUT_SECONDS = 1
    result = call(weird, world.tokens["member"], "getSlow", {"seconds": 3})

    assert result.is_error is True
    assert "did not answer within 1 s" in result.content[0].text
    called, completed = audit_events(world.people.org, "tool.called", "tool.call_completed")
    assert called.payload["outcome"] == "started"
    assert completed.payload["outcome"] == "timeout" and completed.payload["upstream_status"] is None
    assert 900 <= completed.payload["latency_ms"] < 2900


def test_upstream_500_becomes_an_error_result(world, weird):
    result = call(weird, world.tokens["member"], "getBoom")

    assert result.is_error is True
    text = result.content[0].text
    assert "HTTP 500" in text and "database exploded" in text
    (completed,) = audit_events(world.people.org, "tool.call_completed")
    assert completed.payload["outcome"] == "upstream_status" and completed.payload["upstream_status"] == 500


def test_oversized_upstream_response_is_cut(world, weird):
    result = call(weird, world.tokens["member"], "getHuge")

    assert result.is_error is True
    assert "larger than 2048 KiB" in result.content[0].text
    (completed,) = audit_events(world.people.org, "tool.call_completed")
    assert completed.payload["outcome"] == "too_large"


def test_redirect_to_another_host_is_not_followed(world, weird):
    result = call(weird, world.tokens["member"], "getRedirect")

    assert result.is_error is True
    assert "redirected to http://example.com/steal" in result.content[0].text
    (completed,) = audit_events(world.people.org, "tool.call_completed")
    assert completed.payload["outcome"] == "redirect_refused"


def test_private_network_needs_the_environment_switch(world):
    from apps.credentials.services import environment_upstream_set

    environment_upstream_set(environment=world.environment, base_url=world.environment.base_url,
                             allow_private_network=False, actor=world.people.owner)
    result = call(world.endpoint(), world.tokens["member"], "getOrderById", {"orderId": 1})

    assert result.is_error is True
    assert "private or loopback address" in result.content[0].text
    (completed,) = audit_events(world.people.org, "tool.call_completed")
    assert completed.payload["outcome"] == "destination_refused"


def test_audit_failure_means_no_upstream_call(world, weird):
    """A database that refuses the tool.called row (a trigger here) stops the call."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION gw_test_refuse_audit() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER gw_test_refuse_audit BEFORE INSERT ON audit_auditevent
            FOR EACH ROW WHEN (NEW.event_type = 'tool.called') EXECUTE FUNCTION gw_test_refuse_audit();
        """)
    hits_before = len(UPSTREAM_HITS)
    try:
        with pytest.raises(MCPError) as exc:
            call(weird, world.tokens["member"], "getEcho", {"thing": "audited"})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER gw_test_refuse_audit ON audit_auditevent;"
                           "DROP FUNCTION gw_test_refuse_audit();")
    assert "could not record this call" in exc.value.message
    assert len(UPSTREAM_HITS) == hits_before
    assert not audit_events(world.people.org, "tool.called", "tool.call_completed")


# --------------------------------------------------------------------------- approvals



def _enable_and_guard(world, *, operation_keys: list[str], **policy):
    from apps.governance.services import policy_create, tool_set_enabled

    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=operation_keys,
                     enabled=True, actor=world.people.owner, reason="confirmed in test")
    return policy_create(project=world.project, actor=world.people.owner, name="Guard", kind="single",
                         operation_keys=operation_keys, **policy)


def test_critical_tool_is_held_for_approval_then_runs_once_approved(world, eager_celery):
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    _enable_and_guard(world, operation_keys=["DELETE /pet/{petId}"])
    token = world.tokens["admin"]
    result = call(world.endpoint(), token, "deletePet", {"petId": 10})

    assert result.is_error is False
    held = result.structured_content["mcpforge_approval"]
    assert held["status"] == "pending" and held["check_with"] == "mcpforge_approval_status"
    assert "NOT made yet" in result.content[0].text and held["request_id"] in result.content[0].text
    (requested,) = audit_events(world.people.org, "approval.requested")
    assert requested.payload["arguments"] == {"petId": 10}
    assert not audit_events(world.people.org, "tool.called")

    status = call(world.endpoint(), token, "mcpforge_approval_status", {"request_id": held["request_id"]})
    assert status.is_error is False and status.structured_content["status"] == "pending"

    request = ApprovalRequest.objects.get(public_id=held["request_id"])
    approval_decide(request=request, reviewer=world.people.reviewer, decision="approve", comment="ok")
    status = call(world.endpoint(), token, "mcpforge_approval_status", {"request_id": held["request_id"]})
    assert status.structured_content["status"] == "executed"
    assert status.structured_content["result"]["ok"] is True  # Prism answered the DELETE with 200
    assert status.structured_content["result"]["status"] == 200
    assert "approval.executed" in types_of(world.people.org)
    checks = audit_events(world.people.org, "approval.status_checked")
    assert [c.payload["status"] for c in checks] == ["pending", "executed"]
    assert {c.payload["request_id"] for c in checks} == {held["request_id"]} and checks[0].actor == world.people.admin


def test_held_tool_with_output_schema_validates_in_the_client_and_can_wait(world, eager_celery, settings):
    """addPet has an outputSchema: the pending answer still validates in the SDK client (the listed
    schema admits it), and with MCP_APPROVAL_WAIT_SECONDS the agent gets the executed result."""
    import threading
    import time

    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    _enable_and_guard(world, operation_keys=["POST /pet"])
    token = world.tokens["admin"]
    pending = call(world.endpoint(), token, "addPet", {"name": "rex", "photoUrls": ["p.png"]})
    assert pending.is_error is False and pending.structured_content["mcpforge_approval"]["status"] == "pending"

    settings.MCP_APPROVAL_WAIT_SECONDS = 15
    errors: list[Exception] = []

    def approve_soon() -> None:
        from django.db import connection

        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                request = ApprovalRequest.objects.filter(status="pending").exclude(
                    public_id=pending.structured_content["mcpforge_approval"]["request_id"]).first()
                if request is not None:
                    approval_decide(request=request, reviewer=world.people.reviewer, decision="approve",
                                    comment="fine")
                    return
                time.sleep(0.2)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    approver = threading.Thread(target=approve_soon)
    approver.start()
    result = call(world.endpoint(), token, "addPet", {"name": "rex", "photoUrls": ["p.png"]})
    approver.join()
    assert not errors
    assert result.is_error is False
    assert result.structured_content["name"] == "doggie"  # Prism's example Pet, from the executed call


def test_justification_required(world):
    from apps.approvals.models import ApprovalRequest

    _enable_and_guard(world, operation_keys=["DELETE /pet/{petId}"], justification_required=True)
    token = world.tokens["admin"]
    first = call(world.endpoint(), token, "deletePet", {"petId": 10})
    assert first.is_error is True and "justification" in first.content[0].text
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "justification_required"

    second = call(world.endpoint(), token, "deletePet", {"petId": 10, "justification": "Duplicate record #88"})
    assert second.is_error is False
    request = ApprovalRequest.objects.get(public_id=second.structured_content["mcpforge_approval"]["request_id"])
    assert request.justification == "Duplicate record #88"
    assert request.arguments == {"petId": 10}  # the justification is not an API argument


# --------------------------------------------------------------------------- limits


def test_rate_limit_per_tool(world, settings):
    settings.MCP_RATE_LIMIT_PER_TOOL = 2
    token = world.tokens["member"]

    async def three_calls(client):
        await client.list_tools()
        results = [await client.call_tool("getOrderById", {"orderId": 1}) for _ in range(2)]
        try:
            await client.call_tool("getOrderById", {"orderId": 1})
        except MCPError as exc:
            return results, exc
        return results, None

    results, error = run_client(world.endpoint(), token, three_calls)
    assert [r.is_error for r in results] == [False, False]
    assert error is not None and error.code == -32029
    assert "2 calls per minute for tool getOrderById" in error.message
    assert error.data["retryAfterSeconds"] >= 1
    denied = audit_events(world.people.org, "tool.call_denied")
    assert [d.payload["reason"] for d in denied] == ["rate_limited"]


def test_rate_limit_per_token(world, settings):
    settings.MCP_RATE_LIMIT_PER_TOKEN = 3
    token = make_token(world.people.member, world.people.org, name="small budget")

    async def four_requests(client):
        await client.list_tools()
        await client.call_tool("getOrderById", {"orderId": 1})
        await client.call_tool("getInventory", {})
        with pytest.raises(MCPError) as exc:
            await client.call_tool("getUserByName", {"username": "u"})
        return exc.value

    error = run_client(world.endpoint(), token, four_requests)
    assert "for this token" in error.message
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "rate_limited" and denied.payload["token_name"] == "small budget"


# --------------------------------------------------------------------------- HTTP layer


def test_no_token_is_401_with_www_authenticate(world):
    before = types_of(world.people.org)
    response = post_raw(world.endpoint())

    assert response.status_code == 401
    from django.conf import settings

    assert response.headers["WWW-Authenticate"] == (  # RFC 9728: where OAuth clients look next
        f'Bearer realm="mcpforge", resource_metadata="{settings.SITE_URL}/.well-known/oauth-protected-resource/mcp/'
        f'{world.people.org.slug}/{world.project.slug}/development/"')
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    response = post_raw(world.endpoint(), token="mcpf_not-a-real-token-at-all-0000000000")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert types_of(world.people.org) == before  # nothing to attribute an event to


def test_expired_token_is_refused_and_audited(world):
    from apps.accounts.models import ApiToken

    raw = make_token(world.people.member, world.people.org, name="old", expires_days=1)
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(minutes=1))
    response = post_raw(world.endpoint(), token=raw)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "expired" in response.json()["error"]["message"]
    (refused,) = audit_events(world.people.org, "gateway.request_refused")
    assert refused.payload["reason"] == "token_expired" and refused.payload["token_name"] == "old"


def test_revoked_token_is_refused_and_audited(world):
    from apps.accounts.models import ApiToken
    from apps.accounts.services import token_revoke

    raw = make_token(world.people.member, world.people.org, name="leaked")
    assert list_names(world.endpoint(), raw)[0] == "mcpforge_approval_status"
    token_revoke(token=ApiToken.objects.get(name="leaked"), actor=world.people.owner)
    response = post_raw(world.endpoint(), token=raw)

    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    (refused,) = audit_events(world.people.org, "gateway.request_refused")
    assert refused.payload["reason"] == "token_revoked" and refused.actor_label == "member@acme.test"


def test_origin_allow_list(world, settings):
    settings.MCP_ALLOWED_ORIGINS = ["https://agents.example.org"]
    token = world.tokens["member"]

    assert post_raw(world.endpoint(), token=token).status_code == 200  # non-browser client: no Origin
    assert post_raw(world.endpoint(), token=token, headers={"Origin": "https://agents.example.org"}).status_code == 200
    response = post_raw(world.endpoint(), token=token, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "may not call" in response.json()["error"]["message"]
    # the SDK client with a foreign Origin gets nowhere either
    with pytest.raises(Exception):  # noqa: B017 - the SDK reports the 403 as a transport error
        list_names(world.endpoint(), token, headers={"Origin": "http://127.0.0.1:9"})
    refusals = [t for t in types_of(world.people.org)
                if (t.startswith("tool.") and t != "tool.definition_pinned") or t == "gateway.request_refused"]
    assert not refusals  # an origin refusal is not attributable to the token: no event
    assert types_of(world.people.org).count("gateway.tools_listed") == 2  # the two allowed listings


def test_cors_preflight_and_headers_for_browser_clients(world, settings):
    """A browser MCP client (e.g. an inspector page) on an allowed origin: the preflight is
    answered without a token, the real answer is readable; other origins get a 403."""
    settings.MCP_ALLOWED_ORIGINS = ["https://agents.example.org"]
    preflight = {"Origin": "https://agents.example.org", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version"}
    response = httpx.options(world.endpoint(), headers=preflight, timeout=10)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://agents.example.org"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "mcp-protocol-version", "mcp-session-id"} <= allowed
    assert "access-control-allow-credentials" not in response.headers  # bearer tokens, never cookies

    foreign = httpx.options(world.endpoint(), headers={**preflight, "Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers

    answer = post_raw(world.endpoint(), token=world.tokens["member"], headers={"Origin": "https://agents.example.org"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://agents.example.org"
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    refused = post_raw(world.endpoint(), token=None, headers={"Origin": "https://agents.example.org"})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://agents.example.org"
    assert "www-authenticate" in refused.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in post_raw(world.endpoint(), token=world.tokens["member"]).headers


def test_unknown_paths_under_mcp(world):
    assert post_raw(f"{world.url}/mcp/{world.people.org.slug}/", token=world.tokens["member"]).status_code == 404
    assert httpx.get(f"{world.url}/accounts/login/", timeout=10).status_code == 200  # Django still serves /
