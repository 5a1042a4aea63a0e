"""Admin overrides of the classification: audited, shown, applied at once, kept on re-import."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.errors import DomainError
from apps.inventory.models import Tool
from apps.inventory.selectors import current_tools, tool_by_name
from apps.risk import services
from apps.risk.models import RiskOverride
from tests.factories import import_spec, make_project

JUSTIFICATION = "Soft delete: pets are archived and can be restored for 30 days."


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner)
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    assert version.status == "ready"
    return project


def _override_delete_pet(project, actor):
    return services.risk_override_set(
        tool=tool_by_name(project, "deletePet"),
        actor=actor,
        category="side_effect",
        risk_level="medium",
        justification=JUSTIFICATION,
    )


def test_override_rewrites_the_current_row_and_is_audited(people, petstore, audit_types):
    before = tool_by_name(petstore, "deletePet")
    assert (before.category, before.risk_level) == ("critical", "high")

    override = _override_delete_pet(petstore, people.admin)

    tool = tool_by_name(petstore, "deletePet")
    assert (tool.category, tool.risk_level, tool.side_effect) == ("side_effect", "medium", True)
    assert 25 <= tool.risk_score <= 49  # moved into the medium band
    assert tool.category_tags == []
    assert tool.annotations["destructiveHint"] is False and tool.annotations["readOnlyHint"] is False
    assert tool.reasons[0] == f"Overridden by admin@acme.test: {JUSTIFICATION}"
    assert tool.reasons[1].startswith("Classifier verdict: critical") and "high risk" in tool.reasons[1]
    assert (override.actor, override.actor_label) == (people.admin, "admin@acme.test")
    assert audit_types(people.org)[-1] == "risk.overridden"
    event = AuditEvent.objects.filter(organization=people.org, event_type="risk.overridden").get()
    assert event.payload["after"]["category"] == "side_effect"
    assert event.payload["before"] is None
    assert event.payload["classifier"].startswith("critical")
    assert event.actor == people.admin


def test_changing_an_override_keeps_one_row_and_audits_before_and_after(people, petstore):
    _override_delete_pet(petstore, people.admin)
    services.risk_override_set(
        tool=tool_by_name(petstore, "deletePet"), actor=people.owner, risk_level="low", justification="Sandbox only."
    )
    assert RiskOverride.objects.filter(project=petstore).count() == 1
    tool = tool_by_name(petstore, "deletePet")
    # category back to the classifier's (critical), so "low" is raised: a critical tool is never low risk
    assert tool.category == "critical"
    assert tool.risk_level == "medium"
    assert any("never low risk" in r for r in tool.reasons)
    assert tool.reasons[1].startswith("Classifier verdict: critical")  # not the previous override's values
    event = AuditEvent.objects.filter(organization=people.org, event_type="risk.overridden").order_by("-seq")[0]
    assert event.payload["before"]["category"] == "side_effect"
    assert event.payload["after"] == {
        "category": "",
        "risk_level": "low",
        "justification": "Sandbox only.",
        "by": "owner@acme.test",
    }


def test_override_survives_reimport(people, petstore):
    _override_delete_pet(petstore, people.admin)
    second = import_spec(petstore, "petstore-v3.yaml", people.owner)
    assert second.status == "ready" and second.number == 2
    tool = Tool.objects.get(spec_version=second, name="deletePet")
    assert (tool.category, tool.risk_level) == ("side_effect", "medium")
    assert tool.reasons[0] == f"Overridden by admin@acme.test: {JUSTIFICATION}"
    # the other tools keep the classifier's verdict
    assert Tool.objects.get(spec_version=second, name="deleteUser").category == "administrative"


def test_apply_overrides_rewrites_unsaved_rows_in_place(people, petstore):
    _override_delete_pet(petstore, people.admin)
    rows = [
        Tool(name="deletePet", operation_key="DELETE /pet/{petId}", category="critical", risk_level="high",
             risk_score=70, side_effect=True, category_tags=["billing"], reasons=["DELETE method"],
             annotations={"readOnlyHint": False, "destructiveHint": True}),
        Tool(name="getPetById", operation_key="GET /pet/{petId}", category="read_only", risk_level="low",
             risk_score=5, reasons=["GET method"], annotations={"readOnlyHint": True}),
    ]
    services.apply_overrides(project=petstore, tools=rows)
    assert (rows[0].category, rows[0].risk_level, rows[0].risk_score) == ("side_effect", "medium", 49)
    assert rows[0].reasons == [
        f"Overridden by admin@acme.test: {JUSTIFICATION}",
        "Classifier verdict: critical (+billing), high risk (70)",
        "DELETE method",
    ]
    assert rows[0].annotations["destructiveHint"] is False
    assert (rows[1].category, rows[1].reasons) == ("read_only", ["GET method"])  # untouched
    services.apply_overrides(project=petstore, tools=rows)  # idempotent
    assert len([r for r in rows[0].reasons if r.startswith("Overridden by")]) == 1


def test_override_to_read_only_sets_the_read_only_hint(people, petstore):
    services.risk_override_set(
        tool=tool_by_name(petstore, "addPet"), actor=people.admin, category="read_only",
        justification="Our upstream treats this as a dry run.",
    )
    tool = tool_by_name(petstore, "addPet")
    assert (tool.side_effect, tool.annotations["readOnlyHint"], tool.annotations["idempotentHint"]) == (
        False, True, True)
    assert tool.mcp_definition()["annotations"]["readOnlyHint"] is True  # what agents see in tools/list


def test_remove_restores_the_classifier_verdict_and_is_audited(people, petstore, audit_types):
    original = tool_by_name(petstore, "deletePet")
    snapshot = (original.category, original.risk_level, original.risk_score, original.reasons, original.annotations)
    _override_delete_pet(petstore, people.admin)
    services.risk_override_remove(tool=tool_by_name(petstore, "deletePet"), actor=people.owner)
    tool = tool_by_name(petstore, "deletePet")
    assert (tool.category, tool.risk_level, tool.risk_score, tool.reasons, tool.annotations) == snapshot
    assert not RiskOverride.objects.filter(project=petstore).exists()
    assert audit_types(people.org)[-2:] == ["risk.overridden", "risk.override_removed"]
    with pytest.raises(services.NoOverride):
        services.risk_override_remove(tool=tool, actor=people.owner)


def test_removed_override_is_not_applied_on_reimport(people, petstore):
    _override_delete_pet(petstore, people.admin)
    services.risk_override_remove(tool=tool_by_name(petstore, "deletePet"), actor=people.admin)
    second = import_spec(petstore, "petstore-v3.yaml", people.owner)
    assert Tool.objects.get(spec_version=second, name="deletePet").category == "critical"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"category": "side_effect", "justification": "   "}, "justification"),
        ({"justification": "nothing chosen"}, "category"),
        ({"category": "dangerous", "justification": "x"}, "category"),
        ({"risk_level": "extreme", "justification": "x"}, "risk_level"),
        ({"category": "billing", "risk_level": "low", "justification": "x"}, "risk_level"),
        ({"category": "side_effect", "justification": "x" * 2001}, "justification"),
    ],
)
def test_bad_overrides_are_refused_with_the_field(people, petstore, kwargs, field):
    with pytest.raises(DomainError) as exc:
        services.risk_override_set(tool=tool_by_name(petstore, "deletePet"), actor=people.admin, **kwargs)
    assert exc.value.field == field
    assert not RiskOverride.objects.exists()
    assert tool_by_name(petstore, "deletePet").category == "critical"


# --------------------------------------------------------------------------- HTML


def _urls(org, project, name="deletePet"):
    return (
        reverse("risk:override_set", args=[org.slug, project.slug, name]),
        reverse("risk:override_remove", args=[org.slug, project.slug, name]),
        reverse("inventory:detail", args=[org.slug, project.slug, name]),
    )


def test_admin_overrides_from_the_tool_page_and_sees_who_and_why(people, petstore, client_for):
    set_url, remove_url, page_url = _urls(people.org, petstore)
    admin = client_for(people.admin)
    page = admin.get(page_url).content.decode()
    assert 'data-testid="override-form"' in page and 'data-testid="overridden-badge"' not in page

    response = admin.post(set_url, {"category": "side_effect", "risk_level": "medium", "justification": JUSTIFICATION})
    assert response.status_code == 302 and response["Location"] == page_url
    page = admin.get(page_url).content.decode()
    assert 'data-testid="overridden-badge"' in page
    assert "Pets are archived" not in page and "pets are archived" in page
    assert "by admin@acme.test" in page
    assert "Overridden by admin@acme.test" in page  # first line of "Why this classification"

    # a viewer sees the override but not the form
    viewer_page = client_for(people.viewer).get(page_url).content.decode()
    assert 'data-testid="overridden-badge"' in viewer_page and 'data-testid="override-form"' not in viewer_page

    response = admin.post(remove_url)
    assert response.status_code == 302
    page = admin.get(page_url).content.decode()
    assert 'data-testid="overridden-badge"' not in page


def test_missing_justification_is_explained_on_the_page(people, petstore, client_for):
    set_url, _, page_url = _urls(people.org, petstore)
    admin = client_for(people.admin)
    response = admin.post(set_url, {"category": "side_effect", "justification": ""}, follow=True)
    assert response.status_code == 200
    assert "A justification is required" in response.content.decode()
    assert not RiskOverride.objects.exists()


@pytest.mark.parametrize("role", ["member", "reviewer", "viewer"])
def test_override_pages_refuse_weak_roles(people, petstore, client_for, role):
    set_url, remove_url, _ = _urls(people.org, petstore)
    client = client_for(people.by_role(role))
    assert client.post(set_url, {"category": "side_effect", "justification": "x"}).status_code == 403
    assert client.post(remove_url).status_code == 403
    assert not RiskOverride.objects.exists()


def test_override_pages_hide_the_project_from_outsiders(people, petstore, client_for):
    set_url, remove_url, _ = _urls(people.org, petstore)
    outsider = client_for(people.outsider)
    assert outsider.post(set_url, {"category": "side_effect", "justification": "x"}).status_code == 404
    assert outsider.post(remove_url).status_code == 404


def test_override_of_an_unknown_tool_is_404(people, petstore, client_for):
    set_url, _, _ = _urls(people.org, petstore, name="noSuchTool")
    assert client_for(people.admin).post(set_url, {"category": "side_effect", "justification": "x"}).status_code == 404


def test_override_get_is_not_allowed(people, petstore, client_for):
    set_url, _, _ = _urls(people.org, petstore)
    assert client_for(people.admin).get(set_url).status_code == 405


def test_current_tools_unchanged_count(people, petstore):
    # an override never adds or removes tools
    count = current_tools(petstore).count()
    _override_delete_pet(petstore, people.admin)
    assert current_tools(petstore).count() == count


def test_overridden_filter_for_inventory_tables(people, petstore):
    from apps.risk.templatetags.risk_tags import overridden

    assert overridden(tool_by_name(petstore, "deletePet")) is False
    _override_delete_pet(petstore, people.admin)
    assert overridden(tool_by_name(petstore, "deletePet")) is True
    assert overridden(tool_by_name(petstore, "addPet")) is False
