"""apps.specs.parse: real documents, Swagger 2.0 conversion, validation and hostile input."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import tracemalloc
import urllib.request

import pytest

from apps.specs.domain import SpecError
from apps.specs.parse import MAX_ALIAS_EXPANSION, convert_swagger2, load_document, resolve_pointer
from tests.specs.helpers import EXPECTED_OPERATIONS, SPECS_DIR, load_spec, ok, openapi, spec_bytes

pytestmark = []


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or URL fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def bounded(func, *, seconds: float = 2.0, megabytes: float = 64.0):
    """Run ``func`` and assert it finished within the time and memory budget; return its result
    or the exception it raised."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = func()
    except Exception as exc:  # noqa: BLE001 - returned to the caller for assertions
        result = exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * 1024 * 1024, f"peak memory {peak / 1e6:.1f} MB"
    return result


# --------------------------------------------------------------------------- real documents


def test_specs_dir_has_every_expected_document():
    assert sorted(p.name for p in SPECS_DIR.iterdir()) == sorted(EXPECTED_OPERATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTED_OPERATIONS))
def test_real_specs_load(name):
    data = spec_bytes(name)
    spec = load_document(data, filename=name)
    assert len(spec.operations) == EXPECTED_OPERATIONS[name]
    assert spec.sha256 == hashlib.sha256(data).hexdigest()
    assert spec.document["openapi"].startswith("3.")
    assert spec.title
    keys = [f"{op.method} {op.path}" for op in spec.operations]
    assert len(keys) == len(set(keys))


def test_real_spec_versions_and_metadata():
    assert load_spec("petstore-expanded-v2.json").source_version == "2.0"
    assert load_spec("petstore-v3.yaml").source_version == "3.0.4"
    tictactoe = load_spec("tictactoe-v3.1.yaml")
    assert tictactoe.source_version == "3.1.0"
    assert (tictactoe.title, tictactoe.version) == ("Tic Tac Toe", "1.0.0")
    assert set(tictactoe.security_schemes) == {
        "defaultApiKey",
        "basicHttpAuthentication",
        "bearerHttpAuthentication",
        "app2AppOauth",
        "user2AppOauth",
    }
    box = load_spec("box.json")
    assert box.servers == ["https://api.box.com/2.0"]
    assert box.security == [{"OAuth2Security": []}]


def test_small_real_specs_validate_without_warnings():
    for name in ("petstore-expanded-v2.json", "petstore-v3.yaml", "tictactoe-v3.1.yaml"):
        assert load_spec(name).warnings == [], name


def test_large_spec_says_validation_was_partial():
    """How fast: bench/import_specs.py (timings are not asserted in unit tests)."""
    spec = load_document(spec_bytes("box.json"), filename="box.json")
    assert any(w.message.startswith("validation incomplete") for w in spec.warnings)


def test_operations_in_document_order_with_extensions_and_path_parameters():
    spec = load_spec("tictactoe-v3.1.yaml")
    assert [(op.method, op.path, op.operation_id) for op in spec.operations] == [
        ("get", "/board", "get-board"),
        ("get", "/board/{row}/{column}", "get-square"),
        ("put", "/board/{row}/{column}", "put-square"),
    ]
    put = spec.operations[2]
    assert [(p.name, p.location, p.required) for p in put.parameters] == [
        ("row", "path", True),
        ("column", "path", True),
        ("progressUrl", "header", False),
    ]
    assert put.parameters[0].schema == {"$ref": "#/components/schemas/coordinate"}
    assert put.security == [{"bearerHttpAuthentication": []}, {"user2AppOauth": ["board:write"]}]
    assert spec.operations[0].security == [{"defaultApiKey": []}, {"app2AppOauth": ["board:read"]}]


def test_path_level_parameters_merge_and_operation_level_wins():
    shared = [
        {"name": "id", "in": "path", "required": True, "description": "shared", "schema": {"type": "string"}},
        {"name": "trace", "in": "header", "schema": {"type": "string"}},
    ]
    op = {
        "operationId": "getThing",
        "parameters": [
            {"name": "id", "in": "path", "required": True, "description": "own", "schema": {"type": "integer"}}
        ],
        "x-rate-limit": 5,
        "responses": ok(),
    }
    spec = load_document(openapi({"/things/{id}": {"parameters": shared, "get": op}}))
    operation = spec.operations[0]
    assert [(p.name, p.location, p.description) for p in operation.parameters] == [
        ("trace", "header", ""),
        ("id", "path", "own"),
    ]
    assert operation.parameters[1].schema == {"type": "integer"}
    assert operation.extensions == {"x-rate-limit": 5}


def test_undeclared_path_parameter_is_added_with_a_warning():
    spec = load_document(openapi({"/a/{x}": {"get": {"responses": ok()}}}), validation="off")
    param = spec.operations[0].parameters[0]
    assert (param.name, param.location, param.required, param.schema) == ("x", "path", True, {"type": "string"})
    assert [w.pointer for w in spec.warnings] == ["/paths/~1a~1{x}/get/parameters"]


# --------------------------------------------------------------------------- Swagger 2.0


def test_swagger2_petstore_is_converted_to_3x_shape():
    spec = load_spec("petstore-expanded-v2.json")
    doc = spec.document
    assert doc["openapi"] == "3.0.3"
    assert spec.servers == ["http://petstore.swagger.io/api"]
    assert set(doc["components"]["schemas"]) == {"Pet", "NewPet", "Error"}
    assert doc["components"]["schemas"]["Pet"]["allOf"][0] == {"$ref": "#/components/schemas/NewPet"}
    add_pet = doc["paths"]["/pets"]["post"]
    assert add_pet["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}},
        "description": "Pet to add to the store",
        "required": True,
        "x-body-name": "pet",
    }
    assert add_pet["responses"]["200"] == {
        "description": "pet response",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
    }
    find = doc["paths"]["/pets"]["get"]
    assert find["parameters"][0] == {
        "name": "tags",
        "in": "query",
        "description": "tags to filter by",
        "required": False,
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": False,
    }
    assert doc["paths"]["/pets/{id}"]["delete"]["responses"]["204"] == {"description": "pet deleted"}


SWAGGER2 = {
    "swagger": "2.0",
    "info": {"title": "Two", "version": "2"},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https", "http"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {
        "basic": {"type": "basic"},
        "key": {"type": "apiKey", "name": "X-Key", "in": "header"},
        "code": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://a/auth",
            "tokenUrl": "https://a/token",
            "scopes": {"read": "Read"},
        },
        "app": {"type": "oauth2", "flow": "application", "tokenUrl": "https://a/token", "scopes": {}},
        "pwd": {"type": "oauth2", "flow": "password", "tokenUrl": "https://a/token", "scopes": {}},
        "imp": {"type": "oauth2", "flow": "implicit", "authorizationUrl": "https://a/auth", "scopes": {}},
    },
    "security": [{"key": []}],
    "parameters": {
        "pageParam": {"name": "page", "in": "query", "type": "integer", "minimum": 1},
        "bodyParam": {"name": "thing", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Thing"}},
    },
    "definitions": {
        "Thing": {
            "type": "object",
            "properties": {"name": {"type": "string", "x-nullable": True}, "kind": {"type": "string"}},
            "discriminator": "kind",
        },
    },
    "paths": {
        "/things": {
            "parameters": [{"$ref": "#/parameters/pageParam"}],
            "get": {
                "operationId": "listThings",
                "parameters": [
                    {
                        "name": "ids",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Thing"}},
                        "headers": {"X-Total": {"type": "integer", "description": "total"}},
                    }
                },
            },
            "post": {
                "operationId": "createThing",
                "parameters": [{"$ref": "#/parameters/bodyParam"}],
                "responses": {"201": {"description": "created", "schema": {"$ref": "#/definitions/Thing"}}},
                "security": [{"code": ["read"]}],
            },
        },
        "/files": {
            "post": {
                "operationId": "upload",
                "consumes": ["multipart/form-data"],
                "produces": ["text/plain"],
                "parameters": [
                    {"name": "file", "in": "formData", "type": "file", "required": True},
                    {"name": "note", "in": "formData", "type": "string", "description": "a note"},
                ],
                "responses": {"200": {"description": "ok", "schema": {"type": "string"}}},
            },
        },
    },
}


def test_swagger2_conversion_covers_servers_security_bodies_forms_and_refs():
    spec = load_document(json.dumps(SWAGGER2).encode())
    assert spec.warnings == []
    assert spec.servers == ["https://api.example.com/v1", "http://api.example.com/v1"]
    assert spec.security == [{"key": []}]
    assert spec.security_schemes == {
        "basic": {"type": "http", "scheme": "basic"},
        "key": {"type": "apiKey", "name": "X-Key", "in": "header"},
        "code": {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "https://a/auth",
                    "tokenUrl": "https://a/token",
                    "scopes": {"read": "Read"},
                }
            },
        },
        "app": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://a/token", "scopes": {}}}},
        "pwd": {"type": "oauth2", "flows": {"password": {"tokenUrl": "https://a/token", "scopes": {}}}},
        "imp": {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "https://a/auth", "scopes": {}}}},
    }
    doc = spec.document
    thing = doc["components"]["schemas"]["Thing"]
    assert thing["discriminator"] == {"propertyName": "kind"}
    assert thing["properties"]["name"] == {"type": "string", "x-nullable": True, "nullable": True}
    assert doc["components"]["parameters"] == {
        "pageParam": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}
    }
    list_op = doc["paths"]["/things"]["get"]
    assert [p["name"] for p in list_op["parameters"]] == ["page", "ids"]
    assert list_op["parameters"][1]["style"] == "form" and list_op["parameters"][1]["explode"] is True
    assert list_op["responses"]["200"]["headers"] == {
        "X-Total": {"description": "total", "schema": {"type": "integer"}}
    }
    create = doc["paths"]["/things"]["post"]
    assert create["requestBody"]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}
    assert create["parameters"] == [doc["components"]["parameters"]["pageParam"]]
    upload = doc["paths"]["/files"]["post"]
    assert upload["requestBody"] == {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "note": {"type": "string", "description": "a note"},
                    },
                    "required": ["file"],
                }
            }
        },
        "required": True,
    }
    assert upload["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert [op.security for op in spec.operations] == [None, [{"code": ["read"]}], None]


def test_convert_swagger2_does_not_modify_its_input():
    original = json.loads(json.dumps(SWAGGER2))
    convert_swagger2(original)
    assert original == SWAGGER2


# --------------------------------------------------------------------------- unusable documents


@pytest.mark.parametrize(
    ("data", "message", "pointer"),
    [
        (b"[1, 2]", "must be a mapping", "/"),
        (b"just text", "must be a mapping", "/"),
        (b'{"info": {"title": "x"}, "paths": {}}', "neither an 'openapi' (3.x) nor a 'swagger'", "/"),
        (b'{"openapi": "4.0.0", "paths": {}}', "unsupported OpenAPI version '4.0.0'", "/openapi"),
        (b'{"openapi": "3.2.0", "paths": {}}', "unsupported OpenAPI version '3.2.0'", "/openapi"),
        (b'{"swagger": "1.2", "paths": {}}', "unsupported Swagger version '1.2'", "/swagger"),
        (b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}', "no 'paths' object", "/paths"),
        (b'{"openapi": "3.0.3", "paths": []}', "'paths' must be a mapping, not a list", "/paths"),
    ],
)
def test_unusable_documents_raise_spec_error_with_pointer(data, message, pointer):
    with pytest.raises(SpecError) as caught:
        load_document(data)
    assert message in caught.value.message
    assert caught.value.pointer == pointer
    assert pointer in str(caught.value)


def test_empty_document():
    with pytest.raises(SpecError, match="empty"):
        load_document(b"  \n")


def test_broken_local_ref_in_a_response_schema_becomes_permissive_with_a_warning():
    paths = {"/a": {"get": {"responses": ok({"$ref": "#/components/schemas/Missing"})}}}
    spec = load_document(openapi(paths, components={"schemas": {"Present": {"type": "string"}}}))
    assert len(spec.operations) == 1
    schema = spec.operations[0].responses["200"]["content"]["application/json"]["schema"]
    assert "$ref" not in schema and "'#/components/schemas/Missing'" in schema["description"]
    warning = next(w for w in spec.warnings if "cannot be resolved" in w.message)
    assert warning.pointer == "/paths/~1a/get/responses/200/content/application~1json/schema/$ref"
    assert "'Missing' does not exist" in warning.message


def test_broken_ref_reached_through_another_ref_names_where_it_is():
    components = {"schemas": {"A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}}}}
    paths = {"/a": {"get": {"responses": ok({"$ref": "#/components/schemas/A"})}}}
    spec = load_document(openapi(paths, components=components))
    assert [w.pointer for w in spec.warnings if "cannot be resolved" in w.message] == [
        "/components/schemas/A/properties/b/$ref"
    ]


def test_unused_broken_ref_is_not_an_error():
    components = {"schemas": {"Unused": {"$ref": "#/components/schemas/Nope"}}}
    spec = load_document(openapi({"/a": {"get": {"responses": ok()}}}, components=components))
    assert len(spec.operations) == 1


def test_json_syntax_error_has_line_number():
    with pytest.raises(SpecError) as caught:
        load_document(b'{\n  "openapi": "3.0.3",\n  "paths": {,}\n}', filename="x.json")
    assert caught.value.line == 3
    assert caught.value.message.startswith("invalid JSON")


def test_yaml_syntax_error_has_line_number():
    with pytest.raises(SpecError) as caught:
        load_document(b"openapi: 3.0.3\npaths:\n  /a: [unclosed\n  /b: {}\n", filename="x.yaml")
    assert caught.value.message.startswith("invalid YAML")
    assert caught.value.line in (3, 4, 5)


def test_yaml_keys_and_dates_become_json_shaped():
    text = b"""openapi: 3.0.3
info: {title: t, version: 1}
paths:
  /a:
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: string, example: 2020-01-02}
"""
    spec = load_document(text)
    response = spec.operations[0].responses["200"]
    assert response["content"]["application/json"]["schema"]["example"] == "2020-01-02"
    json.dumps(spec.document)


def test_flow_style_yaml_starting_with_a_brace_is_accepted():
    spec = load_document(b"{openapi: 3.0.3, info: {title: t, version: '1'}, paths: {}}")
    assert spec.operations == []
    assert any("no operations" in w.message for w in spec.warnings)


# --------------------------------------------------------------------------- warnings


def test_security_with_null_scopes_imports_with_a_warning():
    paths = {"/a": {"get": {"responses": ok()}}}
    components = {
        "securitySchemes": {
            "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://x/token", "scopes": {}}}}
        }
    }
    data = openapi(paths, components=components, security=[{"oauth2": None}])
    for mode in ("auto", "off"):
        spec = load_document(data, validation=mode)
        assert spec.security == [{"oauth2": []}]
        assert [w.pointer for w in spec.warnings] == ["/security/0/oauth2"], mode


def test_validator_findings_become_warnings_with_pointers():
    paths = {"/a": {"get": {"responses": {"200": {"content": {}}}, "unknownKey": 1}}}
    spec = load_document(openapi(paths))
    assert len(spec.operations) == 1
    pointers = {w.pointer for w in spec.warnings}
    assert "/paths/~1a/get" in pointers or "/paths/~1a/get/responses/200" in pointers
    assert all(len(w.message) <= 300 for w in spec.warnings)


def test_warnings_are_capped():
    paths = {f"/p{i}": {"get": {"responses": {"200": {}}, "bogus": i}} for i in range(30)}
    spec = load_document(openapi(paths), max_warnings=5)
    assert len(spec.warnings) == 6
    assert spec.warnings[-1].message.startswith("validation stopped after 5 findings")


def test_validation_off_and_full():
    data = openapi({"/a": {"get": {"responses": {"200": {}}, "bogus": 1}}})
    assert load_document(data, validation="off").warnings == []
    assert load_document(data, validation="full").warnings
    with pytest.raises(ValueError):
        load_document(data, validation="sometimes")


# --------------------------------------------------------------------------- external refs


@pytest.mark.parametrize(
    "ref",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://evil.example/schema.json#/Pet",
        "file:///etc/passwd",
        "other-file.yaml#/components/schemas/Pet",
    ],
)
def test_external_ref_used_by_an_operation_is_refused_without_fetching(ref, no_network):
    paths = {"/a": {"get": {"responses": ok({"$ref": ref})}}}
    with pytest.raises(SpecError) as caught:
        load_document(openapi(paths))
    assert f"external $ref '{ref}'" in caught.value.message
    assert "never fetches remote documents" in caught.value.message
    assert caught.value.pointer == "/paths/~1a/get/responses/200/content/application~1json/schema/$ref"


def test_external_ref_as_a_parameter_is_refused(no_network):
    paths = {"/a": {"get": {"parameters": [{"$ref": "http://169.254.169.254/latest/meta-data"}], "responses": ok()}}}
    with pytest.raises(SpecError, match="169.254.169.254"):
        load_document(openapi(paths))


def test_unused_external_ref_is_a_warning_and_the_validator_never_fetches_it(no_network):
    components = {"schemas": {"Remote": {"$ref": "http://169.254.169.254/latest/meta-data"}}}
    data = openapi({"/a": {"get": {"responses": ok()}}}, components=components)
    for mode in ("auto", "full"):
        spec = load_document(data, validation=mode)
        assert len(spec.operations) == 1
        assert any(
            w.pointer == "/components/schemas/Remote/$ref" and "not followed" in w.message for w in spec.warnings
        )


def test_ref_inside_example_data_is_not_followed():
    schema = {
        "type": "object",
        "example": {"$ref": "http://169.254.169.254/"},
        "properties": {"default": {"$ref": "#/components/schemas/S"}},
    }
    components = {"schemas": {"S": {"type": "string"}}}
    spec = load_document(openapi({"/a": {"get": {"responses": ok(schema)}}}, components=components))
    assert len(spec.operations) == 1


def test_resolve_pointer_unescapes_tokens():
    doc = {"paths": {"/a/{b}": {"get": 1}}, "x": [10, 20]}
    assert resolve_pointer(doc, "#/paths/~1a~1%7Bb%7D/get") == 1
    assert resolve_pointer(doc, "#/x/1") == 20
    with pytest.raises(KeyError):
        resolve_pointer(doc, "#/x/2")


def test_resolve_pointer_refuses_non_indices_and_the_whole_document():
    doc = {"x": [10, 20]}
    for ref in ("#/x/01", "#/x/-", "#/x/²", "#", "other.yaml#/x"):
        with pytest.raises(KeyError):
            resolve_pointer(doc, ref)


def test_a_ref_through_a_non_ascii_digit_is_dangling_not_a_crash():
    # "²" passes str.isdigit() but int() refuses it: the import used to stop with a ValueError
    components = {"schemas": {"S": {"allOf": [{"type": "string"}]}}}
    paths = {"/a": {"get": {"responses": ok({"$ref": "#/components/schemas/S/allOf/²"})}}}
    spec = load_document(openapi(paths, components=components))
    assert len(spec.operations) == 1
    warning = next(w for w in spec.warnings if "cannot be resolved" in w.message)
    assert "index '²' is out of range" in warning.message


# --------------------------------------------------------------------------- hostile input


BILLION_LAUGHS = b"""openapi: 3.0.3
info: {title: lol, version: '1'}
x-lol0: &lol0 "lol"
x-lol1: &lol1 [*lol0, *lol0, *lol0, *lol0, *lol0, *lol0, *lol0, *lol0, *lol0]
x-lol2: &lol2 [*lol1, *lol1, *lol1, *lol1, *lol1, *lol1, *lol1, *lol1, *lol1]
x-lol3: &lol3 [*lol2, *lol2, *lol2, *lol2, *lol2, *lol2, *lol2, *lol2, *lol2]
x-lol4: &lol4 [*lol3, *lol3, *lol3, *lol3, *lol3, *lol3, *lol3, *lol3, *lol3]
x-lol5: &lol5 [*lol4, *lol4, *lol4, *lol4, *lol4, *lol4, *lol4, *lol4, *lol4]
x-lol6: &lol6 [*lol5, *lol5, *lol5, *lol5, *lol5, *lol5, *lol5, *lol5, *lol5]
x-lol7: &lol7 [*lol6, *lol6, *lol6, *lol6, *lol6, *lol6, *lol6, *lol6, *lol6]
x-lol8: &lol8 [*lol7, *lol7, *lol7, *lol7, *lol7, *lol7, *lol7, *lol7, *lol7]
x-lol9: &lol9 [*lol8, *lol8, *lol8, *lol8, *lol8, *lol8, *lol8, *lol8, *lol8]
paths: {}
"""


def test_yaml_billion_laughs_is_refused_even_under_the_alias_count_limit():
    assert BILLION_LAUGHS.count(b"*lol") == 81 < 100  # the alias count alone would let it through
    error = bounded(lambda: load_document(BILLION_LAUGHS, filename="bomb.yaml"), seconds=1.0, megabytes=16)
    assert isinstance(error, SpecError)
    assert f"expand the document by more than {MAX_ALIAS_EXPANSION:,} nodes" in error.message
    assert error.line is not None


def test_too_many_yaml_aliases_are_refused():
    aliases = "\n".join(f"x-a{i}: *base" for i in range(101))
    data = f"openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\nx-base: &base v\n{aliases}\npaths: {{}}\n"
    with pytest.raises(SpecError, match="more than 100 YAML aliases"):
        load_document(data.encode())
    assert load_document(data.encode(), max_aliases=200).operations == []


def test_recursive_yaml_alias_is_refused():
    data = b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-loop: &loop\n  self: *loop\npaths: {}\n"
    with pytest.raises(SpecError, match="recursive YAML alias"):
        load_document(data)


def test_yaml_alias_depth_counts_after_expansion():
    nested = "[" * 150 + "1" + "]" * 150
    wrapper = "[" * 60 + "*deep" + "]" * 60
    data = f"openapi: 3.0.3\nx-deep: &deep {nested}\nx-more: {wrapper}\npaths: {{}}\n"
    with pytest.raises(SpecError, match="once aliases are expanded"):
        load_document(data.encode())


def test_thirty_megabyte_document_is_refused_before_parsing():
    data = b"{" + b" " * (30 * 1024 * 1024) + b"}"
    error = bounded(lambda: load_document(data), seconds=0.5, megabytes=8)
    assert isinstance(error, SpecError)
    assert error.message == "document is 30.0 MB; the limit is 25 MB"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'{"openapi": "3.0.3", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "deep.json"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, ""),
        (b"openapi: 3.0.3\nx: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "deep.yaml"),
        (b"openapi: 3.0.3\nx:\n  " + b"- " * 10_000 + b"1\n", "block.yaml"),
        (b"".join(b" " * i + b"k:\n" for i in range(2_000)), "indent.yaml"),
    ],
    ids=["json-arrays", "json-objects", "yaml-flow", "yaml-block-sequences", "yaml-indented-mappings"],
)
def test_deep_nesting_is_refused_quickly(data, filename):
    error = bounded(lambda: load_document(data, filename=filename), seconds=2.0, megabytes=64)
    assert isinstance(error, SpecError), error
    assert "nesting is deeper than 200 levels" in error.message
    assert error.line is not None


def test_depth_limit_ignores_brackets_inside_strings():
    text = json.dumps({"openapi": "3.0.3", "info": {"title": "[" * 500, "version": "{" * 500}, "paths": {}})
    assert load_document(text.encode()).title == "[" * 500


def test_invalid_utf8_is_refused():
    with pytest.raises(SpecError, match="not UTF-8"):
        load_document(b'{"openapi": "3.0.3", "x": "\xff\xfe\xfa"}')
