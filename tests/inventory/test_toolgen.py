"""apps.inventory.toolgen: names, descriptions, input/output schemas, arg_map, token estimate."""

from __future__ import annotations

import hashlib
import json
import re
import time

import pytest
from jsonschema import Draft202012Validator

from apps.inventory.tokens import definition_tokens, listing_tokens
from apps.inventory.toolgen import (
    MAX_DESCRIPTION_CHARS,
    OUTPUT_WRAP_KEY,
    WRAP_COMMENT,
    build_description,
    build_tools,
    derive_name,
    is_wrapped,
    needs_wrap,
    request_parts,
    sanitize_name,
    tool_definition,
    wrap_output_schema,
    wrap_result,
)
from apps.specs.parse import load_document
from tests.specs.helpers import EXPECTED_OPERATIONS, load_spec, ok, openapi

pytestmark = []

NAME_RE = r"^[A-Za-z0-9_-]{1,64}$"
PROPERTY_RE = r"^[A-Za-z0-9_.-]{1,64}$"


def tools_for(paths, **extra):
    return build_tools(load_document(openapi(paths, **extra), validation="off"))


def assert_valid_schema(schema):
    Draft202012Validator.check_schema(schema)


# --------------------------------------------------------------------------- real documents


@pytest.mark.parametrize("name", sorted(EXPECTED_OPERATIONS))
def test_real_specs_build_valid_tools(name):
    spec = load_spec(name)
    tools = build_tools(spec)
    assert len(tools) == EXPECTED_OPERATIONS[name]
    names = [t.name for t in tools]
    assert len({n.lower() for n in names}) == len(names)
    # check_schema on every schema of Box takes ~10 s: check a deterministic sample of the big ones
    sample = tools if len(tools) <= 20 else tools[:10] + sorted(tools, key=lambda t: -len(str(t.input_schema)))[:2]
    for tool in tools:
        assert re.match(NAME_RE, tool.name)
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert set(tool.arg_map) == set(tool.input_schema["properties"])
        assert all(re.match(PROPERTY_RE, p) for p in tool.arg_map)
        assert tool.output_schema is None or tool.output_schema["type"] == "object"
        assert tool.operation_key == f"{tool.method} {tool.path}"
        assert len(tool.description) <= MAX_DESCRIPTION_CHARS
        json.dumps([tool.input_schema, tool.output_schema, tool.responses])
    for tool in sample:
        assert_valid_schema(tool.input_schema)
        if tool.output_schema is not None:
            assert_valid_schema(tool.output_schema)


def test_box_builds_bounded():
    """How fast: bench/import_specs.py (timings are not asserted in unit tests)."""
    spec = load_spec("box.json")
    tools = build_tools(spec)
    sizes = [len(json.dumps(t.input_schema)) for t in tools]
    assert max(sizes) < 200_000
    assert listing_tokens(tool_definition(t) for t in tools) > 100_000


def test_twilio_comparison_parameters_get_valid_property_names():
    tools = {t.name: t for t in build_tools(load_spec("twilio-api-v2010.json"))}
    call_list = tools["ListCall"]
    assert call_list.arg_map["StartTime_lt"] == {"in": "query", "name": "StartTime<"}
    assert call_list.arg_map["StartTime_gt"] == {"in": "query", "name": "StartTime>"}
    assert call_list.arg_map["AccountSid"] == {"in": "path", "name": "AccountSid"}
    create = tools["CreateCall"]
    assert create.body_content_type == "application/x-www-form-urlencoded"
    assert create.arg_map["To"] == {"in": "body", "name": "To"}
    assert "To" in create.input_schema["required"]


# --------------------------------------------------------------------------- Petstore 2.0 in detail


def test_petstore_v2_tools_in_detail():
    tools = build_tools(load_spec("petstore-expanded-v2.json"))
    assert [(t.name, t.operation_key, t.operation_id) for t in tools] == [
        ("findPets", "GET /pets", "findPets"),
        ("addPet", "POST /pets", "addPet"),
        ("find_pet_by_id", "GET /pets/{id}", "find pet by id"),
        ("deletePet", "DELETE /pets/{id}", "deletePet"),
    ]
    find_pets, add_pet, find_by_id, delete_pet = tools
    assert find_pets.input_schema == {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "description": "tags to filter by"},
            "limit": {"type": "integer", "format": "int32", "description": "maximum number of results to return"},
        },
        "additionalProperties": False,
    }
    # collectionFormat csv (the default): form style, not exploded (?tags=a,b), kept for the gateway
    assert find_pets.arg_map == {"tags": {"in": "query", "name": "tags", "explode": False},
                                 "limit": {"in": "query", "name": "limit"}}
    pet = {
        "type": "object",
        "allOf": [
            {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
            },
            {"required": ["id"], "properties": {"id": {"type": "integer", "format": "int64"}}},
        ],
    }
    assert find_pets.output_schema == {
        "$comment": WRAP_COMMENT,
        "type": "object",
        "properties": {"result": {"type": "array", "items": pet}},
        "required": ["result"],
    }
    assert add_pet.input_schema == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    assert add_pet.arg_map == {"name": {"in": "body", "name": "name"}, "tag": {"in": "body", "name": "tag"}}
    assert add_pet.body_content_type == "application/json"
    assert add_pet.output_schema == pet
    assert add_pet.request_schema == {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
    }
    assert find_by_id.input_schema == {
        "type": "object",
        "properties": {"id": {"type": "integer", "format": "int64", "description": "ID of pet to fetch"}},
        "required": ["id"],
        "additionalProperties": False,
    }
    assert delete_pet.output_schema is None
    assert delete_pet.responses == {
        "204": {"description": "pet deleted", "schema": None},
        "default": {
            "description": "unexpected error",
            "schema": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "integer", "format": "int32"}, "message": {"type": "string"}},
            },
        },
    }
    assert find_pets.description.startswith("Returns all pets from the system")
    assert len(find_pets.description) <= MAX_DESCRIPTION_CHARS and find_pets.description.endswith("…")
    assert [t.security for t in tools] == [[], [], [], []]


# --------------------------------------------------------------------------- Tic Tac Toe 3.1 in detail


def test_tictactoe_v31_tools_in_detail():
    tools = build_tools(load_spec("tictactoe-v3.1.yaml"))
    assert [t.name for t in tools] == ["get-board", "get-square", "put-square"]
    get_board, get_square, put_square = tools
    mark = {
        "type": "string",
        "enum": [".", "X", "O"],
        "description": "Possible values for a board square. `.` means empty square.",
        "examples": ["."],
    }
    coordinate = {"type": "integer", "minimum": 1, "maximum": 3, "examples": [1]}
    assert put_square.input_schema == {
        "type": "object",
        "properties": {
            "row": {**coordinate, "description": "Board row (vertical coordinate)"},
            "column": {**coordinate, "description": "Board column (horizontal coordinate)"},
            "progressUrl": {
                "type": "string",
                "description": "Progress URL that should be called if asynchronous response is returned",
            },
            "body": mark,
        },
        "required": ["row", "column", "body"],
        "additionalProperties": False,
    }
    assert put_square.arg_map == {
        "row": {"in": "path", "name": "row"},
        "column": {"in": "path", "name": "column"},
        "progressUrl": {"in": "header", "name": "progressUrl"},
        "body": {"in": "body", "name": ""},
    }
    status = {
        "type": "object",
        "properties": {
            "winner": {
                "type": "string",
                "enum": [".", "X", "O"],
                "description": "Winner of the game. `.` means nobody has won yet.",
                "examples": ["."],
            },
            "board": {
                "type": "array",
                "maxItems": 3,
                "minItems": 3,
                "items": {"type": "array", "maxItems": 3, "minItems": 3, "items": mark},
            },
        },
    }
    assert put_square.output_schema == status
    assert get_board.input_schema == {"type": "object", "properties": {}, "additionalProperties": False}
    assert get_square.output_schema == wrap_output_schema(mark)
    assert is_wrapped(get_square.output_schema) and not is_wrapped(get_board.output_schema)
    assert get_square.responses["400"] == {
        "description": "The provided parameters are incorrect",
        "schema": {"type": "string", "maxLength": 256, "description": "A text message describing an error"},
    }
    assert put_square.security == [{"bearerHttpAuthentication": []}, {"user2AppOauth": ["board:write"]}]
    assert put_square.tags == ["Gameplay"]
    assert put_square.description == (
        "Set a single board square\n\nPlaces a mark on the board and retrieves the whole board and the winner (if any)."
    )


# --------------------------------------------------------------------------- $ref handling


def test_ref_cycle_yields_defs():
    components = {
        "schemas": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            }
        }
    }
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}, "required": True}
    (tool,) = tools_for(
        {
            "/nodes": {
                "post": {
                    "operationId": "createNode",
                    "requestBody": body,
                    "responses": ok({"$ref": "#/components/schemas/Node"}),
                }
            }
        },
        components=components,
    )
    node_def = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
    }
    assert tool.input_schema == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
        "additionalProperties": False,
        "$defs": {"Node": node_def},
    }
    assert tool.output_schema == {**node_def, "$defs": {"Node": node_def}}
    assert_valid_schema(tool.input_schema)
    assert_valid_schema(tool.output_schema)
    data = {"name": "a", "children": [{"name": "b", "children": []}]}
    Draft202012Validator(tool.output_schema).validate(data)


def test_mutual_recursion_and_self_reference_at_the_root():
    components = {
        "schemas": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "array", "items": {"$ref": "#/components/schemas/A"}},
        }
    }
    (tool,) = tools_for({"/a": {"get": {"responses": ok({"$ref": "#/components/schemas/B"})}}}, components=components)
    out = tool.output_schema
    assert is_wrapped(out)
    assert set(out["$defs"]) == {"A", "B"}  # $defs entries keep their refs as refs
    assert out["properties"][OUTPUT_WRAP_KEY]["items"]["properties"]["b"] == {"$ref": "#/$defs/B"}
    assert_valid_schema(out)


def test_exponential_schema_is_bounded():
    schemas = {
        f"L{i}": {
            "type": "object",
            "description": "x" * 50,
            "properties": {
                "left": {"$ref": f"#/components/schemas/L{i + 1}"},
                "right": {"$ref": f"#/components/schemas/L{i + 1}"},
            },
        }
        for i in range(30)
    }
    schemas["L30"] = {"type": "string"}
    started = time.perf_counter()
    (tool,) = tools_for(
        {"/x": {"get": {"responses": ok({"$ref": "#/components/schemas/L0"})}}}, components={"schemas": schemas}
    )
    assert time.perf_counter() - started < 1.0
    size = len(json.dumps(tool.output_schema))
    assert size < 50_000  # fully inlined it would be 2**30 nodes
    assert tool.output_schema["$defs"]
    assert_valid_schema(tool.output_schema)


def test_ref_siblings_description_overlay_and_nullable_allof():
    components = {"schemas": {"Pet": {"type": "object", "properties": {"id": {"type": "integer"}}}}}
    schema = {
        "type": "object",
        "properties": {
            "pet": {"$ref": "#/components/schemas/Pet", "description": "the pet"},
            "maybe": {"allOf": [{"$ref": "#/components/schemas/Pet"}], "nullable": True},
        },
    }
    (tool,) = tools_for({"/a": {"get": {"responses": ok(schema)}}}, components=components)
    props = tool.output_schema["properties"]
    assert props["pet"] == {"type": "object", "properties": {"id": {"type": "integer"}}, "description": "the pet"}
    assert props["maybe"] == {
        "anyOf": [{"allOf": [{"type": "object", "properties": {"id": {"type": "integer"}}}]}, {"type": "null"}]
    }


def test_openapi_keywords_are_converted_to_json_schema():
    schema = {
        "type": "object",
        "discriminator": {"propertyName": "kind"},
        "xml": {"name": "thing"},
        "x-internal": True,
        "required": ["id", "kind", "secret"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "kind": {"type": "string", "nullable": True, "enum": ["a", "b"], "example": "a"},
            "secret": {"type": "string", "writeOnly": True},
            "count": {
                "type": "integer",
                "maximum": 10,
                "exclusiveMaximum": True,
                "minimum": 0,
                "exclusiveMinimum": False,
            },
            "pattern": {"type": "string", "pattern": "(unclosed"},
            "legacy": {"type": "string", "required": True},
            "weird": {"type": "int"},
        },
    }
    body = {"content": {"application/json": {"schema": schema}}, "required": True}
    (tool,) = tools_for({"/t": {"post": {"requestBody": body, "responses": ok(schema)}}})
    assert tool.input_schema["properties"] == {
        "kind": {"type": ["string", "null"], "enum": ["a", "b", None], "examples": ["a"]},
        "secret": {"type": "string", "writeOnly": True},
        "count": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
        "pattern": {"type": "string"},
        "legacy": {"type": "string"},
        "weird": {},
    }
    assert tool.input_schema["required"] == ["kind", "secret", "legacy"]
    output = tool.output_schema
    assert "secret" not in output["properties"] and output["properties"]["id"] == {"type": "integer", "readOnly": True}
    assert output["required"] == ["id", "kind", "legacy"]
    assert not {"discriminator", "xml", "x-internal"} & set(output)
    assert_valid_schema(tool.input_schema)
    assert_valid_schema(output)


def test_allof_body_is_spread_when_parts_are_plain_objects():
    components = {
        "schemas": {"Base": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}
    }
    body_schema = {
        "allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "properties": {"age": {"type": "integer"}}}]
    }
    body = {"content": {"application/json": {"schema": body_schema}}, "required": True}
    (tool,) = tools_for({"/p": {"post": {"requestBody": body, "responses": ok()}}}, components=components)
    assert tool.arg_map == {"name": {"in": "body", "name": "name"}, "age": {"in": "body", "name": "age"}}
    assert tool.input_schema["required"] == ["name"]


def test_non_object_and_open_bodies_go_under_body():
    for schema in (
        {"type": "array", "items": {"type": "string"}},
        {"type": "object", "additionalProperties": True},
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    ):
        body = {"content": {"application/json": {"schema": schema}}}
        (tool,) = tools_for({"/p": {"post": {"requestBody": body, "responses": ok()}}})
        assert tool.arg_map == {"body": {"in": "body", "name": ""}}
        assert tool.input_schema["required"] == ["body"]  # required unless required: false is explicit
        (tool,) = tools_for({"/p": {"post": {"requestBody": {**body, "required": False}, "responses": ok()}}})
        assert "required" not in tool.input_schema


# --------------------------------------------------------------------------- name clashes and arg_map


def test_name_clash_rule_and_request_parts():
    params = [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "id", "in": "query", "schema": {"type": "string"}},
        {"name": "id", "in": "header", "schema": {"type": "string"}},
        {"name": "body", "in": "query", "schema": {"type": "string"}},
        {"name": "Accept", "in": "header", "schema": {"type": "string"}},
        {"name": "page[size]", "in": "query", "schema": {"type": "integer"}},
    ]
    body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string"},
                        "query_id": {"type": "string"},
                        "note": {"type": "string"},
                    },
                }
            }
        },
    }
    (tool,) = tools_for(
        {
            "/items/{id}": {
                "put": {"operationId": "putItem", "parameters": params, "requestBody": body, "responses": ok()}
            }
        }
    )
    assert tool.arg_map == {
        "id": {"in": "path", "name": "id"},
        "query_id": {"in": "query", "name": "id"},
        "body": {"in": "query", "name": "body"},
        "page_size": {"in": "query", "name": "page[size]"},
        "header_id": {"in": "header", "name": "id"},
        "body_id": {"in": "body", "name": "id"},
        "body_query_id": {"in": "body", "name": "query_id"},
        "note": {"in": "body", "name": "note"},
    }
    assert tool.input_schema["required"] == ["id", "body_id"]
    parts = request_parts(
        tool, {"id": "p", "query_id": "q", "header_id": "h", "page_size": 5, "body_id": "b", "note": "n"}
    )
    assert parts == {
        "path": {"id": "p"},
        "query": {"id": "q", "page[size]": 5},
        "header": {"id": "h"},
        "cookie": {},
        "body": {"id": "b", "note": "n"},
    }
    with pytest.raises(ValueError, match="unknown argument"):
        request_parts(tool, {"nope": 1})


def test_header_parameters_the_gateway_owns_are_not_arguments():
    names = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Cookie", "Authorization",
             "Proxy-Authorization", "Accept", "Content-Type", "X-Trace"]
    params = [{"name": n, "in": "header", "required": True, "schema": {"type": "string"}} for n in names]
    (tool,) = tools_for({"/items": {"get": {"operationId": "listItems", "parameters": params, "responses": ok()}}})
    assert tool.arg_map == {"X-Trace": {"in": "header", "name": "X-Trace"}}
    assert list(tool.input_schema["properties"]) == tool.input_schema["required"] == ["X-Trace"]


def test_whole_body_request_parts_and_wrap_result():
    body = {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}}}
    (tool,) = tools_for(
        {"/n": {"post": {"requestBody": body, "responses": ok({"type": "array", "items": {"type": "integer"}})}}}
    )
    assert request_parts(tool, {"body": [1, 2]})["body"] == [1, 2]
    assert wrap_result(tool, [1, 2]) == {OUTPUT_WRAP_KEY: [1, 2]}
    Draft202012Validator(tool.output_schema).validate(wrap_result(tool, [1, 2]))


def test_needs_wrap():
    assert not needs_wrap({"type": "object"})
    assert needs_wrap({"type": "array"})
    assert needs_wrap({"type": ["object", "null"]})
    assert needs_wrap({"$ref": "#/$defs/X"})
    assert needs_wrap(True)
    wrapped = wrap_output_schema({"type": "array", "items": {"$ref": "#/$defs/X"}, "$defs": {"X": {}}})
    assert wrapped["$defs"] == {"X": {}} and "$defs" not in wrapped["properties"]["result"]


def test_an_api_object_with_a_result_property_is_not_taken_for_a_wrapped_one():
    schema = {"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]}
    (tool,) = tools_for({"/r": {"get": {"responses": ok(schema)}}})
    assert tool.output_schema == schema
    assert wrap_result(tool, {"result": "x"}) == {"result": "x"}


# --------------------------------------------------------------------------- names


def test_sanitize_and_derive_names():
    assert sanitize_name("find pet by id") == "find_pet_by_id"
    assert sanitize_name("  a.b/c::d  ") == "a_b_c_d"
    assert sanitize_name("!!!") == ""
    assert len(sanitize_name("x" * 100)) == 64
    assert derive_name("GET", "/pets/{id}") == "get_pets_by_id"
    assert derive_name("post", "/") == "post_root"
    assert derive_name("get", "/2010-04-01/Accounts/{AccountSid}/Calls.json") == (
        "get_2010-04-01_Accounts_by_AccountSid_Calls_json"
    )


def test_names_without_operation_id_and_collisions_get_a_stable_suffix():
    paths = {
        "/pets/{id}": {
            "get": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": ok(),
            }
        },
        "/a": {"get": {"operationId": "dup", "responses": ok()}},
        "/b": {"get": {"operationId": "Dup", "responses": ok()}},
    }
    tools = tools_for(paths)
    suffix = hashlib.sha256(b"GET /b").hexdigest()[:6]
    assert [t.name for t in tools] == ["get_pets_by_id", "dup", f"Dup_{suffix}"]


def test_long_names_are_truncated_and_unique():
    long_id = "a" * 80
    tools = tools_for(
        {
            "/a": {"get": {"operationId": long_id, "responses": ok()}},
            "/b": {"get": {"operationId": long_id + "b", "responses": ok()}},
        }
    )
    assert tools[0].name == "a" * 64
    assert len(tools[1].name) == 64 and tools[1].name != tools[0].name


def test_previous_names_keep_names_stable_and_renames_win():
    paths = {
        "/a": {"get": {"operationId": "list", "responses": ok()}},
        "/b": {"get": {"operationId": "list", "responses": ok()}},
    }
    spec = load_document(openapi(paths), validation="off")
    first = {t.operation_key: t.name for t in build_tools(spec)}
    assert first["GET /a"] == "list" and first["GET /b"].startswith("list_")
    # a new operation wanting "list" appears first in the document: existing names do not move
    paths2 = {"/new": {"get": {"operationId": "list", "responses": ok()}}, **paths}
    spec2 = load_document(openapi(paths2), validation="off")
    second = {t.operation_key: t.name for t in build_tools(spec2, previous_names=first)}
    assert second["GET /a"] == first["GET /a"] and second["GET /b"] == first["GET /b"]
    assert second["GET /new"] not in first.values()
    # an admin rename wins even against a previous name
    third = {
        t.operation_key: t.name
        for t in build_tools(spec2, previous_names=first, renames={"GET /new": "list", "GET /b": "b tool"})
    }
    assert third["GET /new"] == "list" and third["GET /b"] == "b_tool"
    assert third["GET /a"] != "list"


# --------------------------------------------------------------------------- descriptions


def test_description_joins_summary_and_marks_deprecated():
    assert build_description("List pets", "Returns every pet.") == "List pets\n\nReturns every pet."
    assert build_description("List pets", "List pets in the store.") == "List pets in the store."
    assert build_description("", "", deprecated=True) == "DEPRECATED"
    assert build_description("Old", "", deprecated=True) == "DEPRECATED: Old"
    (tool,) = tools_for({"/a": {"get": {"summary": "Old thing", "deprecated": True, "responses": ok()}}})
    assert tool.description == "DEPRECATED: Old thing" and tool.deprecated


def test_description_is_trimmed_at_a_word_boundary():
    text = " ".join(["word"] * 400)
    trimmed = build_description("", text)
    assert len(trimmed) <= MAX_DESCRIPTION_CHARS and trimmed.endswith("word…")
    assert build_description("", "x" * 2000).endswith("…")
    assert len(build_description("", "x" * 2000)) == MAX_DESCRIPTION_CHARS


# --------------------------------------------------------------------------- tokens


def test_tool_definition_is_the_listing_entry_the_bill_is_counted_on():
    (tool,) = tools_for({"/a": {"get": {"operationId": "a", "summary": "Hi", "responses": ok({"type": "object"})}}})
    entry = {"name": "a", "description": "Hi", "inputSchema": tool.input_schema, "outputSchema": {"type": "object"}}
    assert tool_definition(tool) == entry
    one = listing_tokens([entry])
    assert definition_tokens(entry) < one < definition_tokens(entry) + 10
    assert listing_tokens([entry, entry]) == 2 * one - listing_tokens([]) + 1
