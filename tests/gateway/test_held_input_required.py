"""Held calls on MCP 2026-07-28: raw JSON-RPC over HTTP against the live gateway (uvicorn
running mcpforge.asgi), a local upstream that counts its hits, the reviewer's page through
Django's test client, and the official SDK client's own input_required driver.

A held tools/call answers ``input_required`` with a URL-mode elicitation of the approval page
and a sealed ``requestState``; the retry gets the approved execution's result once; a
tampered, expired, foreign or replayed state is refused and audited. Clients of the
2025-11-25 era (and 2026 clients without URL elicitation) keep the pending result."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings as django_settings

from tests.gateway.conftest import UPSTREAM_HITS, audit_events, call, make_token, run_async

pytestmark = pytest.mark.django_db(transaction=True)

VERSION = "2026-07-28"
URL_ELICITATION = {"elicitation": {"url": {}}}
ECHO = "getEcho"


def rpc(endpoint: str, token: str, method: str, params: dict, *, capabilities: dict | None = None,
        version: str = VERSION) -> dict:
    """One bare 2026-07-28 request (per-request envelope in ``_meta`` and the mirrored headers)."""
    meta = {"io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": URL_ELICITATION if capabilities is None else capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": version, "Mcp-Method": method, "Authorization": f"Bearer {token}"}
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    response = httpx.post(endpoint, headers=headers, timeout=30,
                          json={"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": meta}})
    body = response.json()
    # the SDK answers a JSON-RPC error of the request's own making (-32602) with HTTP 400
    assert response.status_code == (400 if "error" in body else 200), response.text
    return body


def call_tool(endpoint: str, token: str, arguments: dict, *, name: str = ECHO, state: str | None = None,
              **kwargs) -> dict:
    params: dict = {"name": name, "arguments": arguments}
    if state is not None:
        params["requestState"] = state
        params["inputResponses"] = {"mcpforge_approval": {"action": "accept"}}
    return rpc(endpoint, token, "tools/call", params, **kwargs)


@pytest.fixture
def guarded(world, weird, eager_celery):
    """The Weird project's echo tool (local upstream) held by a single-approval policy."""
    from apps.governance.services import policy_create, tool_set_enabled
    from apps.projects.models import Project

    project = Project.objects.get(organization=world.people.org, name="Weird")
    tool_set_enabled(project=project, environment=project.environments.get(slug="development"),
                     operation_keys=["GET /echo/{thing}"], enabled=True, actor=world.people.owner, reason="test")
    policy_create(project=project, actor=world.people.owner, name="Hold echo", kind="single",
                  operation_keys=["GET /echo/{thing}"])
    UPSTREAM_HITS.clear()
    return weird



def held_call(world, endpoint: str, arguments: dict) -> tuple[str, str, str]:
    """Make the held call; returns (request id, approval page URL, requestState)."""
    answer = call_tool(endpoint, world.tokens["member"], arguments)
    result = answer["result"]
    assert result["resultType"] == "input_required", answer
    (key, request), = result["inputRequests"].items()
    assert key == "mcpforge_approval" and request["method"] == "elicitation/create"
    params = request["params"]
    assert params["mode"] == "url" and "needs human approval" in params["message"]
    assert "elicitationId" not in params  # removed at 2026-07-28
    request_id = params["url"].rstrip("/").rsplit("/", 1)[-1]
    assert params["url"] == f"{django_settings.SITE_URL}/o/{world.people.org.slug}/approvals/{request_id}/"
    assert result["requestState"].startswith("v1.") and request_id not in result["requestState"]
    return request_id, params["url"], result["requestState"]


def refusals(org) -> list[str]:
    return [e.payload["detail"] for e in audit_events(org, "tool.call_denied")
            if e.payload.get("reason") == "request_state_refused"]


def test_held_call_url_page_approve_retry_gets_the_executed_result_once(world, guarded, client_for):
    org = world.people.org
    request_id, url, state = held_call(world, guarded, {"thing": "a1", "q": "x"})
    assert UPSTREAM_HITS == []  # held: nothing was sent upstream
    (requested,) = audit_events(org, "approval.requested")
    assert requested.payload["arguments"] == {"thing": "a1", "q": "x"}

    # before the decision the retry answers input_required again, with a state still valid
    again = call_tool(guarded, world.tokens["member"], {"thing": "a1", "q": "x"}, state=state)["result"]
    assert again["resultType"] == "input_required" and again["requestState"] == state
    assert "Waiting for approval" in again["inputRequests"]["mcpforge_approval"]["params"]["message"]
    (check,) = audit_events(org, "approval.status_checked")
    assert check.payload["via"] == "requestState" and check.payload["status"] == "pending"

    # the URL opens the request page for a logged-in reviewer, who approves there
    reviewer = client_for(world.people.reviewer)
    page = reviewer.get(urlsplit(url).path)
    assert page.status_code == 200 and ECHO in page.content.decode()
    assert client_for(world.people.member).get(urlsplit(url).path).status_code == 200  # the requester too
    assert client_for(world.people.outsider).get(urlsplit(url).path).status_code == 404
    decided = reviewer.post(urlsplit(url).path + "decide/", {"decision": "approve", "comment": "fine"})
    assert decided.status_code == 302
    assert UPSTREAM_HITS == ["/echo/a1"]  # the approved execution, once

    done = call_tool(guarded, world.tokens["member"], {"q": "x", "thing": "a1"}, state=state)["result"]  # key order
    assert done["resultType"] == "complete" and done["isError"] is False
    assert done["structuredContent"]["path"] == "/echo/a1" and done["structuredContent"]["query"] == {"q": "x"}
    assert UPSTREAM_HITS == ["/echo/a1"]  # the retry read the stored result: no second upstream call
    (delivered,) = audit_events(org, "approval.result_delivered")
    assert delivered.payload["request_id"] == request_id and delivered.payload["status"] == "executed"
    assert delivered.actor == world.people.member

    replay = call_tool(guarded, world.tokens["member"], {"thing": "a1", "q": "x"}, state=state)
    assert "result" not in replay
    assert replay["error"]["code"] == -32602 and "already used" in replay["error"]["message"]
    assert replay["error"]["data"] == {"reason": "invalid_request_state", "detail": "replayed"}
    assert refusals(org) == ["replayed"]
    assert UPSTREAM_HITS == ["/echo/a1"]


def test_tampered_expired_and_foreign_states_are_refused_and_audited(world, guarded):
    from apps.accounts.models import ApiToken
    from apps.gateway import held
    from apps.gateway.services import request_state_keys

    org = world.people.org
    arguments = {"thing": "b2"}
    request_id, _url, state = held_call(world, guarded, arguments)
    member = world.tokens["member"]

    def refused(answer: dict, detail: str) -> str:
        assert "result" not in answer, answer
        assert answer["error"]["code"] == -32602 and answer["error"]["data"]["detail"] == detail
        return answer["error"]["message"]

    middle = len(state) // 2
    tampered = state[:middle] + ("A" if state[middle] != "A" else "B") + state[middle + 1:]
    assert "not one MCPForge issued" in refused(call_tool(guarded, member, arguments, state=tampered), "tampered")
    assert "another tool" in refused(call_tool(guarded, member, {"seconds": 1}, name="getSlow", state=state),
                                     "other_tool")
    assert "other arguments" in refused(call_tool(guarded, member, {"thing": "b3"}, state=state), "other_arguments")
    owner = make_token(world.people.owner, org, name="owner-2")
    assert "another token or user" in refused(call_tool(guarded, owner, arguments, state=state), "other_principal")
    second = make_token(world.people.member, org, name="member-2")  # same user, another personal token
    refused(call_tool(guarded, second, arguments, state=state), "other_principal")

    token = ApiToken.objects.get(organization=org, user=world.people.member, name="agent")
    binding = held.Binding(organization=org.pk, environment=token_environment(guarded).pk,
                           principal=f"token:{token.pk}/user:{world.people.member.pk}", tool=ECHO,
                           arguments_sha256=held.arguments_digest(arguments))
    expired = held.seal(binding, request_id=request_id, now=time.time() - 7200, expires_at=time.time() - 60,
                        keys=request_state_keys())
    assert "has expired" in refused(call_tool(guarded, member, arguments, state=expired), "expired")
    # the same binding, unexpired, is accepted: the refusal above was the expiry, nothing else
    fresh = held.seal(binding, request_id=request_id, now=time.time(), expires_at=time.time() + 60,
                      keys=request_state_keys())
    assert call_tool(guarded, member, arguments, state=fresh)["result"]["resultType"] == "input_required"

    assert refusals(org) == ["tampered", "other_tool", "other_arguments", "other_principal", "other_principal",
                             "expired"]
    denied = [e for e in audit_events(org, "tool.call_denied") if e.payload.get("reason") == "request_state_refused"]
    assert all(e.payload["outcome"] == "denied" for e in denied)
    assert {e.payload["request_id"] for e in denied[1:]} == {request_id}  # the tampered one names none
    # nothing was consumed or sent: the real state still answers input_required
    assert call_tool(guarded, member, arguments, state=state)["result"]["requestState"] == state
    assert UPSTREAM_HITS == []


def token_environment(endpoint: str):
    from apps.projects.models import Environment

    org, project, env = urlsplit(endpoint).path.strip("/").split("/")[1:4]
    return Environment.objects.get(organization__slug=org, project__slug=project, slug=env)


def test_rejected_call_answers_a_clear_error_once(world, guarded):
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    request_id, _url, state = held_call(world, guarded, {"thing": "c3"})
    approval_decide(request=ApprovalRequest.objects.get(public_id=request_id), reviewer=world.people.reviewer,
                    decision="reject", comment="not today")
    answer = call_tool(guarded, world.tokens["member"], {"thing": "c3"}, state=state)["result"]
    assert answer["resultType"] == "complete" and answer["isError"] is True
    assert f"Approval request {request_id} is rejected" in answer["content"][0]["text"]
    (delivered,) = audit_events(world.people.org, "approval.result_delivered")
    assert delivered.payload["status"] == "rejected" and delivered.payload["outcome"] == "error"
    again = call_tool(guarded, world.tokens["member"], {"thing": "c3"}, state=state)
    assert again["error"]["data"]["detail"] == "replayed"
    assert UPSTREAM_HITS == []


def test_2025_clients_and_2026_clients_without_url_elicitation_keep_the_pending_result(world, guarded):
    legacy = call(guarded, world.tokens["member"], ECHO, {"thing": "d4"}, mode="legacy")
    assert legacy.is_error is False
    pending = legacy.structured_content["mcpforge_approval"]
    assert pending["status"] == "pending" and pending["check_with"] == "mcpforge_approval_status"
    no_url = call_tool(guarded, world.tokens["member"], {"thing": "d5"}, capabilities={"elicitation": {}})["result"]
    assert no_url["resultType"] == "complete" and no_url["structuredContent"]["mcpforge_approval"]["status"] == \
        "pending"
    assert len(audit_events(world.people.org, "approval.requested")) == 2
    assert UPSTREAM_HITS == []


def test_sdk_client_drives_the_elicitation_and_gets_the_result(world, guarded):
    """The official SDK's input_required driver: the elicitation callback gets the URL (here
    the reviewer approves meanwhile) and the SDK retries with the requestState itself."""
    import asyncio

    import mcp_types

    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    seen: list[str] = []

    def approve(url: str) -> None:
        request_id = url.rstrip("/").rsplit("/", 1)[-1]
        approval_decide(request=ApprovalRequest.objects.get(public_id=request_id), reviewer=world.people.reviewer,
                        decision="approve", comment="ok")

    async def on_elicit(context, params):
        seen.append(params.url)
        await asyncio.to_thread(approve, params.url)
        return mcp_types.ElicitResult(action="accept")

    async def main():
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {world.tokens['member']}"}
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0)) as http:
            async with Client(streamable_http_client(guarded, http_client=http), mode="auto", cache=None,
                              elicitation_callback=on_elicit) as client:
                return await client.call_tool(ECHO, {"thing": "e5"})

    result = run_async(main())
    assert len(seen) == 1 and seen[0].startswith(f"{django_settings.SITE_URL}/o/{world.people.org.slug}/approvals/")
    assert result.is_error is False and result.structured_content["path"] == "/echo/e5"
    assert UPSTREAM_HITS == ["/echo/e5"]
    assert len(audit_events(world.people.org, "approval.result_delivered")) == 1


def test_tools_list_ttl_is_private_and_bounded_by_the_token(world, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.accounts.models import ApiToken

    listed = rpc(world.endpoint(), world.tokens["member"], "tools/list", {})["result"]
    assert listed["cacheScope"] == "private" and listed["ttlMs"] == 60_000
    settings.MCP_TOOLS_LIST_TTL_SECONDS = 5
    assert rpc(world.endpoint(), world.tokens["member"], "tools/list", {})["result"]["ttlMs"] == 5_000
    settings.MCP_TOOLS_LIST_TTL_SECONDS = 600
    ApiToken.objects.filter(organization=world.people.org, user=world.people.member).update(
        expires_at=timezone.now() + timedelta(seconds=30))
    ttl = rpc(world.endpoint(), world.tokens["member"], "tools/list", {})["result"]["ttlMs"]
    assert 20_000 < ttl <= 30_000  # never past the token's expiry
    # the 2025-11-25 result has no such fields (the SDK sieves them out for that revision)
    legacy = httpx.post(world.endpoint(), timeout=10, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                                                            "params": {}},
                        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                                 "MCP-Protocol-Version": "2025-11-25",
                                 "Authorization": f"Bearer {world.tokens['member']}"}).json()["result"]
    assert legacy["tools"] and "ttlMs" not in legacy and "cacheScope" not in legacy


def test_search_first_endpoint_holds_and_delivers_through_mcpforge_call_tool(world, guarded):
    """On ``…/search/`` the held call is made and retried through mcpforge_call_tool; the state
    binds the underlying tool and its arguments."""
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide

    search = guarded + "search/"
    wrapped = {"name": ECHO, "arguments": {"thing": "f6"}}
    first = call_tool(search, world.tokens["member"], wrapped, name="mcpforge_call_tool")["result"]
    assert first["resultType"] == "input_required"
    state = first["requestState"]
    request_id = first["inputRequests"]["mcpforge_approval"]["params"]["url"].rstrip("/").rsplit("/", 1)[-1]
    approval_decide(request=ApprovalRequest.objects.get(public_id=request_id), reviewer=world.people.reviewer,
                    decision="approve", comment="ok")
    other = call_tool(search, world.tokens["member"], {"name": ECHO, "arguments": {"thing": "f7"}},
                      name="mcpforge_call_tool", state=state)
    assert other["error"]["data"]["detail"] == "other_arguments"
    done = call_tool(search, world.tokens["member"], wrapped, name="mcpforge_call_tool", state=state)["result"]
    assert done["isError"] is False and done["structuredContent"]["path"] == "/echo/f6"
    assert UPSTREAM_HITS == ["/echo/f6"]
