"""Compact tool definitions never lose anything callable.

For every tool of every spec in ../shared/specs: argument documents generated from the FULL
inputSchema (``schema_documents``) that the full schema accepts are accepted by the compact
(listed) schema, and the required top-level fields and their types are identical.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from apps.inventory.compact import DESCRIBE_HINT, TOOL_TOKEN_BUDGET, compact_definition
from apps.inventory.tokens import definition_tokens
from apps.inventory.toolgen import build_tools, tool_definition
from tests.inventory.schema_documents import documents
from tests.specs.helpers import SPECS_DIR, load_spec

SPEC_NAMES = sorted(p.name for p in SPECS_DIR.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
EXAMPLES_PER_TOOL = 12


@functools.cache
def tools_of(name: str):
    tools = build_tools(load_spec(name))
    return [(t, compact_definition(tool_definition(t), count=definition_tokens)) for t in tools]


def _validator(schema):
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _top_level_contract(schema):
    required = list(schema.get("required") or [])
    properties = schema.get("properties") or {}
    return required, {name: (properties.get(name) or {}).get("type") for name in required}


def assert_never_rejects(full, listed, examples=EXAMPLES_PER_TOOL) -> int:
    """Generated documents the full schema accepts are accepted by ``listed``; returns how
    many accepted documents were checked."""
    full_check, listed_check = _validator(full), _validator(listed)
    accepted = []

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(documents(full))
    def check(document):
        if not full_check.is_valid(document):  # the generator's miss is not our concern
            return
        accepted.append(1)
        errors = [e.message for e in listed_check.iter_errors(document)]
        assert not errors, (document, errors)

    check()
    return len(accepted)


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_listed_schema_accepts_every_generated_call_the_full_schema_accepts(spec):
    checked = {
        tool.name: assert_never_rejects(tool.input_schema, compact["inputSchema"]) for tool, compact in tools_of(spec)
    }
    # the generator must really exercise the tools: valid documents for (nearly) all of them
    missed = sorted(name for name, n in checked.items() if n == 0)
    assert len(missed) <= len(checked) // 20, missed


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_required_top_level_fields_and_types_are_identical(spec):
    for tool, compact in tools_of(spec):
        assert _top_level_contract(compact["inputSchema"]) == _top_level_contract(tool.input_schema), tool.name
        assert compact["name"] == tool.name
        assert compact["description"] == tool.description


@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_no_compact_tool_is_over_the_per_tool_budget(spec):
    heavy = [(t.name, definition_tokens(c)) for t, c in tools_of(spec) if definition_tokens(c) > TOOL_TOKEN_BUDGET]
    assert heavy == []


def test_the_harness_catches_a_listing_that_rejects_a_valid_call():
    """Guard on the guard: a 'compaction' that narrows a type or adds a requirement fails."""
    full = {"type": "object", "properties": {"n": {"type": ["integer", "string"]}}, "required": ["n"]}
    narrowed = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with pytest.raises(AssertionError):
        assert_never_rejects(full, narrowed, examples=100)
    stricter = {**full, "properties": {**full["properties"], "m": {"type": "string"}}, "required": ["n", "m"]}
    with pytest.raises(AssertionError):
        assert_never_rejects(full, stricter, examples=50)


def test_annotations_dropped_but_property_names_kept_and_shared_schemas_referenced():
    address = {
        "type": "object",
        "properties": {"street": {"type": "string", "description": "Street and number of the address."},
                       "city": {"type": "string", "description": "City of the address, as on the post."}},
        "required": ["city"],
        "additionalProperties": False,
    }
    full = {
        "type": "object",
        "properties": {
            "examples": {"type": "string", "examples": ["a"], "x-vendor": 1, "format": "int64"},
            "billing": address,
            "delivery": address,
        },
        "required": ["examples"],
        "additionalProperties": False,
    }
    listed = compact_definition({"name": "t", "description": "d", "inputSchema": full,
                                 "outputSchema": {"type": "object"}})
    schema = listed["inputSchema"]
    assert "outputSchema" not in listed
    assert schema["properties"]["examples"] == {"type": "string"}
    shared = {"$ref": "#/$defs/s1", "type": "object"}
    assert schema["properties"]["billing"] == schema["properties"]["delivery"] == shared
    assert schema["$defs"]["s1"]["required"] == ["city"]
    assert_never_rejects(full, schema, examples=30)
    kept = compact_definition({"name": "t", "description": "d", "inputSchema": full,
                               "outputSchema": {"type": "object"}}, keep_output=True)
    assert kept["outputSchema"] == {"type": "object"}


def test_a_tool_over_budget_is_summarised_with_the_describe_hint():
    leaf = {"type": "object", "properties": {f"f{i}": {"type": "string", "description": "word " * 30}
                                             for i in range(40)}}
    full = {"type": "object", "properties": {"outer": {"type": "object", "properties": {"inner": leaf}}},
            "required": ["outer"]}
    listed = compact_definition({"name": "t", "description": "d", "inputSchema": full}, budget=100,
                                count=definition_tokens)
    assert definition_tokens(listed) <= 100
    outer = listed["inputSchema"]["properties"]["outer"]
    assert outer["type"] == "object"
    inner = outer.get("properties", {}).get("inner", outer)  # summarised at the depth that fits
    assert inner["type"] == "object" and DESCRIBE_HINT in inner["description"] and "properties" not in inner
    assert_never_rejects(full, listed["inputSchema"], examples=30)
