"""Search-first endpoint (``…/<environment>/search/``) through the official MCP client: only
meta-tools are listed; search, describe and call work on the caller's own listing; a call
through mcpforge_call_tool is governed and audited exactly like a direct call."""

from __future__ import annotations

import pytest

from apps.gateway.search_first import meta_tool_definitions
from apps.inventory.tokens import listing_tokens
from tests.gateway.conftest import audit_events, call, list_names

pytestmark = pytest.mark.django_db(transaction=True)

META = ["mcpforge_approval_status", "mcpforge_search_tools", "mcpforge_describe_tool", "mcpforge_call_tool"]



def search_url(world) -> str:
    return world.endpoint() + "search/"


def test_listing_is_the_meta_tools_only_and_small(world):
    assert list_names(search_url(world), world.tokens["admin"]) == META
    assert listing_tokens(meta_tool_definitions()) < 3_000
    (listed,) = audit_events(world.people.org, "gateway.tools_listed")
    assert listed.payload["names"] == META


def test_search_describe_call_of_a_held_tool_then_executed_after_approval(world, eager_celery):
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide
    from apps.governance.services import policy_create, tool_set_enabled
    from apps.inventory.selectors import tool_by_name

    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["DELETE /pet/{petId}"],
                     enabled=True, actor=world.people.owner, reason="confirmed in test")
    policy_create(project=world.project, actor=world.people.owner, name="Guard", kind="single",
                  operation_keys=["DELETE /pet/{petId}"])
    url, token = search_url(world), world.tokens["admin"]

    found = call(url, token, "mcpforge_search_tools", {"query": "delete pet"})
    assert found.is_error is False
    assert [t["name"] for t in found.structured_content["tools"]][0] == "deletePet"

    described = call(url, token, "mcpforge_describe_tool", {"name": "deletePet"})
    assert described.structured_content["inputSchema"] == tool_by_name(world.project, "deletePet").input_schema

    held = call(url, token, "mcpforge_call_tool", {"name": "deletePet", "arguments": {"petId": 10}})
    assert held.is_error is False
    pending = held.structured_content["mcpforge_approval"]
    assert pending["status"] == "pending"
    (requested,) = audit_events(world.people.org, "approval.requested")
    assert requested.payload["tool"] == "deletePet" and requested.payload["arguments"] == {"petId": 10}
    assert not audit_events(world.people.org, "tool.called")

    request = ApprovalRequest.objects.get(public_id=pending["request_id"])
    approval_decide(request=request, reviewer=world.people.reviewer, decision="approve", comment="ok")
    status = call(url, token, "mcpforge_approval_status", {"request_id": pending["request_id"]})
    assert status.structured_content["status"] == "executed" and status.structured_content["result"]["status"] == 200
    executed = audit_events(world.people.org, "approval.executed")
    assert len(executed) == 1
    (searched,) = audit_events(world.people.org, "tool.searched")
    assert searched.payload["query"] == "delete pet" and "deletePet" in searched.payload["found"]
    (desc,) = audit_events(world.people.org, "tool.described")
    assert desc.payload["tool"] == "deletePet" and desc.payload["outcome"] == "ok"


def test_meta_tools_never_reach_a_tool_the_caller_cannot_list(world):
    url, token = search_url(world), world.tokens["member"]  # read-only grant
    found = call(url, token, "mcpforge_search_tools", {"query": "pet"})
    names = {t["name"] for t in found.structured_content["tools"]}
    assert names and names <= set(list_names(world.endpoint(), token))
    assert "addPet" not in names and "deletePet" not in names
    described = call(url, token, "mcpforge_describe_tool", {"name": "addPet"})
    assert described.is_error is True and "No tool called" in described.content[0].text
    refused = call(url, token, "mcpforge_call_tool", {"name": "addPet", "arguments": {"name": "rex", "photoUrls": []}})
    assert refused.is_error is True
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["tool"] == "addPet"  # audited under the underlying tool's name
    loop = call(url, token, "mcpforge_call_tool", {"name": "mcpforge_call_tool", "arguments": {}})
    assert loop.is_error is True and "cannot be called" in loop.content[0].text
    ok = call(url, token, "mcpforge_call_tool", {"name": "getOrderById", "arguments": {"orderId": 7}})
    assert ok.is_error is False and ok.structured_content["status"] == "placed"
    (called,) = audit_events(world.people.org, "tool.called")
    assert called.payload["tool"] == "getOrderById"
