"""Issue 23, item 6: the approval notification settings page through REST, with its validation,
role check (approval.configure) and audit; a secret is returned only when generated, once."""

import pytest

from apps.approvals.models import WebhookDelivery
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

RECEIVER = "https://93.184.216.34/mcpforge"  # a public literal address: no DNS lookup in the test


def test_read_set_and_test_the_webhook(people, api_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    api, url = api_for(people.admin), f"/api/v1/organizations/{people.org.slug}/approval-notifications/"
    assert api.get(url).json() == {"url": "", "enabled": True, "email_reviewers": True, "secret_masked": None,
                                   "active": False}
    no_secret = api.put(url, {"url": RECEIVER}, format="json")
    assert no_secret.status_code == 400 and no_secret.json()["field"] == "secret"
    private = api.put(url, {"url": "http://127.0.0.1:9/hook", "generate_secret": True}, format="json")
    assert private.status_code == 400 and private.json()["field"] == "url"
    saved = api.put(url, {"url": RECEIVER, "generate_secret": True, "email_reviewers": False}, format="json")
    assert saved.status_code == 200
    body = saved.json()
    assert body["secret"].startswith("whsec_") and body["active"] is True and body["email_reviewers"] is False
    assert body["secret_masked"] and body["secret"] not in body["secret_masked"]
    read = api.get(url).json()
    assert "secret" not in read and read["url"] == RECEIVER
    (event,) = AuditEvent.objects.filter(organization=people.org, event_type="approval.webhook_updated")
    assert event.actor == people.admin and body["secret"] not in str(event.payload)
    kept = api.put(url, {"url": RECEIVER, "enabled": False}, format="json")
    assert kept.status_code == 200 and "secret" not in kept.json() and kept.json()["secret_masked"] == \
        body["secret_masked"]
    api.put(url, {"url": RECEIVER, "enabled": True}, format="json")
    queued = api.post(url + "test/", format="json")
    assert queued.status_code == 202 and queued.json()["event"] == "webhook.test"
    assert WebhookDelivery.objects.filter(organization=people.org, event="webhook.test").count() == 1


def test_outsider_404_and_wrong_role_403(people, api_for):
    url = f"/api/v1/organizations/{people.org.slug}/approval-notifications/"
    outsider = api_for(people.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.put(url, {"url": ""}, format="json").status_code == 404
    assert outsider.post(url + "test/", format="json").status_code == 404
    for role in ("viewer", "member", "reviewer"):
        client = api_for(people.by_role(role))
        assert client.get(url).status_code == 403, role
        assert client.put(url, {"url": RECEIVER, "generate_secret": True}, format="json").status_code == 403, role
        assert client.post(url + "test/", format="json").status_code == 403, role
    refused = AuditEvent.objects.filter(organization=people.org, event_type="access.refused")
    assert refused.count() == 6 and {e.payload["capability"] for e in refused} == {"approval.configure"}
    assert not AuditEvent.objects.filter(event_type="approval.webhook_updated").exists()
