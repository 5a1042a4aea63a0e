"""Race safety on the real Postgres: 50 reviewers clicking approve at the same moment (each
thread with its own database connection, committed transactions), and 50 duplicate
deliveries of the execution task. The loopback upstream counts the calls it really got."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from apps.accounts.models import Membership
from apps.accounts.services import user_create
from apps.approvals import services, tasks
from apps.approvals.models import ApprovalDecision
from apps.audit.models import AuditEvent

from .conftest import queue_request, requirement

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def _reviewers(org, n):
    users = []
    for i in range(n):
        user = user_create(email=f"rev{i:02d}@acme.test")  # no password: skips 50 slow hashes
        Membership.objects.create(organization=org, user=user, role="reviewer")
        users.append(user)
    return users


def _run_together(fn, args_list):
    barrier = threading.Barrier(len(args_list))

    def run(args):
        try:
            barrier.wait(timeout=30)
            return fn(*args)
        finally:
            connections.close_all()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=len(args_list)) as pool:
        return list(pool.map(run, args_list))


def test_fifty_concurrent_approvals_execute_exactly_once(world, people, upstream, eager_celery):
    # two approvals needed, any order: exactly two of the fifty may count
    request = queue_request(world, req=requirement(approvals=2, order="any"))
    clients = []
    for reviewer in _reviewers(people.org, THREADS):
        client = Client()
        client.force_login(reviewer)
        clients.append(client)
    url = f"/o/acme/approvals/{request.public_id}/decide/"

    def click(client):
        response = client.post(url, {"decision": "approve", "comment": "race"})
        return response.status_code

    codes = _run_together(click, [(c,) for c in clients])
    assert codes == [302] * THREADS  # every click gets an answer (success or a clear refusal message)

    request.refresh_from_db()
    assert request.status == "executed", request.failure_reason
    assert ApprovalDecision.objects.filter(request=request).count() == 2
    assert upstream.count() == 1
    types = list(AuditEvent.objects.filter(target_id=str(request.public_id)).values_list("event_type", flat=True))
    assert types.count("approval.decided") == 2
    assert types.count("approval.executed") == 1


def test_fifty_duplicate_execution_tasks_call_upstream_once(world, people, upstream):
    request = queue_request(world)
    services.approval_decide(request=request, reviewer=people.reviewer, decision="approve", comment="")
    request.refresh_from_db()
    assert request.status == "approved"  # not eager: the queued task went to Redis, nobody consumes it here

    results = _run_together(tasks.execute_approved_request, [(request.pk,)] * THREADS)

    assert sorted(set(results)) == ["executed", "skipped"]
    assert results.count("executed") == 1
    assert upstream.count() == 1
    request.refresh_from_db()
    assert request.status == "executed"
    assert AuditEvent.objects.filter(target_id=str(request.public_id), event_type="approval.executed").count() == 1
