"""Toolset endpoints (``…/<environment>/toolsets/<slug>/``) and per-endpoint listing switches,
through the official MCP client against the live gateway: a toolset lists only its tools (still
filtered by grants and enablement), refuses the others with an MCP error, its search-first mode
only finds, describes and calls its tools, and every audit row names the toolset."""

from __future__ import annotations

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.gateway.conftest import audit_events, call, list_names, run_client

pytestmark = pytest.mark.django_db(transaction=True)

STATUS = "mcpforge_approval_status"
META = [STATUS, "mcpforge_search_tools", "mcpforge_describe_tool", "mcpforge_call_tool"]


def make_toolset(world, slug="support-readonly", tools=("getPetById", "findPetsByStatus", "addPet"), **extra):
    from apps.toolsets.services import toolset_create

    return toolset_create(project=world.project, actor=world.people.owner, slug=slug, name=slug.title(),
                          tool_names=list(tools), **extra)


def toolset_url(world, slug="support-readonly", environment=None) -> str:
    return world.endpoint(environment) + f"toolsets/{slug}/"


def test_toolset_lists_only_its_tools_filtered_by_grants(world):
    make_toolset(world)
    # the admin may call every tool in development: the toolset's three, in document order
    assert list_names(toolset_url(world), world.tokens["admin"]) == [STATUS, "addPet", "findPetsByStatus",
                                                                      "getPetById"]
    # the member holds a read-only grant: addPet stays hidden, as at the environment endpoint
    assert list_names(toolset_url(world), world.tokens["member"]) == [STATUS, "findPetsByStatus", "getPetById"]
    listed = audit_events(world.people.org, "gateway.tools_listed")
    assert [e.payload["toolset"] for e in listed] == ["support-readonly", "support-readonly"]
    assert listed[-1].payload["names"] == [STATUS, "findPetsByStatus", "getPetById"]


def test_call_outside_the_toolset_is_refused_and_audited(world):
    make_toolset(world, tools=("getPetById",))
    url, token = toolset_url(world), world.tokens["admin"]
    with pytest.raises(MCPError) as exc:
        call(url, token, "deletePet", {"petId": 10})
    assert "not in toolset support-readonly" in exc.value.message
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "not_in_toolset"
    assert denied.payload["tool"] == "deletePet" and denied.payload["toolset"] == "support-readonly"
    assert not audit_events(world.people.org, "tool.called")

    # the same tool at the environment endpoint is not refused for the toolset's sake
    result = call(world.endpoint(), token, "getPetById", {"petId": 10})
    assert result.is_error is False
    ok = call(url, token, "getPetById", {"petId": 10})
    assert ok.is_error is False
    called = audit_events(world.people.org, "tool.called")
    assert [c.payload.get("toolset") for c in called] == [None, "support-readonly"]
    assert called[-1].payload["tool"] == "getPetById"
    completed = audit_events(world.people.org, "tool.call_completed")
    assert completed[-1].payload["toolset"] == "support-readonly"


def test_grants_still_apply_inside_a_toolset(world):
    make_toolset(world, tools=("addPet", "getPetById"))
    result = call(toolset_url(world), world.tokens["member"], "addPet", {"name": "Rex", "photoUrls": []})
    assert result.is_error is True  # listed nowhere for the member: refused by governance, not by the toolset
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] != "not_in_toolset" and denied.payload["toolset"] == "support-readonly"


def test_unknown_toolset_is_404_and_a_changed_toolset_is_never_served_stale(world):
    from apps.toolsets.services import toolset_delete, toolset_update

    answer = httpx.post(toolset_url(world, "nope"), headers={"Authorization": f"Bearer {world.tokens['admin']}",
                                                            "Accept": "application/json, text/event-stream"},
                        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert answer.status_code == 404 and "no toolset" in answer.json()["error"]["message"]

    toolset = make_toolset(world, tools=("getPetById",))
    url, token = toolset_url(world), world.tokens["admin"]
    assert list_names(url, token) == [STATUS, "getPetById"]
    toolset_update(toolset=toolset, actor=world.people.owner, tool_names=["getPetById", "getInventory"])
    assert list_names(url, token) == [STATUS, "getPetById", "getInventory"]
    toolset_delete(toolset=toolset, actor=world.people.owner)
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its transport's error for a 404
        list_names(url, token)


def test_search_first_toolset_only_finds_describes_and_calls_its_tools(world):
    make_toolset(world, tools=("getPetById", "findPetsByStatus"), listing_mode="search-first")
    url, token = toolset_url(world), world.tokens["admin"]
    assert list_names(url, token) == META

    found = call(url, token, "mcpforge_search_tools", {"query": "pet"})
    assert sorted(t["name"] for t in found.structured_content["tools"]) == ["findPetsByStatus", "getPetById"]
    outside = call(url, token, "mcpforge_describe_tool", {"name": "addPet"})
    assert outside.is_error is True
    described = call(url, token, "mcpforge_describe_tool", {"name": "getPetById"})
    assert described.structured_content["name"] == "getPetById"
    with pytest.raises(MCPError) as exc:
        call(url, token, "mcpforge_call_tool", {"name": "addPet", "arguments": {"name": "Rex", "photoUrls": []}})
    assert "not in toolset" in exc.value.message
    ok = call(url, token, "mcpforge_call_tool", {"name": "getPetById", "arguments": {"petId": 10}})
    assert ok.is_error is False

    org = world.people.org
    (searched,) = audit_events(org, "tool.searched")
    assert searched.payload["toolset"] == "support-readonly" and "addPet" not in searched.payload["found"]
    assert [(e.payload["tool"], e.payload["outcome"]) for e in audit_events(org, "tool.described")] == [
        ("addPet", "error"), ("getPetById", "ok")]
    (denied,) = audit_events(org, "tool.call_denied")
    assert denied.payload["tool"] == "addPet" and denied.payload["reason"] == "not_in_toolset"
    (called,) = audit_events(org, "tool.called")
    assert called.payload["tool"] == "getPetById" and called.payload["toolset"] == "support-readonly"


def test_environment_listing_switches_are_honoured_and_keep_the_search_path(world):
    from apps.inventory.selectors import tool_by_name
    from apps.toolsets.services import environment_listing_set

    url, token = world.endpoint(), world.tokens["member"]
    full = list_names(url, token)
    environment_listing_set(environment=world.environment, actor=world.people.owner, compact_tools=None,
                            listing_mode="search-first")
    assert list_names(url, token) == META
    assert list_names(url + "search/", token) == META
    found = call(url, token, "mcpforge_search_tools", {"query": "pet"})
    assert "getPetById" in [t["name"] for t in found.structured_content["tools"]]

    # a toolset of a search-first environment may list in full; compact off serves stored definitions
    make_toolset(world, tools=("getPetById",), listing_mode="full", compact_tools=False)

    async def definitions(client):
        return {t.name: t for t in (await client.list_tools()).tools}

    listed = run_client(toolset_url(world), token, definitions)
    assert list(listed) == [STATUS, "getPetById"]
    stored = tool_by_name(world.project, "getPetById").mcp_definition()
    assert listed["getPetById"].input_schema == stored["inputSchema"]
    assert listed["getPetById"].output_schema is not None  # compact listings drop outputSchema

    environment_listing_set(environment=world.environment, actor=world.people.owner, compact_tools=None,
                            listing_mode="full")
    assert list_names(url, token) == full
    changes = audit_events(world.people.org, "environment.updated")
    assert [e.payload["after"]["listing_mode"] for e in changes if e.payload.get("setting") == "tool_listing"] == [
        "search-first", "full"]



def test_held_call_through_a_search_first_toolset_is_pending_then_executed(world, eager_celery):
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.services import approval_decide
    from apps.governance.services import policy_create, tool_set_enabled

    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["DELETE /pet/{petId}"],
                     enabled=True, actor=world.people.owner, reason="confirmed in test")
    policy_create(project=world.project, actor=world.people.owner, name="Guard", kind="single",
                  operation_keys=["DELETE /pet/{petId}"])
    make_toolset(world, slug="cleanup", tools=("deletePet",), listing_mode="search-first")
    url, token = toolset_url(world, "cleanup"), world.tokens["admin"]
    found = call(url, token, "mcpforge_search_tools", {"query": "delete"})
    assert [t["name"] for t in found.structured_content["tools"]] == ["deletePet"]  # not deleteOrder/deleteUser
    held = call(url, token, "mcpforge_call_tool", {"name": "deletePet", "arguments": {"petId": 10}})
    pending = held.structured_content["mcpforge_approval"]
    assert pending["status"] == "pending"
    (requested,) = audit_events(world.people.org, "approval.requested")
    assert requested.payload["tool"] == "deletePet" and requested.payload["toolset"] == "cleanup"

    approval_decide(request=ApprovalRequest.objects.get(public_id=pending["request_id"]),
                    reviewer=world.people.reviewer, decision="approve", comment="ok")
    status = call(url, token, "mcpforge_approval_status", {"request_id": pending["request_id"]})
    assert status.structured_content["status"] == "executed"
    (checked,) = audit_events(world.people.org, "approval.status_checked")
    assert checked.payload["toolset"] == "cleanup"
