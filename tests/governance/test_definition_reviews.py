"""Definition reviews (issue 17, item 3) in the browser pages, the REST API and the PDF report:
a re-import that changes an enabled tool's definition waits here for an admin; outsiders get
404, roles below admin read-only pages and 403 on writes."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import DomainError
from apps.governance.models import ToolSetting
from apps.governance.services import tool_set_enabled
from tests.factories import import_spec, make_project
from tests.gateway.test_definition_pinning import GET_REFUND, INJECTION, REFUND, V1, V2_BENIGN, V2_POISONED

pytestmark = pytest.mark.django_db


def pending_world(people, spec: str = V2_POISONED):
    """Refunds v1 enabled in production by an admin, then a member's re-import of ``spec``."""
    project = make_project(people.org, people.owner, name="Refunds")
    import_spec(project, "refunds.yaml", people.owner, data=V1.encode())
    production = project.environments.get(slug="production")
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND, GET_REFUND], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    import_spec(project, "refunds.yaml", people.member, data=spec.encode())
    setting = ToolSetting.objects.get(environment=production, operation_key=REFUND)
    return project, production, setting


def events(org, kind):
    return list(AuditEvent.objects.filter(organization=org, event_type=kind).order_by("seq"))


def test_project_page_review_list_and_diff(people, client_for):
    project, production, setting = pending_world(people)
    base = f"/o/{people.org.slug}/p/{project.slug}"
    client = client_for(people.viewer)
    page = client.get(f"{base}/").content.decode()
    assert "1 tool changed since review" in page and f"{base}/governance/reviews/" in page
    listing = client.get(f"{base}/governance/reviews/").content.decode()
    assert "createRefund" in listing and "flagged" in listing and str(setting.public_id) in listing
    review = client.get(f"{base}/governance/reviews/{setting.public_id}/")
    html = review.content.decode()
    assert review.status_code == 200
    # the injected text is shown escaped, side by side with the pinned one, with the scan's findings
    assert "&lt;IMPORTANT&gt;" in html and "<IMPORTANT>" not in html
    assert "Pinned (served now)" in html and "New (this import)" in html
    assert "instruction block" in html and 'data-testid="poisoning-findings"' in html
    assert "metadata" in html  # the schema diff names the free-form object
    # the text the scan quotes is marked in the diff itself
    assert '<mark class="mf-flagged" title="flagged by the poisoning scan">&lt;IMPORTANT&gt;</mark>' in html
    assert 'flagged by the poisoning scan">Ignore all previous instructions</mark>' in html
    assert 'flagged by the poisoning scan">do not tell the user</mark>' in html
    # a viewer sees the review read-only
    assert 'data-testid="accept-form"' not in html and "Read-only" in html
    admin_html = client_for(people.admin).get(f"{base}/governance/reviews/{setting.public_id}/").content.decode()
    assert 'data-testid="accept-form"' in admin_html and 'name="override_reason"' in admin_html


def test_review_page_accept_needs_admin_and_the_override(people, client_for):
    project, production, setting = pending_world(people)
    url = f"/o/{people.org.slug}/p/{project.slug}/governance/reviews/{setting.public_id}/"
    data = {"sha256": setting.pending_hash}
    for role in ("viewer", "member", "reviewer"):
        assert client_for(people.by_role(role)).post(url, data).status_code == 403
    assert client_for(people.outsider).get(url).status_code == 404
    assert client_for(people.outsider).post(url, data).status_code == 404
    admin = client_for(people.admin)
    refused = admin.post(url, data)
    assert refused.status_code == 400 and "needs an explicit override" in refused.content.decode()
    setting.refresh_from_db()
    assert setting.pending_tool_id is not None
    accepted = admin.post(url, {**data, "override_reason": "Checked with the vendor"})
    assert accepted.status_code == 302
    setting.refresh_from_db()
    assert setting.pending_tool_id is None and setting.pinned_definition["description"].endswith(INJECTION)
    assert [e.payload["reason"] for e in events(people.org, "tool.definition_override")] == ["Checked with the vendor"]
    assert len(events(people.org, "tool.definition_accepted")) == 1
    assert len(events(people.org, "tool.definition_refused")) == 1


def test_review_of_another_project_is_404(people, client_for, api_for):
    project, production, setting = pending_world(people)
    other = make_project(people.org, people.owner, name="Other")
    url = f"/o/{people.org.slug}/p/{other.slug}/governance/reviews/{setting.public_id}/"
    assert client_for(people.admin).get(url).status_code == 404
    api = api_for(people.admin)
    base = f"/api/v1/projects/{other.public_id}/definition-reviews/{setting.public_id}"
    assert api.get(f"{base}/").status_code == 404
    assert api.post(f"{base}/accept/", {"sha256": setting.pending_hash, "override_reason": "x"},
                    format="json").status_code == 404
    setting.refresh_from_db()
    assert setting.pending_tool_id is not None


def test_rest_api_lists_and_accepts(people, api_for):
    project, production, setting = pending_world(people, V2_BENIGN)
    base = f"/api/v1/projects/{project.public_id}"
    viewer = api_for(people.viewer)
    listing = viewer.get(f"{base}/definition-reviews/").json()
    assert listing["count"] == 1
    (row,) = listing["results"]
    assert row["id"] == str(setting.public_id) and row["environment"] == "production"
    assert row["operation_key"] == REFUND and row["needs_override"] is False
    assert {"description", "input_schema"} <= set(row["changed"]) and row["pending_sha256"] == setting.pending_hash
    assert viewer.get(f"{base}/environments/production/definition-reviews/").json()["count"] == 1
    assert viewer.get(f"{base}/environments/staging/definition-reviews/").json()["count"] == 0
    assert viewer.get(f"{base}/definition-reviews/?environment=staging").json()["count"] == 0
    assert viewer.get(f"{base}/definition-reviews/?environment=qa").status_code == 400
    detail = viewer.get(f"{base}/definition-reviews/{setting.public_id}/").json()
    assert "note" in detail["new_definition"]["input_schema"]["properties"]
    assert "note" not in detail["pinned_definition"]["input_schema"]["properties"]

    url = f"{base}/definition-reviews/{setting.public_id}/accept/"
    for role in ("viewer", "member", "reviewer"):
        response = api_for(people.by_role(role)).post(url, {"sha256": setting.pending_hash}, format="json")
        assert response.status_code == 403 and "does not allow" in response.json()["detail"]
    response = api_for(people.outsider).post(url, {"sha256": setting.pending_hash}, format="json")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    admin = api_for(people.admin)
    assert admin.post(url, {"sha256": "nope"}, format="json").status_code == 400
    stale = admin.post(url, {"sha256": "a" * 64}, format="json")
    assert stale.status_code == 400 and "changed again" in stale.json()["detail"]
    accepted = admin.post(url, {"sha256": setting.pending_hash}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["pending_sha256"] is None and accepted.json()["pinned_sha256"] == setting.pending_hash
    again = admin.post(url, {"sha256": setting.pending_hash}, format="json")
    assert again.status_code == 400 and "No changed definition" in again.json()["detail"]
    assert viewer.get(f"{base}/definition-reviews/").json()["count"] == 0
    (accepted_event,) = events(people.org, "tool.definition_accepted")
    assert accepted_event.actor_label == people.admin.email and accepted_event.payload["override"] is False
    assert [e.payload["action"] for e in events(people.org, "tool.definition_refused")] == ["accept", "accept"]


def test_rest_api_accept_of_a_flagged_definition_needs_the_override(people, api_for):
    project, production, setting = pending_world(people)
    url = f"/api/v1/projects/{project.public_id}/definition-reviews/{setting.public_id}/accept/"
    admin = api_for(people.admin)
    refused = admin.post(url, {"sha256": setting.pending_hash}, format="json")
    assert refused.status_code == 400
    assert refused.json()["field"] == "override_reason" and "poisoning scan" in refused.json()["detail"]
    ok = admin.post(url, {"sha256": setting.pending_hash, "override_reason": "ticket 42"}, format="json")
    assert ok.status_code == 200 and ok.json()["needs_override"] is False


def test_outsider_404_on_the_review_list_endpoints(people, client_for, api_for):
    project, production, setting = pending_world(people)
    api = api_for(people.outsider)
    for url in (f"/api/v1/projects/{project.public_id}/definition-reviews/",
                f"/api/v1/projects/{project.public_id}/environments/production/definition-reviews/",
                f"/api/v1/projects/{project.public_id}/definition-reviews/{setting.public_id}/"):
        assert api.get(url).status_code == 404, url
    assert client_for(people.outsider).get(f"/o/{people.org.slug}/p/{project.slug}/governance/reviews/"
                                           ).status_code == 404


def test_openapi_schema_documents_the_review_endpoints(people, client_for):
    schema = client_for(people.viewer).get("/api/v1/schema/").content.decode()
    assert "/api/v1/projects/{id}/definition-reviews/{review_id}/accept/" in schema
    assert "/api/v1/projects/{id}/environments/{env}/definition-reviews/" in schema
    assert "override_reason" in schema


def test_rename_keeps_the_pinned_hash_in_step(people):
    from apps.inventory.definitions import definition_hash, definition_of
    from apps.inventory.selectors import tool_by_name
    from apps.inventory.services import tool_rename

    project = make_project(people.org, people.owner, name="Refunds")
    import_spec(project, "refunds.yaml", people.owner, data=V1.encode())
    production = project.environments.get(slug="production")
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    tool_rename(tool=tool_by_name(project, "createRefund"), new_name="refund_payment", actor=people.admin)
    setting = ToolSetting.objects.get(environment=production, operation_key=REFUND)
    assert setting.pinned_definition["name"] == "refund_payment"
    assert setting.pinned_hash == definition_hash(definition_of(tool_by_name(project, "refund_payment")))
    import_spec(project, "refunds.yaml", people.owner, data=V1.encode())  # the rename survives: nothing to review
    setting.refresh_from_db()
    assert setting.pending_tool_id is None


def test_first_enable_of_a_flagged_tool_through_the_page_and_the_api(people, client_for, api_for):
    project = make_project(people.org, people.owner, name="Poisoned")
    import_spec(project, "refunds.yaml", people.owner, data=V2_POISONED.encode())
    base = f"/o/{people.org.slug}/p/{project.slug}/governance"
    admin = client_for(people.admin)
    matrix = admin.get(f"{base}/permissions/").content.decode()
    assert 'hx-prompt="The poisoning scan flags createRefund' in matrix and 'data-testid="flagged"' in matrix
    toggle = {"operation_key": REFUND, "environment": "staging", "enabled": "true"}
    refused = admin.post(f"{base}/permissions/toggle/", toggle, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "needs an explicit override" in refused.content.decode()
    assert not ToolSetting.objects.filter(project=project, enabled=True, by_default=False).exists()
    ok = admin.post(f"{base}/permissions/toggle/", toggle, HTTP_HX_REQUEST="true", HTTP_HX_PROMPT="seen by sec")
    assert ok.status_code == 200 and 'data-enabled="true"' in ok.content.decode()
    api = api_for(people.admin)
    url = f"/api/v1/projects/{project.public_id}/environments/production/tools/"
    body = {"tools": [{"operation_key": REFUND, "enabled": True}]}
    refused = api.put(url, body, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "override_reason"
    assert api.put(url, {**body, "override_reason": "seen by sec"}, format="json").status_code == 200
    assert [(e.payload["environment"], e.payload["reason"]) for e in events(people.org, "tool.definition_override")
            ] == [("staging", "seen by sec"), ("production", "seen by sec")]
    assert len(events(people.org, "tool.definition_refused")) == 2


def test_data_migration_pins_existing_enabled_tools_to_their_current_definition(people):
    import importlib

    from django.apps import apps

    from apps.inventory.definitions import definition_hash, definition_of
    from apps.inventory.selectors import tool_by_name

    migration = importlib.import_module("apps.governance.migrations.0004_pin_enabled_tools")
    project = make_project(people.org, people.owner, name="Refunds")
    import_spec(project, "refunds.yaml", people.owner, data=V1.encode())
    production = project.environments.get(slug="production")
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND, GET_REFUND], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    tool_set_enabled(project=project, environment=production, operation_keys=[GET_REFUND], enabled=False,
                     actor=people.admin)
    # as the rows were before the schema migration: switches without pins
    ToolSetting.objects.update(pinned_tool=None, pinned_definition=None, pinned_hash="", pinned_at=None,
                               pinned_by_label="")
    migration.pin_enabled(apps, None)
    enabled = ToolSetting.objects.get(environment=production, operation_key=REFUND)
    tool = tool_by_name(project, "createRefund")
    assert enabled.pinned_tool_id == tool.pk and enabled.pinned_definition == definition_of(tool)
    assert enabled.pinned_hash == definition_hash(definition_of(tool)) and enabled.pinned_by_label == "admin@acme.test"
    assert ToolSetting.objects.get(environment=production, operation_key=GET_REFUND).pinned_tool_id is None  # off


def test_data_migration_pins_default_on_tools_of_current_versions(people):
    """0005: an existing project's tools on by the risk default (getRefund in development) get a
    ``by_default`` pin; admin switches and default-off tools get none."""
    import importlib

    from django.apps import apps

    from apps.inventory.definitions import definition_hash, definition_of
    from apps.inventory.selectors import tool_by_name

    migration = importlib.import_module("apps.governance.migrations.0005_toolsetting_by_default")
    project = make_project(people.org, people.owner, name="Refunds")
    import_spec(project, "refunds.yaml", people.owner, data=V1.encode())
    production = project.environments.get(slug="production")
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    ToolSetting.objects.filter(by_default=True).delete()  # as before 0005: no default pins
    migration.pin_default_on(apps, None)
    (pin,) = ToolSetting.objects.filter(project=project, by_default=True)
    tool = tool_by_name(project, "getRefund")
    assert pin.environment.slug == "development" and pin.operation_key == GET_REFUND and pin.enabled
    assert pin.pinned_tool_id == tool.pk and pin.pinned_hash == definition_hash(definition_of(tool))
    assert ToolSetting.objects.filter(project=project).count() == 2  # the admin's switch is untouched
    migration.pin_default_on(apps, None)  # idempotent
    assert ToolSetting.objects.filter(project=project).count() == 2


def test_switching_an_enabled_tool_on_again_accepts_nothing(people):
    from apps.gateway import snapshot
    from apps.governance.selectors import stale_pins

    project, production, setting = pending_world(people)
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND], enabled=True,
                     actor=people.admin, override_reason="trying to sneak it through", reason="confirmed in test")
    again = ToolSetting.objects.get(pk=setting.pk)
    assert again.pending_tool_id == setting.pending_tool_id and again.pinned_hash == setting.pinned_hash
    assert not events(people.org, "tool.definition_override")
    served = snapshot.served_listing(stale_pins(project.pk)[str(production.pk)],
                                     [setting.pending_tool])
    assert served == [again.pinned_tool] and "IMPORTANT" not in served[0].description


def test_off_and_on_again_is_a_fresh_enable_that_needs_the_override(people):
    project, production, setting = pending_world(people)
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND], enabled=False,
                     actor=people.admin)
    with pytest.raises(DomainError, match="override"):
        tool_set_enabled(project=project, environment=production, operation_keys=[REFUND], enabled=True,
                         actor=people.admin, reason="confirmed in test")
    assert ToolSetting.objects.get(pk=setting.pk).enabled is False
    tool_set_enabled(project=project, environment=production, operation_keys=[REFUND], enabled=True,
                     actor=people.admin, override_reason="re-reviewed", reason="confirmed in test")
    fresh = ToolSetting.objects.get(pk=setting.pk)
    assert fresh.pinned_tool_id == setting.pending_tool_id and fresh.pending_tool_id is None


def test_a_pin_whose_row_is_gone_serves_nothing(people):
    """Fail closed: an enabled switch whose pinned row disappeared (its spec version deleted)
    is not served, rather than falling back to the current definition."""
    from apps.gateway import snapshot
    from apps.governance.selectors import stale_pins

    project, production, setting = pending_world(people)
    ToolSetting.objects.filter(pk=setting.pk).update(pinned_tool=None)
    pins = stale_pins(project.pk)[str(production.pk)]
    assert pins == {REFUND: None}
    assert snapshot.served_listing(pins, [setting.pending_tool]) == []
    assert snapshot.served_tool(pins, "createRefund", setting.pending_tool) is None


def test_accept_without_the_reviewed_hash_is_refused(people, client_for):
    project, production, setting = pending_world(people, V2_BENIGN)
    url = f"/o/{people.org.slug}/p/{project.slug}/governance/reviews/{setting.public_id}/"
    refused = client_for(people.admin).post(url, {})
    assert refused.status_code == 400 and "Name the definition you reviewed" in refused.content.decode()
    assert ToolSetting.objects.get(pk=setting.pk).pending_tool_id is not None
    assert [e.payload["action"] for e in events(people.org, "tool.definition_refused")] == ["accept"]


def test_marking_flagged_text_never_touches_markup():
    import difflib

    from apps.governance.selectors import _mark_flagged

    table = difflib.HtmlDiff().make_table(["ok"], ['<span class="x"> td diff_add & <script>'])
    marked = _mark_flagged(table, ["description: odd ('span')", "x ('diff_add')", "y ('<script>')"])
    assert marked.count("<table") == 1 and "<script>" not in marked
    assert '<mark class="mf-flagged" title="flagged by the poisoning scan">&lt;script&gt;</mark>' in marked
    assert 'class="diff_add"' in marked  # the tag's own class is untouched
    assert ">diff_add</mark>" in marked  # the text is marked
