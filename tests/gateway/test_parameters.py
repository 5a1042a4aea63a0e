"""OpenAPI parameter serialization (apps/gateway/parameters.py and upstream.serialize): every
style/explode combination against the OpenAPI specification's own "Style Examples" table
(color = "blue" / ["blue", "black", "brown"] / {"R": 100, "G": 200, "B": 150}), Swagger 2's
collectionFormat as imported, the refusal of smuggled names, RFC 9110 header values, and the
documents the approval policies judge."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from apps.core.http_names import is_field_value
from apps.gateway import parameters
from apps.gateway.upstream import UpstreamError, build_request, serialize
from apps.specs.parse import load_document
from tests.gateway.doubles import FakeEnv, FakeTool

PRIMITIVE = "blue"
ARRAY = ["blue", "black", "brown"]
OBJECT = {"R": 100, "G": 200, "B": 150}

# OpenAPI 3.1.0, 4.8.12.4 "Style Examples" (the path styles as the URL segment reads after
# decoding; query styles as "name=value" joined with "&").
PATH_TABLE = [
    ("matrix", False, ";color=blue", ";color=blue,black,brown", ";color=R,100,G,200,B,150"),
    ("matrix", True, ";color=blue", ";color=blue;color=black;color=brown", ";R=100;G=200;B=150"),
    ("label", False, ".blue", ".blue,black,brown", ".R,100,G,200,B,150"),
    ("label", True, ".blue", ".blue.black.brown", ".R=100.G=200.B=150"),
    ("simple", False, "blue", "blue,black,brown", "R,100,G,200,B,150"),
    ("simple", True, "blue", "blue,black,brown", "R=100,G=200,B=150"),
]
QUERY_TABLE = [
    ("form", False, "color=blue", "color=blue,black,brown", "color=R,100,G,200,B,150"),
    ("form", True, "color=blue", "color=blue&color=black&color=brown", "R=100&G=200&B=150"),
    ("spaceDelimited", False, None, "color=blue black brown", "color=R 100 G 200 B 150"),
    ("pipeDelimited", False, None, "color=blue|black|brown", "color=R|100|G|200|B|150"),
    ("deepObject", True, None, None, "color[R]=100&color[G]=200&color[B]=150"),
]


def _joined(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in pairs)


@pytest.mark.parametrize(("style", "explode", "primitive", "array", "obj"), PATH_TABLE)
def test_path_styles_match_the_openapi_table(style, explode, primitive, array, obj):
    for value, expected in ((PRIMITIVE, primitive), (ARRAY, array), (OBJECT, obj)):
        encoded, plain = parameters.path_text("color", value, style, explode)
        assert plain == expected
        assert unquote(encoded) == expected
        # delimiters literal, values encoded: a value can never add a segment or a delimiter
        tool = FakeTool(path="/paint/{color}", arg_map={"color": {"in": "path", "name": "color", "style": style,
                                                                   "explode": explode}})
        request = build_request(tool, FakeEnv(), {"color": value})
        assert unquote(request.target.decode()) == "/v1/paint/" + expected


def test_path_values_are_encoded_inside_the_styles_delimiters():
    encoded, plain = parameters.path_text("id", ["a/b", "c;d", "e.f"], "matrix", True)
    assert encoded == ";id=a%2Fb;id=c%3Bd;id=e.f"
    assert plain == ";id=a/b;id=c;d;id=e.f"
    assert parameters.path_text("id", "", "matrix", False)[1] == ";id"
    assert parameters.path_text("id", "", "label", False)[1] == "."


@pytest.mark.parametrize(("style", "explode", "primitive", "array", "obj"), QUERY_TABLE)
def test_query_styles_match_the_openapi_table(style, explode, primitive, array, obj):
    for value, expected in ((PRIMITIVE, primitive), (ARRAY, array), (OBJECT, obj)):
        if expected is None:
            continue
        assert _joined(parameters.query_pairs("color", value, style, explode)) == expected
        tool = FakeTool(path="/paint", arg_map={"color": {"in": "query", "name": "color", "style": style,
                                                          "explode": explode}})
        request = build_request(tool, FakeEnv(), {"color": value})
        assert _joined(parse_qsl(urlsplit(request.target.decode()).query)) == expected


def test_deep_object_takes_only_objects_and_form_is_the_default():
    for value in (PRIMITIVE, ARRAY):
        with pytest.raises(parameters.StyleError) as exc:
            parameters.query_pairs("color", value, "deepObject", True)
        assert exc.value.code == "bad_arguments" and "takes an object" in exc.value.message
    assert parameters.style_of({"in": "query"}) == ("form", True)
    assert parameters.style_of({"in": "path"}) == ("simple", False)
    assert parameters.style_of({"in": "header"}) == ("simple", False)
    assert parameters.style_of({"in": "cookie"}) == ("form", True)
    assert parameters.style_of({"in": "query", "explode": False}) == ("form", False)


def test_header_and_cookie_styles():
    assert parameters.header_text(PRIMITIVE, False) == "blue"
    assert parameters.header_text(ARRAY, False) == parameters.header_text(ARRAY, True) == "blue,black,brown"
    assert parameters.header_text(OBJECT, False) == "R,100,G,200,B,150"
    assert parameters.header_text(OBJECT, True) == "R=100,G=200,B=150"
    assert parameters.cookie_pairs("color", PRIMITIVE, "form", True) == [("color", "blue")]
    assert parameters.cookie_pairs("color", ARRAY, "form", False) == [("color", "blue,black,brown")]
    assert parameters.cookie_pairs("color", OBJECT, "form", True) == [("R", "100"), ("G", "200"), ("B", "150")]


def test_a_style_the_location_does_not_have_is_the_tools_fault():
    tool = FakeTool(path="/paint", arg_map={"color": {"in": "query", "name": "color", "style": "matrix"}})
    with pytest.raises(UpstreamError) as exc:
        build_request(tool, FakeEnv(), {"color": "blue"})
    assert exc.value.code == "not_configured" and "style 'matrix'" in exc.value.message


SWAGGER2 = {
    "swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "api.example.com",
    "paths": {"/paint": {"get": {"operationId": "paint", "responses": {"200": {"description": "ok"}}, "parameters": [
        {"name": f, "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": f}
        for f in ("csv", "ssv", "tsv", "pipes", "multi")]}}},
}


def test_swagger2_collection_formats_as_imported():
    import json

    from apps.inventory.toolgen import build_tools

    (tool,) = build_tools(load_document(json.dumps(SWAGGER2).encode(), filename="s.json"))
    request = build_request(FakeTool(path="/paint", arg_map=tool.arg_map), FakeEnv(),
                            {name: ["a", "b"] for name in tool.arg_map})
    assert parse_qsl(urlsplit(request.target.decode()).query) == [
        ("csv", "a,b"), ("ssv", "a b"), ("tsv", "a\tb"), ("pipes", "a|b"), ("multi", "a"), ("multi", "b")]


PAYOUT = FakeTool(method="POST", path="/payouts", body_content_type="application/json", arg_map={
    "filter": {"in": "query", "name": "filter"},
    "limit": {"in": "query", "name": "limit"},
    "prefs": {"in": "cookie", "name": "prefs"},
    "note": {"in": "body", "name": "note"},
})


@pytest.mark.parametrize("arguments", [
    {"filter": {"limit": 5}},            # another parameter's name
    {"filter": {"note": "x"}},           # a body property's name
    {"filter": {"amount": 5000000}},     # the policy's field
    {"prefs": {"amount": 5000000}},      # a cookie exploded the same way
])
def test_a_parameter_cannot_send_a_name_it_does_not_own(arguments):
    with pytest.raises(UpstreamError) as exc:
        serialize(PAYOUT, arguments, owned={"amount"})
    assert exc.value.code == "bad_arguments" and "a name that" in exc.value.message


def test_deep_object_keeps_the_name_its_own():
    tool = FakeTool(method="POST", path="/payouts", arg_map={
        "filter": {"in": "query", "name": "filter", "style": "deepObject", "explode": True}})
    serialized = serialize(tool, {"filter": {"amount": 5000000}}, owned={"amount"})
    assert serialized.query == (("filter[amount]", "5000000"),)
    assert build_request(tool, FakeEnv(), {"filter": {"amount": 5000000}}).target == \
        b"/v1/payouts?filter%5Bamount%5D=5000000"


def test_documents_hold_every_value_the_upstream_reads():
    tool = FakeTool(method="POST", path="/p/{id}", body_content_type="application/json", arg_map={
        "id": {"in": "path", "name": "id"}, "amount": {"in": "query", "name": "amount"},
        "X-Amount": {"in": "header", "name": "X-Amount"}, "body_amount": {"in": "body", "name": "amount"}})
    serialized = serialize(tool, {"id": "7", "amount": ["5", "5000"], "X-Amount": 3, "body_amount": 9})
    documents = serialized.documents({"amount"})
    assert documents[0] == {"id": "7", "amount": "5", "X-Amount": "3"}
    assert [d["amount"] for d in documents] == ["5", "5000", 9]


@pytest.mark.parametrize("value", ["a\x0b\x0cb", "a\r\nX-Evil: 1", "a\x00", "a\x7f", "a\u2028b", "a\u2029",
                                   " lead", "trail\t", "caf\xe9", "\x85"])
def test_header_and_cookie_values_outside_rfc9110_are_refused(value):
    assert not is_field_value(value)
    tool = FakeTool(path="/x", arg_map={"h": {"in": "header", "name": "X-Trace"},
                                        "c": {"in": "cookie", "name": "session"}})
    for argument in ("h", "c"):
        with pytest.raises(UpstreamError) as exc:
            build_request(tool, FakeEnv(), {argument: value})
        assert exc.value.code == "bad_arguments" and exc.value.message.endswith("the call was not made.")


def test_rfc9110_values_pass():
    for value in ("", "a", "a b\tc", "!#$%&'*+-.^_`|~", "x" * 8000):
        assert is_field_value(value)
