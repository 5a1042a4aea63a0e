"""Tolerant import of broken real-world specs: a dangling ``$ref`` becomes a permissive schema with
a warning at its JSON pointer; duplicate operationIds, path parameters that do not match the
template and invalid examples warn and the import goes on; only an operation whose parameters
or body cannot be known is skipped (and the import fails when no operation is left)."""

from __future__ import annotations

import hashlib
import json

import jsonschema
import pytest

from apps.inventory.toolgen import build_tools
from apps.risk.pipeline import analyse
from apps.specs.domain import SpecError
from apps.specs.parse import load_document
from tests.factories import import_spec, make_project
from tests.specs.helpers import broken_adyen_bytes, ok, openapi

DEEP_REF = "/components/schemas/FraudResult/properties/results/items/$ref"


@pytest.fixture(scope="module")
def broken():
    return load_document(broken_adyen_bytes(), filename="adyen-broken.json")


@pytest.fixture(scope="module")
def tools(broken):
    return {tool.operation_key: tool for tool in build_tools(broken)}


def warning_at(spec, pointer):
    return next(w for w in spec.warnings if w.pointer == pointer)


# --------------------------------------------------------------------------- the real broken spec


def test_the_broken_commerce_spec_imports_with_one_warning_per_defect(broken):
    assert len(broken.operations) == 27  # 28 minus POST /validateShopperId (dangling parameter object)
    assert "FraudCheckResult" in warning_at(broken, DEEP_REF).message
    assert "also used by POST /orders" in warning_at(broken, "/paths/~1orders~1cancel/post/operationId").message
    assert "linkVersion" in warning_at(broken, "/paths/~1paymentLinks~1{linkId}/get/parameters").message
    reversal = "/paths/~1payments~1{paymentPspReference}~1reversals~1{reversalId}/post/parameters"
    assert "'reversalId' is not declared" in warning_at(broken, reversal).message
    assert "'ten euros'" in warning_at(broken, "/components/schemas/Amount/properties/value/example").message
    skipped = warning_at(broken, "/paths/~1validateShopperId/post/parameters/0/$ref")
    assert "no tool is generated for POST /validateShopperId" in skipped.message
    assert "kept without a schema" in warning_at(broken, "/paths/~1cardDetails/post/responses/200/$ref").message


def test_dangling_ref_deep_in_a_response_is_a_permissive_schema_in_the_tool(tools):
    output = tools["POST /payments"].output_schema
    text = json.dumps(output)
    assert "FraudCheckResult" in text and '"$ref": "#/components' not in text
    jsonschema.Draft202012Validator.check_schema(output)
    fraud = output["properties"]["fraudResult"]
    fraud = output["$defs"][fraud["$ref"].rsplit("/", 1)[1]] if "$ref" in fraud else fraud
    items = fraud["properties"]["results"]["items"]
    assert set(items) == {"description"}  # accepts any value: no invented type or constraint
    # the rest of the real schema is intact
    assert fraud["properties"]["accountScore"]["type"] == "integer"


def test_duplicate_operation_ids_get_distinct_deterministic_names(broken, tools):
    names = {tools["POST /orders"].name, tools["POST /orders/cancel"].name}
    suffix = hashlib.sha256(b"POST /orders/cancel").hexdigest()[:6]
    assert names == {"post-orders", f"post-orders_{suffix}"}
    again = {t.operation_key: t.name for t in build_tools(load_document(broken_adyen_bytes(), filename="a.json"))}
    assert again == {key: tool.name for key, tool in tools.items()}


def test_path_parameter_missing_from_the_template_is_dropped(tools):
    tool = tools["GET /paymentLinks/{linkId}"]
    assert set(tool.input_schema["properties"]) == {"linkId"}
    assert all(p.name != "linkVersion" for p in tool.parameters)


def test_undeclared_template_variable_is_a_required_unconstrained_string(tools):
    tool = tools["POST /payments/{paymentPspReference}/reversals/{reversalId}"]
    assert tool.input_schema["properties"]["reversalId"] == {"type": "string"}
    assert "reversalId" in tool.input_schema["required"]
    assert tool.arg_map["reversalId"] == {"in": "path", "name": "reversalId"}


def test_invalid_example_is_dropped_from_the_tool_schema(tools):
    amount = json.dumps(tools["POST /payments"].input_schema)
    assert "ten euros" not in amount


def test_dangling_response_object_leaves_no_output_schema(tools):
    assert tools["POST /cardDetails"].output_schema is None
    assert "POST /validateShopperId" not in tools


def test_full_validation_findings_stay_warnings(broken):
    spec = load_document(broken_adyen_bytes(), filename="adyen-broken.json", validation="full")
    assert len(spec.operations) == 27
    assert len(spec.warnings) > len(broken.warnings)  # openapi-spec-validator's own findings, as warnings


def test_the_whole_analysis_runs(broken):
    result = analyse(broken_adyen_bytes(), filename="adyen-broken.json")
    assert len(result.tools) == 27 and result.score


# --------------------------------------------------------------------------- each rule alone


def _spec(paths, **components):
    return load_document(openapi(paths, components=components) if components else openapi(paths))


def test_dangling_path_item_ref_skips_that_path_only():
    spec = _spec({"/a": {"$ref": "#/components/pathItems/A"}, "/b": {"get": {"responses": ok()}}})
    assert [op.path for op in spec.operations] == ["/b"]
    assert "no tool is generated for the operations of /a" in warning_at(spec, "/paths/~1a/$ref").message


def test_no_buildable_operation_left_is_an_error():
    with pytest.raises(SpecError) as caught:
        _spec({"/a": {"post": {"requestBody": {"$ref": "#/components/requestBodies/Gone"}, "responses": ok()}}})
    assert caught.value.pointer == "/paths/~1a/post/requestBody/$ref"
    assert "no operation can be turned into a tool" in caught.value.message


def test_dangling_parameter_chain_skips_every_operation_using_it():
    parameters = {"A": {"$ref": "#/components/parameters/B"}}
    param = [{"$ref": "#/components/parameters/A"}]
    paths = {
        "/x": {"get": {"parameters": param, "responses": ok()}},
        "/y": {"get": {"parameters": param, "responses": ok()}},
        "/z": {"get": {"responses": ok()}},
    }
    spec = _spec(paths, parameters=parameters)
    assert [op.path for op in spec.operations] == ["/z"]


def test_path_level_dangling_parameter_skips_the_operations_of_that_path():
    paths = {
        "/x": {"parameters": [{"$ref": "#/components/parameters/Gone"}], "get": {"responses": ok()},
               "post": {"responses": ok()}},
        "/z": {"get": {"responses": ok()}},
    }
    spec = _spec(paths, parameters={})
    assert [op.path for op in spec.operations] == ["/z"]


def test_dangling_ref_in_a_request_body_property_keeps_the_property_unconstrained():
    who = {"$ref": "#/components/schemas/Gone", "description": "Who pays."}
    body = {"type": "object", "required": ["who"], "properties": {"who": who, "n": {"type": "integer"}}}
    paths = {"/a": {"post": {"requestBody": {"content": {"application/json": {"schema": body}}}, "responses": ok()}}}
    spec = _spec(paths, schemas={})
    tool = build_tools(spec)[0]
    assert set(tool.input_schema["properties"]["who"]) == {"description"}
    description = tool.input_schema["properties"]["who"]["description"]
    assert description.startswith("Who pays.") and "Schema unknown" in description  # the author's text is kept
    assert "who" in tool.input_schema["required"]  # the spec's own constraint is kept
    assert tool.input_schema["properties"]["n"] == {"type": "integer"}
    pointer = "/paths/~1a/post/requestBody/content/application~1json/schema/properties/who/$ref"
    assert "replaced by a schema that accepts any value" in warning_at(spec, pointer).message


def test_dangling_response_header_is_kept_without_a_schema():
    response = {"200": {"description": "ok", "headers": {"X-Rate": {"$ref": "#/components/headers/Gone"}}}}
    spec = _spec({"/a": {"get": {"responses": response}}}, headers={})
    assert len(spec.operations) == 1
    assert "header is kept without a schema" in warning_at(
        spec, "/paths/~1a/get/responses/200/headers/X-Rate/$ref"
    ).message


def test_swagger2_dangling_definition_is_permissive():
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "schema": {
            "type": "object", "properties": {"x": {"$ref": "#/definitions/Gone"}}}}}}}},
        "definitions": {},
    }
    spec = load_document(json.dumps(doc).encode())
    assert warning_at(spec, "/paths/~1a/get/responses/200/schema/properties/x/$ref")
    output = build_tools(spec)[0].output_schema
    assert set(output["properties"]["x"]) == {"description"}


def test_examples_are_checked_against_their_schema_with_nullable_and_refs():
    schemas = {
        "Pet": {"type": "object", "properties": {"age": {"$ref": "#/components/schemas/Age"}},
                "example": {"age": "old"}},
        "Age": {"type": "integer", "nullable": True, "example": None},
        "Name": {"type": "string", "maxLength": 3, "example": "Rex"},
    }
    body = {"content": {"application/json": {"schema": {"type": "object", "properties": {
        "pet": {"$ref": "#/components/schemas/Pet"}, "name": {"$ref": "#/components/schemas/Name"}}}}}}
    spec = _spec({"/a": {"post": {"requestBody": body, "responses": ok()}}}, schemas=schemas)
    dropped = [w.pointer for w in spec.warnings if "example does not match" in w.message]
    assert dropped == ["/components/schemas/Pet/example"]
    assert spec.document["components"]["schemas"]["Age"]["example"] is None  # nullable: valid
    assert spec.document["components"]["schemas"]["Name"]["example"] == "Rex"


def test_openapi_31_examples_lists_keep_the_valid_items():
    schema = {"type": "integer", "minimum": 1, "examples": [3, 0, "x", 7]}
    spec = load_document(openapi({"/a": {"get": {"responses": ok(schema)}}}, version="3.1.0"))
    assert spec.operations[0].responses["200"]["content"]["application/json"]["schema"]["examples"] == [3, 7]
    pointers = [w.pointer for w in spec.warnings if "example does not match" in w.message]
    assert pointers == [
        "/paths/~1a/get/responses/200/content/application~1json/schema/examples/1",
        "/paths/~1a/get/responses/200/content/application~1json/schema/examples/2",
    ]


def test_swagger2_x_nullable_example_is_not_a_false_alarm():
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "schema": {
            "type": "string", "x-nullable": True, "example": None}}}}}},
    }
    spec = load_document(json.dumps(doc).encode())
    assert not [w for w in spec.warnings if "example" in w.message]


# --------------------------------------------------------------------------- where users see it


@pytest.mark.django_db
def test_warnings_reach_the_version_page_and_the_rest_api(people, client_for, api_for):
    project = make_project(people.org, people.owner)
    version = import_spec(project, "adyen-broken.json", people.member, data=broken_adyen_bytes())
    assert version.status == "ready", version.error
    assert version.tool_count == 27
    pointers = {w["pointer"] for w in version.warnings}
    assert DEEP_REF in pointers and "/paths/~1validateShopperId/post/parameters/0/$ref" in pointers
    body = api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/specs/{version.number}/").json()
    assert DEEP_REF in {w["pointer"] for w in body["warnings"]}
    page = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/specs/{version.number}/")
    assert page.status_code == 200
    assert DEEP_REF.encode() in page.content
    assert b"no tool is generated for POST /validateShopperId" in page.content


@pytest.mark.timeout(60)
def test_example_check_is_not_a_redos_vector():
    """Schema patterns and examples are both uploaded text: the check runs patterns on RE2
    (Python's `re` would backtrack 2**60 times here and never return)."""
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "pattern": "^(a+)+$", "example": "a" * 60 + "!"},
        "b": {"type": "string", "pattern": "^(?=x)x$", "example": "y"},  # RE2 cannot compile: not checked
        "m": {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}},
              "additionalProperties": False, "example": {"a" * 60 + "!": "x"}},
    }}
    spec = load_document(openapi({"/a": {"get": {"responses": ok(schema)}}}))
    props = spec.operations[0].responses["200"]["content"]["application/json"]["schema"]["properties"]
    assert "example" not in props["a"]
    assert props["b"]["example"] == "y" and "example" in props["m"]


def test_what_the_import_did_is_listed_before_the_validator_findings():
    """Pages show the first 50 warnings: a skipped operation must not hide behind meta-schema noise."""
    noisy = {f"/n{i}": {"get": {"responses": {"200": {"content": {}}}}} for i in range(60)}  # no description
    noisy["/x"] = {"get": {"parameters": [{"$ref": "#/components/parameters/Gone"}], "responses": ok()}}
    spec = load_document(openapi(noisy, components={"parameters": {}}), validation="full")
    assert len(spec.warnings) > 50
    assert "no tool is generated for GET /x" in spec.warnings[0].message


def test_operation_ids_differing_only_in_case_are_reported_and_named_apart():
    paths = {"/a": {"get": {"operationId": "getPet", "responses": ok()}},
             "/b": {"get": {"operationId": "GetPet", "responses": ok()}}}
    spec = _spec(paths)
    assert "clashes with 'getPet' of GET /a" in warning_at(spec, "/paths/~1b/get/operationId").message
    names = [tool.name for tool in build_tools(spec)]
    assert names[0] == "getPet" and names[1].startswith("GetPet_") and len({n.lower() for n in names}) == 2
