"""Issue 18, item 4: kinds of personal data say what they are: an identity card's number is a
government ID, not a payment card number, and the inventory and the report show the kinds
in words ("payment card number", "government ID number")."""

from __future__ import annotations

import json

import pytest

from apps.risk.pii import PiiScanner, kind_label

from .factories import obj


def kinds(schema):
    return {h.path: h.kind for h in PiiScanner().scan_schema(schema, "response")}


def test_an_identity_card_number_is_a_government_id():
    schema = obj(identityCard=obj(number="string", expiryDate="string"), card=obj(number="string"))
    assert kinds(schema) == {"response.identityCard.number": "national_id", "response.card.number": "card_number"}
    assert kinds(obj(idCard=obj(number="string"))) == {"response.idCard.number": "national_id"}
    assert kinds(obj(paymentCard=obj(number="string"))) == {"response.paymentCard.number": "card_number"}


def test_kinds_are_shown_in_words():
    assert kind_label("card_number") == "payment card number"
    assert kind_label("national_id") == "government ID number"
    assert kind_label("email") == "email"
    assert kind_label("home_phone") == "home phone"


SPEC = {
    "openapi": "3.0.3", "info": {"title": "Citizens", "version": "1"},
    "paths": {"/citizens/{id}": {"get": {
        "operationId": "getCitizen",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "identityCard": {"type": "object", "properties": {"number": {"type": "string"}}},
                "card": {"type": "object", "properties": {"number": {"type": "string"}}}}}}}}}}}},
}


@pytest.mark.django_db
def test_the_tool_page_and_the_report_name_the_kind(people, client_for):
    from apps.reports.render import tool_rows
    from apps.reports.snapshot import report_snapshot
    from tests.factories import import_spec, make_project

    project = make_project(people.org, people.owner, name="Citizens")
    assert import_spec(project, "citizens.json", people.owner, data=json.dumps(SPEC).encode()).status == "ready"
    page = client_for(people.viewer).get(f"/o/{people.org.slug}/p/{project.slug}/tools/getCitizen/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "government ID number" in html and "payment card number" in html
    data = report_snapshot(project=project, environment=None, generated_by_label="t").data
    row = next(r for r in tool_rows(data) if r["name"] == "getCitizen")
    assert set(row["pii_shown"]) == {"government ID number", "payment card number"}
