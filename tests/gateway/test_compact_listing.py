"""Compact tools/list through the official MCP client: compact schemas listed, the full schema
one mcpforge_describe_tool away (only for tools the caller may list), the gateway still
validating calls against the full schema, and every step audited."""

from __future__ import annotations

import pytest

from apps.inventory.compact import DESCRIBE_HINT
from tests.gateway.conftest import audit_events, call, list_names, run_client

pytestmark = pytest.mark.django_db(transaction=True)

DESCRIBE = "mcpforge_describe_tool"


def listed_tools(world, role):
    async def tools(client):
        return (await client.list_tools()).tools

    return {t.name: t for t in run_client(world.endpoint(), world.tokens[role], tools)}


def test_compact_listing_drops_output_schemas_and_annotations_but_keeps_the_contract(world):
    from apps.inventory.selectors import tool_by_name

    listed = listed_tools(world, "member")
    stored = tool_by_name(world.project, "getPetById")
    tool = listed["getPetById"]
    assert stored.output_schema and tool.output_schema is None  # output schemas are optional, dropped
    assert tool.input_schema["required"] == stored.input_schema["required"] == ["petId"]
    assert tool.input_schema["properties"]["petId"]["type"] == stored.input_schema["properties"]["petId"]["type"]
    assert "int64" in str(stored.input_schema) and "int64" not in str(tool.input_schema)
    assert tool.annotations.read_only_hint is True  # annotations kept
    assert DESCRIBE not in listed  # nothing was summarised at the default budget
    (event,) = audit_events(world.people.org, "gateway.tools_listed")
    assert event.payload["names"] == list(listed)


def test_full_mode_serves_stored_definitions(world, settings):
    from apps.inventory.selectors import tool_by_name

    settings.MCP_COMPACT_TOOLS = 0
    tool = listed_tools(world, "member")["getPetById"]
    stored = tool_by_name(world.project, "getPetById")
    assert tool.input_schema == stored.input_schema and tool.output_schema == stored.output_schema


def test_summarised_schema_is_one_describe_away_and_calls_are_validated_in_full(world, settings):
    from apps.inventory.selectors import tool_by_name

    settings.MCP_TOOL_TOKEN_BUDGET = 60  # force summarising on the small petstore
    listed = listed_tools(world, "admin")
    assert list(listed)[:2] == ["mcpforge_approval_status", DESCRIBE]
    category = listed["addPet"].input_schema["properties"]["category"]
    assert category["type"] == "object" and DESCRIBE_HINT in category["description"]
    assert "properties" not in category

    full = call(world.endpoint(), world.tokens["admin"], DESCRIBE, {"name": "addPet"})
    assert full.is_error is False
    stored = tool_by_name(world.project, "addPet")
    assert full.structured_content["inputSchema"] == stored.input_schema
    assert full.structured_content["outputSchema"] == stored.output_schema

    # the listed schema accepts {"id": "abc"} for category; the gateway validates against the full one
    refused = call(world.endpoint(), world.tokens["admin"], "addPet",
                   {"name": "rex", "photoUrls": [], "category": {"id": "abc"}})
    assert refused.is_error is True and "Invalid arguments for addPet" in refused.content[0].text
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "invalid_arguments" and denied.payload["tool"] == "addPet"

    (described,) = audit_events(world.people.org, "tool.described")
    assert described.payload["tool"] == "addPet" and described.payload["outcome"] == "ok"
    assert described.payload["environment"] == "development"


def test_describe_never_reveals_a_tool_the_caller_cannot_list(world):
    member = list_names(world.endpoint(), world.tokens["member"])
    assert "addPet" not in member  # not granted to the member
    answers = {name: call(world.endpoint(), world.tokens["member"], DESCRIBE, {"name": name})
               for name in ("addPet", "deletePet", "noSuchTool")}
    for name, result in answers.items():
        assert result.is_error is True, name
        assert result.content[0].text == f"No tool called {name!r} is available to you here."
    admin = call(world.endpoint(), world.tokens["admin"], DESCRIBE, {"name": "deletePet"})  # disabled
    assert admin.is_error is True and admin.structured_content is None
    events = audit_events(world.people.org, "tool.described")
    outcomes = sorted((e.payload["tool"], e.payload["outcome"]) for e in events)
    assert outcomes == [("addPet", "error"), ("deletePet", "error"), ("deletePet", "error"), ("noSuchTool", "error")]
    missing = call(world.endpoint(), world.tokens["member"], DESCRIBE, {})
    assert missing.is_error is True and "name of a tool" in missing.content[0].text


def test_cached_listing_follows_every_change_like_the_snapshot(world):
    """The serialized listing is cached per snapshot and caller: a switch, a grant or a rename
    changes the very next tools/list."""
    from apps.governance.services import grant_create, tool_set_enabled
    from apps.inventory import services as inventory
    from apps.inventory.selectors import tool_by_name

    admin, member = world.tokens["admin"], world.tokens["member"]
    first = list_names(world.endpoint(), admin)
    assert "addPet" in first and list_names(world.endpoint(), admin) == first  # the cached answer
    tool_set_enabled(project=world.project, environment=world.environment, operation_keys=["POST /pet"],
                     enabled=False, actor=world.people.owner)
    assert "addPet" not in list_names(world.endpoint(), admin)
    assert "placeOrder" not in list_names(world.endpoint(), member)
    grant_create(project=world.project, actor=world.people.owner, effect="allow", principal_kind="role",
                 role="member", all_tools=True)
    assert "placeOrder" in list_names(world.endpoint(), member)
    inventory.tool_rename(tool=tool_by_name(world.project, "getOrderById"), new_name="fetch_order",
                          actor=world.people.owner)
    names = list_names(world.endpoint(), member)
    assert "fetch_order" in names and "getOrderById" not in names
    assert len(audit_events(world.people.org, "gateway.tools_listed")) == 6  # every answer audited, cached or not
