"""PII detection in request and response schemas."""

from __future__ import annotations

import pytest

from apps.risk.pii import PiiScanner, field_pii_kind, find_pii

from .factories import make_tool, obj


@pytest.mark.parametrize(
    "name,schema,kind",
    [
        ("email", {"type": "string"}, "email"),
        ("shopperEmail", {"type": "string"}, "email"),
        ("emailAddress", {"type": "string"}, "email"),
        ("contact", {"type": "string", "format": "email"}, "email"),
        ("notify_target", {"type": "string", "format": "email"}, "email"),  # the declared format wins
        ("phone", {"type": "string"}, "phone"),
        ("telephoneNumber", {"type": "string"}, "phone"),
        ("To", {"type": "string", "format": "phone-number"}, "phone"),  # Twilio
        ("first_name", {"type": "string"}, "name"),
        ("lastName", {"type": "string"}, "name"),
        ("full_name", {"type": "string"}, "name"),
        ("holderName", {"type": "string"}, "name"),
        ("customer_name", {"type": "string"}, "name"),
        ("username", {"type": "string"}, "username"),
        ("billingAddress", {"type": "object"}, "address"),
        ("street", {"type": "string"}, "address"),
        ("postal_code", {"type": "string"}, "address"),
        ("dateOfBirth", {"type": "string", "format": "date"}, "date_of_birth"),
        ("birth_date", {"type": "string"}, "date_of_birth"),
        ("ssn", {"type": "string"}, "national_id"),
        ("socialSecurityNumber", {"type": "string"}, "national_id"),
        ("passport_number", {"type": "string"}, "passport"),
        ("taxId", {"type": "string"}, "tax_id"),
        ("iban", {"type": "string"}, "bank_account"),
        ("bank_account_number", {"type": "string"}, "bank_account"),
        ("cardNumber", {"type": "string"}, "card_number"),
        ("encryptedCardNumber", {"type": "string"}, "card_number"),
        ("cvc", {"type": "string"}, "card_cvc"),
        ("ip_address", {"type": "string"}, "ip_address"),
        ("shopperIP", {"type": "string"}, "ip_address"),
        ("client", {"type": "string", "format": "ipv4"}, "ip_address"),
        ("gender", {"type": "string", "enum": ["f", "m", "x"]}, "gender"),
        ("password", {"type": "string"}, "credential"),
        ("access_token", {"type": "string"}, "credential"),
    ],
)
def test_personal_field_names(name, schema, kind):
    assert field_pii_kind(name, schema) == kind


@pytest.mark.parametrize(
    "name,schema",
    [
        ("email_template_id", {"type": "string"}),
        ("emailEnabled", {"type": "boolean"}),
        ("email_verified", {"type": "string"}),
        ("isEmailVerified", {"type": "boolean"}),
        ("sendEmail", {"type": "string"}),
        ("hostname", {"type": "string"}),
        ("file_name", {"type": "string"}),
        ("filename", {"type": "string"}),
        ("display_name_template", {"type": "string"}),
        ("friendly_name", {"type": "string"}),
        ("phone_number_sid", {"type": "string"}),
        ("address_requirements", {"type": "string", "enum": ["none", "any"]}),
        ("mac_address", {"type": "string"}),
        ("IpAccessControlListSid", {"type": "string"}),
        ("passwordChangeDate", {"type": "string"}),
        ("emailSubject", {"type": "string"}),
        ("country", {"type": "string"}),
        ("name", {"type": "string"}),  # bare name outside a person object
        ("fax_url", {"type": "string"}),
        ("", {"type": "string"}),
    ],
)
def test_configuration_fields_are_not_pii(name, schema):
    assert field_pii_kind(name, schema) is None


def test_bare_name_is_pii_only_in_a_person_object():
    assert field_pii_kind("name", {"type": "string"}, person=True) == "name"
    assert field_pii_kind("display_name", {"type": "string"}, person=True) == "name"
    assert field_pii_kind("login", {"type": "string"}, person=True) == "username"
    assert field_pii_kind("name", {"type": "string"}, person=False) is None


def test_person_context_from_title_and_property_name():
    user = {"title": "User (Mini)", "type": "object", "properties": {"name": {"type": "string"}}}
    pet = {"title": "Pet", "type": "object", "properties": {"name": {"type": "string"}}}
    schema = obj(owner=pet, created_by={"type": "object", "properties": {"name": {"type": "string"}}}, user=user)
    hits = PiiScanner().scan_schema(schema, "response")
    paths = {h.path for h in hits}
    assert paths == {"response.created_by.name", "response.user.name", "response.owner.name"}


def test_pet_name_is_not_pii():
    pet = {"title": "Pet", "type": "object", "properties": {"name": {"type": "string"}, "tag": {"type": "string"}}}
    assert PiiScanner().scan_schema(pet, "response") == []


def test_card_number_inside_a_card_object():
    schema = obj(card=obj(number="string", expiryMonth="string", holderName="string"))
    kinds = {h.path: h.kind for h in PiiScanner().scan_schema(schema, "request")}
    assert kinds == {"request.card.number": "card_number", "request.card.holderName": "name"}
    assert PiiScanner().scan_schema(obj(number="string"), "request") == []


def test_arrays_and_nested_objects_get_readable_paths():
    schema = obj(entries={"type": "array", "items": obj(created_by=obj(email="string"))})
    hits = PiiScanner().scan_schema(schema, "response")
    assert [h.path for h in hits] == ["response.entries[].created_by.email"]


def test_address_object_reported_once():
    schema = obj(billingAddress=obj(street="string", postalCode="string", city="string"))
    hits = PiiScanner().scan_schema(schema, "request")
    assert [(h.path, h.kind) for h in hits] == [("request.billingAddress", "address")]


def test_defs_refs_and_cycles_are_followed_safely():
    schema = {
        "$defs": {
            "Person": {
                "type": "object",
                "properties": {
                    "email": {"type": "string"},
                    "manager": {"$ref": "#/$defs/Person"},
                    "reports": {"type": "array", "items": {"$ref": "#/$defs/Person"}},
                },
            }
        },
        "$ref": "#/$defs/Person",
    }
    hits = PiiScanner().scan_schema(schema, "response")
    assert ("response.email", "email") in {(h.path, h.kind) for h in hits}


def test_self_referencing_dict_does_not_loop():
    node: dict = {"type": "object", "properties": {"email": {"type": "string"}}}
    node["properties"]["child"] = node
    hits = PiiScanner().scan_schema(node, "response")
    assert hits[0].path == "response.email"


def test_depth_is_capped():
    leaf: dict = obj(email="string")
    for _ in range(30):
        leaf = obj(nested=leaf)
    assert PiiScanner().scan_schema(leaf, "response") == []
    assert PiiScanner(max_depth=40).scan_schema(leaf, "response")[0].kind == "email"


def test_component_refs_resolved_with_the_document():
    document = {"components": {"schemas": {"Customer": obj(email="string")}}}
    schema = {"$ref": "#/components/schemas/Customer"}
    assert PiiScanner(document=document).scan_schema(schema, "response")[0].path == "response.email"
    assert PiiScanner().scan_schema(schema, "response") == []


def test_malformed_schemas_are_ignored():
    weird = {"properties": ["email"], "items": 3, "allOf": "x", "type": 7, "$ref": 5}
    assert PiiScanner().scan_schema(weird, "response") == []
    assert PiiScanner().scan_schema(None, "response") == []


def test_find_pii_on_a_tool_splits_request_and_response():
    tool = make_tool(
        "POST",
        "/customers",
        body=obj(email="string", note="string"),
        responses={
            "201": {"description": "created", "schema": obj(id="string", phone="string")},
            "400": {"description": "bad", "schema": obj(email="string")},  # errors are not scanned
        },
    )
    assert find_pii(tool) == [
        {"path": "request.email", "kind": "email", "where": "request"},
        {"path": "response.phone", "kind": "phone", "where": "response"},
    ]


def test_output_schema_used_when_responses_have_none():
    tool = make_tool("GET", "/me", responses={"200": {"description": "ok", "schema": None}})
    tool.output_schema = obj(email="string")
    assert find_pii(tool)[0]["path"] == "response.email"
