"""Issue 23 item 4: a GET never writes. An overdue pending request is shown expired on every
read (queue page, queue API, detail page, status API) while its row and the audit log are
untouched; the sweep task (Celery beat) is what marks it expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.approvals import tasks
from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent

from .conftest import queue_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(world):
    request = queue_request(world)
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return request


def _snapshot(request):
    row = ApprovalRequest.objects.get(pk=request.pk)
    return row.status, row.updated_at, list(AuditEvent.objects.exclude(event_type="token.created")
                                              .values_list("event_type", flat=True))


def test_gets_show_an_overdue_request_expired_without_writing(world, people, overdue, client_for, api_for):
    before = _snapshot(overdue)
    page = client_for(people.reviewer).get("/o/acme/approvals/")
    assert page.status_code == 200 and page.content.decode().count('data-testid="approval-row"') == 0
    expired_page = client_for(people.reviewer).get("/o/acme/approvals/?scope=all&status=expired")
    assert expired_page.content.decode().count('data-testid="approval-row"') == 1
    listing = api_for(people.reviewer).get("/api/v1/organizations/acme/approvals/")
    assert listing.status_code == 200 and listing.json()["count"] == 0
    listed = api_for(people.reviewer).get("/api/v1/organizations/acme/approvals/?scope=all&status=expired").json()
    assert [r["status"] for r in listed["results"]] == ["expired"]
    detail = client_for(people.reviewer).get(f"/o/acme/approvals/{overdue.public_id}/")
    assert detail.status_code == 200 and detail.context["status"] == "expired"
    status = api_for(people.member).get(f"/api/v1/approvals/{overdue.public_id}/")
    assert status.status_code == 200 and status.json()["status"] == "expired"
    assert _snapshot(overdue) == before  # no row changed, no audit event written
    assert before[0] == "pending"


def test_the_sweep_task_marks_it_expired_once(world, people, overdue, audit_types):
    assert tasks.sweep_approvals()["expired"] == 1
    assert ApprovalRequest.objects.get(pk=overdue.pk).status == "expired"
    assert audit_types(people.org).count("approval.expired") == 1
    assert tasks.sweep_approvals()["expired"] == 0
