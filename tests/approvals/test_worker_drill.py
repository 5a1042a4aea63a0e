"""Drill: a Celery worker is killed (SIGKILL) while it executes an approved call.

The upstream holds the call open, so the worker is certainly mid-call when it dies. Nothing in
the test sends the task again or runs the sweep: the product recovers on its own. The task
was unacknowledged (acks_late), so once the broker's visibility timeout has passed the other
worker's transport restores it and runs it; the request is still "executing" and its lease is
over, so that delivery fails it with "worker lost during execution; outcome unknown" (under the
row lock) and never calls the upstream a second time. The reviewer sees the reason on the
request's page and the agent in the status it reads.

The workers run with short, consistent timings (upstream deadline 10 s < lease 15 s <
visibility timeout 20 s; production: 15 s, 900 s, 3600 s), which the settings enforce."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.approvals import selectors, services
from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from tests.conftest import ARTIFACTS_DIR, REPO_ROOT, wait_for

from .conftest import Recorder, build_world, queue_request, serve_recorder

pytestmark = [pytest.mark.drill, pytest.mark.worker, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(240)]


WORKER_TIMINGS = {"MCP_UPSTREAM_TIMEOUT_SECONDS": "10", "APPROVAL_EXECUTION_LEASE_SECONDS": "15",
                  "CELERY_VISIBILITY_TIMEOUT_SECONDS": "20"}


def start_worker(name: str) -> subprocess.Popen:
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ, **WORKER_TIMINGS, MCPFORGE_TESTING="true", REDIS_URL=settings.REDIS_URL,
               CELERY_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
               DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
                            f"{db['PORT'] or 5432}/{db['NAME']}")
    env.setdefault("SECRET_KEY", "test-secret-key")
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    log_path = ARTIFACTS_DIR / f"celery-drill-{name}.log"
    log_path.write_bytes(b"")
    log = open(log_path, "ab")  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mcpforge", "worker", "--pool=solo", "--loglevel=INFO", "-n",
         f"{name}@%h", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--without-gossip", "--without-mingle",
         "--without-heartbeat"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: proc.poll() is not None or b"ready." in log_path.read_bytes(), timeout=60)
    assert proc.poll() is None, log_path.read_text()[-2000:]
    proc.log_path, proc.log_file = log_path, log
    return proc


def stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    proc.log_file.close()


@pytest.fixture
def holding_upstream():
    """The upstream: records the call, then holds it open until released (60 s at most)."""
    recorder = Recorder()
    release = threading.Event()

    def respond(method, path, body):
        release.wait(60)
        return 200, {"id": 7, "status": "placed"}

    server = serve_recorder(recorder, respond)
    recorder.release = release
    yield recorder
    release.set()
    server.shutdown()
    server.server_close()


def test_worker_killed_mid_call_is_failed_by_its_redelivery_never_run_twice(people, holding_upstream):
    import redis

    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete(settings.CELERY_TASK_DEFAULT_QUEUE, "unacked", "unacked_index")  # no stale tasks
    world = build_world(people, holding_upstream.url)
    first = start_worker("drill-a")
    second = None
    try:
        request = queue_request(world)
        services.approval_decide(request=request, reviewer=people.reviewer, decision="approve", comment="go")
        wait_for(lambda: holding_upstream.count() == 1, timeout=60)  # the worker is inside the call
        claimed = ApprovalRequest.objects.get(pk=request.pk)
        assert claimed.status == "executing"
        assert claimed.execution_lease_until - claimed.execution_started_at == timedelta(seconds=15)

        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert broker.hlen("unacked") >= 1  # the dead worker's task, never acknowledged
        holding_upstream.release.set()
        second = start_worker("drill-b")  # the pool's other worker (or the restarted one)

        # no re-send, no sweep: the broker redelivers after the visibility timeout, the
        # redelivered task finds the lease over and fails the call
        wait_for(lambda: ApprovalRequest.objects.get(pk=request.pk).status != "executing", timeout=150)
        failed_at = timezone.now()
        assert failed_at >= claimed.execution_lease_until
        wait_for(lambda: b"succeeded" in second.log_path.read_bytes() and b"'failed'" in second.log_path.read_bytes(),
                 timeout=30)
        time.sleep(1)
        assert holding_upstream.count() == 1  # not called again
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)

    row = ApprovalRequest.objects.get(pk=request.pk)
    assert row.status == "failed" and row.failure_reason == services.WORKER_LOST_REASON
    assert "Worker lost during execution; outcome unknown" in row.failure_reason
    status = selectors.request_status_for(people.member, str(row.public_id))
    assert status["status"] == "failed" and "outcome unknown" in json.dumps(status)
    reviewer = Client()
    reviewer.force_login(people.reviewer)
    page = reviewer.get(f"/o/{people.org.slug}/approvals/{row.public_id}/")
    assert page.status_code == 200 and "Worker lost during execution; outcome unknown" in page.content.decode()
    executed = AuditEvent.objects.filter(organization=people.org, event_type="approval.executed")
    assert [e.payload.get("outcome") for e in executed] == ["unknown"]
    assert services.approval_recover_stalled()["failed"] == 0  # nothing left for the sweep
    assert holding_upstream.count() == 1
