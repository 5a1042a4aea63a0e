"""REST API of the risk app: live findings and score, and classification overrides."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.inventory.selectors import tool_by_name
from apps.risk.models import RiskOverride
from tests.factories import import_spec, make_project


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner)
    assert import_spec(project, "petstore-v3.yaml", people.owner).status == "ready"
    return project


def _url(project, what):
    return f"/api/v1/projects/{project.public_id}/{what}/"


def test_findings_list_with_filters(people, petstore, api_for):
    api = api_for(people.viewer)
    body = api.get(_url(petstore, "findings")).json()
    assert body["spec_version"] == 1 and 0 <= body["score"] <= 100
    assert body["count"] == len(body["findings"]) > 3
    first = body["findings"][0]
    assert set(first) == {"code", "severity", "category", "message", "tools", "remediation", "points"}
    order = ["critical", "high", "medium", "low", "info"]
    assert [order.index(f["severity"]) for f in body["findings"]] == sorted(
        order.index(f["severity"]) for f in body["findings"])
    assert sum({f["code"]: f["points"] for f in body["findings"]}.values()) > 0

    high = api.get(_url(petstore, "findings"), {"severity": "high"}).json()
    assert high["count"] >= 1 and {f["severity"] for f in high["findings"]} == {"high"}
    quality = api.get(_url(petstore, "findings"), {"category": "quality"}).json()
    assert {f["category"] for f in quality["findings"]} == {"quality"}


def test_score_lists_every_deduction(people, petstore, api_for):
    body = api_for(people.viewer).get(_url(petstore, "score")).json()
    assert set(body) == {"spec_version", "score", "security_score", "data_validation_score", "deductions",
                         "formula", "counts"}
    assert round(body["security_score"] + body["data_validation_score"]) == body["score"]
    assert round(100 - sum(d["points"] for d in body["deductions"])) <= body["score"] + 1
    assert "How the Security Score is computed" in body["formula"]
    assert sum(body["counts"].values()) == len(api_for(people.viewer).get(_url(petstore, "findings")).json()[
        "findings"])


def test_findings_and_score_before_any_spec_are_404_with_a_reason(people, api_for):
    project = make_project(people.org, people.owner, name="Empty")
    for what in ("findings", "score"):
        response = api_for(people.viewer).get(_url(project, what))
        assert response.status_code == 404
        assert "no analysed spec" in response.json()["detail"]


@pytest.mark.parametrize("what", ["findings", "score"])
def test_outsiders_get_404_on_reads(people, petstore, api_for, what):
    response = api_for(people.outsider).get(_url(petstore, what))
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_outsiders_get_404_on_overrides(people, petstore, api_for):
    api = api_for(people.outsider)
    url = _url(petstore, "tools/deletePet/override")
    assert api.post(url, {"category": "side_effect", "justification": "x"}, format="json").status_code == 404
    assert api.delete(url).status_code == 404
    assert not RiskOverride.objects.exists()


def test_unauthenticated_is_refused(petstore, client):
    for what in ("findings", "score"):
        assert client.get(_url(petstore, what)).status_code in (401, 403)


def test_unknown_project_is_404(people, api_for):
    assert api_for(people.viewer).get("/api/v1/projects/not-a-uuid/score/").status_code == 404
    assert api_for(people.viewer).get(
        "/api/v1/projects/00000000-0000-0000-0000-000000000000/findings/").status_code == 404


def test_admin_creates_changes_and_removes_an_override(people, petstore, api_for, audit_types):
    api = api_for(people.admin)
    url = _url(petstore, "tools/deletePet/override")
    created = api.post(url, {"category": "side_effect", "risk_level": "medium",
                             "justification": "Soft delete, restorable."}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["override"]["category"] == "side_effect" and body["override"]["by"] == "admin@acme.test"
    assert body["tool"]["category"] == "side_effect" and body["tool"]["risk_level"] == "medium"
    assert body["tool"]["reasons"][0] == "Overridden by admin@acme.test: Soft delete, restorable."
    # the inventory API shows it too
    tool = api.get(_url(petstore, "tools/deletePet")).json()
    assert tool["category"] == "side_effect" and tool["reasons"][0].startswith("Overridden by admin@acme.test")

    changed = api.post(url, {"risk_level": "high", "justification": "Still destructive upstream."}, format="json")
    assert changed.status_code == 200
    assert changed.json()["tool"]["category"] == "critical"  # category back to the classifier's

    assert api.delete(url).status_code == 204
    assert tool_by_name(petstore, "deletePet").reasons[0] != "Overridden by admin@acme.test: Soft delete, restorable."
    missing = api.delete(url)
    assert missing.status_code == 404 and "no classification override" in missing.json()["detail"]
    assert audit_types(people.org)[-3:] == ["risk.overridden", "risk.overridden", "risk.override_removed"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"category": "side_effect"}, "justification"),
        ({"category": "side_effect", "justification": "  "}, "justification"),
        ({"justification": "why"}, "category"),
        ({"category": "nope", "justification": "why"}, "category"),
        ({"category": "critical", "risk_level": "low", "justification": "why"}, "risk_level"),
    ],
)
def test_bad_override_is_400_with_detail(people, petstore, api_for, payload, field):
    response = api_for(people.admin).post(_url(petstore, "tools/deletePet/override"), payload, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] and response.json()["field"] == field
    assert not RiskOverride.objects.exists()


@pytest.mark.parametrize("role", ["member", "reviewer", "viewer"])
def test_override_needs_an_admin(people, petstore, api_for, role):
    api = api_for(people.by_role(role))
    url = _url(petstore, "tools/deletePet/override")
    response = api.post(url, {"category": "side_effect", "justification": "x"}, format="json")
    assert response.status_code == 403 and "does not allow" in response.json()["detail"]
    assert api.delete(url).status_code == 403
    assert not RiskOverride.objects.exists()


def test_override_of_unknown_tool_is_404(people, petstore, api_for):
    response = api_for(people.admin).post(_url(petstore, "tools/nope/override"),
                                          {"category": "side_effect", "justification": "x"}, format="json")
    assert response.status_code == 404
