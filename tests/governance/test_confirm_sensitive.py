"""Issue 18, item 8: enabling a critical, administrative or billing tool outside development
asks for confirmation and a reason, recorded in the audit event (page and REST). Refused
without a reason: nothing written."""

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import DomainError
from apps.governance import selectors, services
from apps.governance.models import ToolSetting
from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    return project


def enabled_events(org):
    return list(AuditEvent.objects.filter(organization=org, event_type="tool.enabled").order_by("seq"))


def test_service_refuses_without_a_reason_and_records_it(people, petstore):
    production = petstore.environments.get(slug="production")
    for reason in ("", "   "):
        with pytest.raises(DomainError) as exc:
            services.tool_set_enabled(project=petstore, environment=production, enabled=True, actor=people.admin,
                                      operation_keys=["DELETE /pet/{petId}"], reason=reason)
        assert exc.value.field == "reason" and "deletePet" in exc.value.message
    with pytest.raises(DomainError):
        services.tool_bulk_set(project=petstore, environment=production, enabled=True, actor=people.admin,
                               category="administrative")
    with pytest.raises(DomainError):  # too long
        services.tool_set_enabled(project=petstore, environment=production, enabled=True, actor=people.admin,
                                  operation_keys=["DELETE /pet/{petId}"], reason="x" * 501)
    assert not ToolSetting.objects.filter(project=petstore, by_default=False).exists()
    assert enabled_events(people.org) == []
    # development, a read-only tool, or disabling: no reason needed
    development = petstore.environments.get(slug="development")
    services.tool_set_enabled(project=petstore, environment=development, enabled=True, actor=people.admin,
                              operation_keys=["DELETE /pet/{petId}"])
    services.tool_set_enabled(project=petstore, environment=production, enabled=True, actor=people.admin,
                              operation_keys=["GET /pet/{petId}"])
    services.tool_set_enabled(project=petstore, environment=production, enabled=True, actor=people.admin,
                              operation_keys=["DELETE /pet/{petId}"], reason="  INC-42: clean-up of test pets ")
    event = enabled_events(people.org)[-1]
    assert event.payload["reason"] == "INC-42: clean-up of test pets"
    assert event.payload["changes"][0]["tool"] == "deletePet"


def test_page_confirms_with_a_reason(people, petstore, client_for):
    client = client_for(people.admin)
    base = f"/o/{people.org.slug}/p/{petstore.slug}/governance/permissions"
    page = client.get(base + "/").content.decode()
    # the production switch of deletePet is a link to the confirmation, not a one-click form
    assert 'data-testid="confirm-enable"' in page
    # a direct POST without a reason is refused and sent to the confirmation page
    response = client.post(base + "/toggle/", {"operation_key": "DELETE /pet/{petId}", "environment": "production",
                                               "enabled": "true"})
    assert response.status_code == 302 and "/toggle/confirm/" in response["Location"]
    assert not ToolSetting.objects.filter(project=petstore, by_default=False).exists()
    confirm = client.get(response["Location"])
    assert confirm.status_code == 200 and "Reason (recorded in the audit log)" in confirm.content.decode()
    response = client.post(base + "/toggle/", {"operation_key": "DELETE /pet/{petId}", "environment": "production",
                                               "enabled": "true", "reason": "Clean-up approved in CHG-7"})
    assert response.status_code == 302 and response["Location"].endswith("/permissions/")
    assert enabled_events(people.org)[-1].payload["reason"] == "Clean-up approved in CHG-7"
    assert selectors.enabled_map(petstore.environments.get(slug="production"),
                                 list(selectors.current_tools(petstore)))["DELETE /pet/{petId}"] is True
    # htmx: the refusal tells the browser where to confirm
    response = client.post(base + "/toggle/", {"operation_key": "POST /user", "environment": "staging",
                                               "enabled": "true"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "/toggle/confirm/" in response["HX-Redirect"]


def test_confirmation_page_outsider_404_and_wrong_role_403(people, petstore, client_for):
    url = (f"/o/{people.org.slug}/p/{petstore.slug}/governance/permissions/toggle/confirm/"
           "?operation_key=POST%20/user&environment=production")
    assert client_for(people.outsider).get(url).status_code == 404
    assert client_for(people.reviewer).get(url).status_code == 403
    assert client_for(people.admin).get(url).status_code == 200
    assert client_for(people.admin).get(url.replace("POST%20/user", "nope")).status_code == 404


def test_rest_needs_a_reason(people, petstore, client_for):
    from apps.accounts.services import token_create

    _, raw = token_create(organization=people.org, user=people.admin, name="ci")
    url = f"/api/v1/projects/{petstore.public_id}/environments/production/tools/"
    body = {"tools": [{"operation_key": "POST /user", "enabled": True}]}
    client = client_for(people.admin)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    refused = client.put(url, body, content_type="application/json", **headers)
    assert refused.status_code == 400 and "reason" in refused.content.decode()
    assert not ToolSetting.objects.filter(project=petstore, by_default=False).exists()
    ok = client.put(url, {**body, "reason": "Sign-ups open on Monday"}, content_type="application/json", **headers)
    assert ok.status_code == 200, ok.content
    assert enabled_events(people.org)[-1].payload["reason"] == "Sign-ups open on Monday"
    bulk = client.post(url + "bulk/", {"enabled": True, "category": "critical"}, content_type="application/json",
                       **headers)
    assert bulk.status_code == 400
