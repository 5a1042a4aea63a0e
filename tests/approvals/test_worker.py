"""The background path with a real Celery worker process (Redis broker, the pytest database):
approval -> execution task -> upstream call -> stored result, plus signed webhooks sent by
the worker."""

from __future__ import annotations

import json
import time

import pytest

from apps.approvals import selectors, services, webhook, webhook_services
from apps.approvals.models import ApprovalRequest
from tests.conftest import wait_for

from .conftest import queue_request

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_worker-test-secret-0123456789"


@pytest.fixture
def worker(request, monkeypatch, settings):
    """The shared worker fixture, started with webhooks to loopback allowed (in its environment)."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return request.getfixturevalue("celery_worker_process")


def test_approved_call_runs_in_the_worker(world, people, upstream, receiver, worker):
    webhook_services.webhook_settings_update(organization=people.org, url=receiver.url + "/hook", enabled=True,
                                             email_reviewers=True, new_secret=SECRET, actor=people.owner)
    request = queue_request(world)
    services.approval_decide(request=request, reviewer=people.reviewer, decision="approve", comment="ship it")

    def executed():
        row = ApprovalRequest.objects.get(pk=request.pk)
        return row if row.status in ("executed", "failed") else None

    row = wait_for(executed, timeout=60)
    assert row.status == "executed", row.failure_reason
    assert upstream.count() == 1
    status = selectors.request_status_for(people.member, str(request.public_id))
    assert status["result"]["ok"] is True and status["result"]["structured"]["petId"] == 42

    wait_for(lambda: receiver.count() >= 3, timeout=60)
    events = []
    for hit in receiver.requests:
        headers = {k.lower(): v for k, v in hit["headers"].items()}
        assert webhook.verify(SECRET, timestamp=headers["x-mcpforge-timestamp"], body=hit["body"],
                              signature=headers["x-mcpforge-signature"], now=time.time())
        events.append(json.loads(hit["body"])["event"])
    assert sorted(events) == ["approval.decided", "approval.executed", "approval.requested"]
