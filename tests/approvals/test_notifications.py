"""Emails to eligible reviewers and requesters; the signed outgoing webhook."""

from __future__ import annotations

import json
import time

import pytest
from django.core import mail

from apps.approvals import services, webhook, webhook_services
from apps.approvals.models import WebhookDelivery, WebhookSettings
from apps.audit.models import AuditEvent
from apps.core.errors import DomainError

from .conftest import queue_request, requirement

pytestmark = pytest.mark.django_db

SECRET = "whsec_test-secret-0123456789abcdef"


@pytest.fixture
def email_backend(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_queued_request_emails_only_reviewers_eligible_for_the_next_step(
        world, people, email_backend, eager_celery, django_capture_on_commit_callbacks):
    req = requirement(approvals=2, order="sequential",
                      steps=[{"kind": "team", "value": "finance"}, {"kind": "role", "value": "admin"}])
    with django_capture_on_commit_callbacks(execute=True):
        request = queue_request(world, req=req)
    assert [m.to for m in mail.outbox] == [["fin-reviewer@acme.test"]]
    message = mail.outbox[0]
    assert "Approval needed" in message.subject and "placeOrder" in message.subject
    assert "Step 1 of 2 waits for team Finance" in message.body
    assert f"/o/acme/approvals/{request.public_id}/" in message.body
    assert "Customer asked twice" in message.body

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_decide(request=request, reviewer=world.finance_reviewer, decision="approve", comment="")
    # step 2 needs an admin or higher: admin and owner (the requester is a member)
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@acme.test", "owner@acme.test"]


def test_decision_and_result_are_emailed_to_the_requester(world, people, email_backend, eager_celery,
                                                          django_capture_on_commit_callbacks):
    request = queue_request(world)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approval_decide(request=request, reviewer=people.reviewer, decision="approve", comment="Go")
    subjects = {m.subject: m.to for m in mail.outbox}
    assert any("Request approved" in s and to == ["member@acme.test"] for s, to in subjects.items())
    assert any("Approved call succeeded" in s and to == ["member@acme.test"] for s, to in subjects.items())


def test_email_to_reviewers_can_be_switched_off(world, people, email_backend, eager_celery,
                                                django_capture_on_commit_callbacks):
    webhook_services.webhook_settings_update(organization=people.org, url="", enabled=False, email_reviewers=False,
                                             new_secret=None, actor=people.owner)
    with django_capture_on_commit_callbacks(execute=True):
        queue_request(world)
    assert mail.outbox == []


@pytest.fixture
def private_webhooks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True


def test_webhook_is_delivered_with_a_valid_signature(world, people, receiver, private_webhooks, eager_celery,
                                                     django_capture_on_commit_callbacks):
    webhook_services.webhook_settings_update(organization=people.org, url=receiver.url + "/hook", enabled=True,
                                             email_reviewers=True, new_secret=SECRET, actor=people.owner)
    with django_capture_on_commit_callbacks(execute=True):
        request = queue_request(world, arguments={"id": 1, "petId": 2, "quantity": 1, "status": "placed",
                                                  "complete": False})
    assert receiver.count() == 1
    hit = receiver.requests[0]
    headers = {k.lower(): v for k, v in hit["headers"].items()}
    assert hit["path"] == "/hook"
    assert headers["x-mcpforge-event"] == "approval.requested"
    assert headers["x-mcpforge-signature"].startswith("sha256=")
    assert webhook.verify(SECRET, timestamp=headers["x-mcpforge-timestamp"], body=hit["body"],
                          signature=headers["x-mcpforge-signature"], now=time.time())
    # a replay later, or a body change, or the wrong secret does not verify
    assert not webhook.verify(SECRET, timestamp=headers["x-mcpforge-timestamp"], body=hit["body"],
                              signature=headers["x-mcpforge-signature"], now=time.time() + 600)
    assert not webhook.verify(SECRET, timestamp=headers["x-mcpforge-timestamp"], body=hit["body"] + b" ",
                              signature=headers["x-mcpforge-signature"], now=time.time())
    assert not webhook.verify("another-secret-entirely", timestamp=headers["x-mcpforge-timestamp"],
                              body=hit["body"], signature=headers["x-mcpforge-signature"], now=time.time())
    payload = json.loads(hit["body"])
    assert payload["event"] == "approval.requested"
    assert payload["request"]["id"] == str(request.public_id)
    assert payload["request"]["tool"] == "placeOrder" and payload["request"]["status"] == "pending"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.response_status == 200

    with django_capture_on_commit_callbacks(execute=True):
        services.approval_decide(request=request, reviewer=people.reviewer, decision="reject", comment="No")
    assert receiver.count() == 2
    decided = json.loads(receiver.requests[1]["body"])
    assert decided["event"] == "approval.decided" and decided["request"]["status"] == "rejected"
    assert decided["request"]["rejection"]["comment"] == "No"


def test_webhook_secret_is_stored_encrypted_and_masked(world, people, receiver, private_webhooks):
    hook = webhook_services.webhook_settings_update(organization=people.org, url=receiver.url, enabled=True,
                                                    email_reviewers=True, new_secret=SECRET, actor=people.owner)
    hook = WebhookSettings.objects.get(pk=hook.pk)
    assert SECRET.encode() not in bytes(hook.secret_ciphertext)
    assert hook.secret_masked.endswith(SECRET[-4:]) and SECRET not in hook.secret_masked
    assert webhook_services.webhook_secret(hook) == SECRET
    event = AuditEvent.objects.get(event_type="approval.webhook_updated")
    assert SECRET not in json.dumps(event.payload)
    # saving without a new secret keeps it
    webhook_services.webhook_settings_update(organization=people.org, url=receiver.url, enabled=True,
                                             email_reviewers=False, new_secret=None, actor=people.owner)
    assert webhook_services.webhook_secret(WebhookSettings.objects.get(pk=hook.pk)) == SECRET


def test_private_and_loopback_destinations_are_refused_by_default(world, people, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://localhost/hook",
                "http://[::1]/hook", "http://169.254.169.254/latest/meta-data", "ftp://example.com/x"):
        with pytest.raises(DomainError):
            webhook_services.webhook_settings_update(organization=people.org, url=url, enabled=True,
                                                     email_reviewers=True, new_secret=SECRET, actor=people.owner)
    assert not WebhookSettings.objects.filter(url__startswith="http").exists()


def test_link_local_is_refused_even_when_private_addresses_are_allowed():
    with pytest.raises(webhook.DestinationError, match="link-local"):
        webhook.check_destination("http://169.254.169.254/", allow_private=True)
    assert webhook.check_destination("http://127.0.0.1:9/", allow_private=True) == "127.0.0.1"
    assert webhook.check_destination("https://hooks.example.com/x", allow_private=False,
                                     resolve=lambda host, port: ["93.184.215.14"]) == "93.184.215.14"
    with pytest.raises(webhook.DestinationError, match="private"):
        webhook.check_destination("https://rebind.example.com/x", allow_private=False,
                                  resolve=lambda host, port: ["93.184.215.14", "10.0.0.5"])


def test_delivery_time_check_refuses_a_url_that_became_private(world, people, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    webhook_services.webhook_settings_update(organization=people.org, url=receiver.url, enabled=True,
                                             email_reviewers=True, new_secret=SECRET, actor=people.owner)
    delivery = webhook_services.webhook_send_test(organization=people.org, actor=people.owner)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    result = webhook_services.webhook_deliver(delivery_id=delivery.pk)
    assert result.status == "failed" and "private or loopback" in result.last_error
    assert receiver.count() == 0


def test_server_errors_are_retried_then_recorded(world, people, receiver, private_webhooks):
    webhook_services.webhook_settings_update(organization=people.org, url=receiver.url, enabled=True,
                                             email_reviewers=True, new_secret=SECRET, actor=people.owner)
    delivery = webhook_services.webhook_send_test(organization=people.org, actor=people.owner)
    receiver.status = 503
    with pytest.raises(webhook_services.RetryableDeliveryError):
        webhook_services.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 503)
    failed = webhook_services.webhook_deliver(delivery_id=delivery.pk, final_attempt=True)
    assert (failed.status, failed.attempts) == ("failed", 2)
    receiver.status = 200
    ok = webhook_services.webhook_send_test(organization=people.org, actor=people.owner)
    assert webhook_services.webhook_deliver(delivery_id=ok.pk).status == "delivered"
    # each attempt is signed afresh: timestamps are present on every request
    assert all("X-Mcpforge-Timestamp" in r["headers"] or "X-MCPForge-Timestamp" in r["headers"]
               for r in receiver.requests)


def test_client_errors_are_not_retried(world, people, receiver, private_webhooks):
    webhook_services.webhook_settings_update(organization=people.org, url=receiver.url, enabled=True,
                                             email_reviewers=True, new_secret=SECRET, actor=people.owner)
    delivery = webhook_services.webhook_send_test(organization=people.org, actor=people.owner)
    receiver.status = 410
    assert webhook_services.webhook_deliver(delivery_id=delivery.pk).status == "failed"


def test_signature_covers_timestamp_and_body():
    body = webhook.canonical_body({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    sig = webhook.sign("s" * 20, 1700000000, body)
    assert sig != webhook.sign("s" * 20, 1700000001, body)
    assert webhook.verify("s" * 20, timestamp="1700000000", body=body, signature=sig, now=1700000100)
    assert not webhook.verify("s" * 20, timestamp="nope", body=body, signature=sig, now=1700000100)
