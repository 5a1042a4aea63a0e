"""apps.inventory.diff: added / removed / changed tools between two imports."""

from __future__ import annotations

import copy

from apps.inventory.diff import COMPARED_FIELDS, ToolDiff, diff_tools, tool_to_row
from apps.inventory.toolgen import build_tools
from tests.specs.helpers import load_spec

pytestmark = []


def row(
    name: str, key: str, description: str = "d", input_schema: dict | None = None, output_schema: dict | None = None
) -> dict:
    method, path = key.split(" ", 1)
    return {
        "name": name,
        "operation_key": key,
        "method": method,
        "path": path,
        "description": description,
        "input_schema": input_schema or {"type": "object", "properties": {}},
        "output_schema": output_schema,
    }


def test_identical_imports_have_no_diff():
    rows = [tool_to_row(t) for t in build_tools(load_spec("petstore-v3.yaml"))]
    diff = diff_tools(rows, copy.deepcopy(rows))
    assert isinstance(diff, ToolDiff) and diff.is_empty
    assert diff.summary() == "0 added, 0 removed, 0 changed"


def test_added_removed_and_changed():
    old = [row("a", "GET /a"), row("b", "GET /b"), row("c", "GET /c"), row("gone", "DELETE /gone")]
    new = [
        row("new", "POST /new"),
        row("a", "GET /a", description="better"),
        row("b", "GET /b", input_schema={"type": "object", "properties": {"x": {"type": "string"}}}),
        row("c2", "GET /c", output_schema={"type": "object"}),
    ]
    diff = diff_tools(old, new)
    assert [r["name"] for r in diff.added] == ["new"]
    assert [r["name"] for r in diff.removed] == ["gone"]
    assert [(c.operation_key, c.name, c.fields) for c in diff.changed] == [
        ("GET /a", "a", ("description",)),
        ("GET /b", "b", ("input_schema",)),
        ("GET /c", "c2", ("name", "output_schema")),
    ]
    assert diff.changed[0].old["description"] == "d" and diff.changed[0].new["description"] == "better"
    assert diff.summary() == "1 added, 1 removed, 3 changed"


def test_renamed_path_parameter_and_moved_operation_are_changes_not_add_remove():
    old = [row("getPet", "GET /pets/{id}"), row("listPets", "GET /pets")]
    new = [row("getPet", "GET /pets/{petId}"), row("listPets", "GET /v2/pets")]
    diff = diff_tools(old, new)
    assert diff.added == [] and diff.removed == []
    assert [(c.previous_operation_key, c.operation_key, c.fields) for c in diff.changed] == [
        ("GET /pets/{id}", "GET /pets/{petId}", ("method/path",)),
        ("GET /pets", "GET /v2/pets", ("method/path",)),
    ]


def test_ambiguous_names_are_not_matched():
    old = [row("dup", "GET /a"), row("dup", "GET /b")]
    new = [row("dup", "GET /c")]
    diff = diff_tools(old, new)
    assert len(diff.added) == 1 and len(diff.removed) == 2 and diff.changed == []


def test_tool_to_row_and_real_spec_change():
    spec = load_spec("petstore-expanded-v2.json")
    tools = build_tools(spec)
    assert set(tool_to_row(tools[0])) == {
        "name",
        "operation_key",
        "method",
        "path",
        "description",
        "input_schema",
        "output_schema",
    }
    before = [tool_to_row(t) for t in tools]
    spec.operations[1].summary = "Add a pet"
    spec.operations.pop()
    after = [tool_to_row(t) for t in build_tools(spec)]
    diff = diff_tools(before, after)
    assert [r["name"] for r in diff.removed] == ["deletePet"]
    assert [(c.name, c.fields) for c in diff.changed] == [("addPet", ("description",))]
    assert COMPARED_FIELDS == ("method/path", "name", "description", "input_schema", "output_schema")
