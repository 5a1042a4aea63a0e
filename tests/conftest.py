"""Shared fixtures: one organization with a person in every role, plus an outsider
(hc/test.py style), and clients logged in as each of them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = Path(os.environ.get("MCPFORGE_SPECS_DIR", REPO_ROOT.parent / "shared" / "specs"))
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
PASSWORD = "correct-horse-battery-staple-42"

from tests.browser import browser, page  # noqa: E402,F401 - fixtures for every directory (tests/browser.py)


def pytest_configure(config) -> None:
    """Hash test passwords with a fast hasher: the production PBKDF2 (1,000,000 rounds, ~0.4 s
    a user here) made the seven users of the ``people`` fixture most of the suite's run time.
    Logins still go through the real authentication code."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _flush_past_truncate_triggers()


def _flush_past_truncate_triggers() -> None:
    """Transactional tests end with a flush (TRUNCATE of every table), which the audit tables'
    statement triggers refuse (apps/audit migration 0006). The test database's superuser skips
    triggers for that one transaction; the product has no such switch."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    if getattr(DatabaseOperations.sql_flush, "_past_triggers", False):
        return
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return ["SET LOCAL session_replication_role = replica", *sql] if sql else sql

    sql_flush._past_triggers = True
    DatabaseOperations.sql_flush = sql_flush

    # A transactional test that ran the gateway can end while the gateway's batched outcome rows
    # (MCP_AUDIT_BATCH_MS) are still being written: the TRUNCATE then deadlocks with that insert
    # and Postgres aborts the flush. Retry it once the writer is done, so the next test starts
    # from an empty database.
    from django.db import OperationalError

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        import time

        for attempt in range(5):
            try:
                return flush(self, sql_list)
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    DatabaseOperations.execute_sql_flush = execute_sql_flush


@dataclass
class People:
    org: object
    owner: object
    admin: object
    reviewer: object
    member: object
    viewer: object
    outsider: object
    other_org: object

    def by_role(self, role: str):
        return getattr(self, role)


def make_user(email: str):
    from allauth.account.models import EmailAddress

    from apps.accounts.services import user_create

    user = user_create(email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def people(db) -> People:
    from apps.accounts.models import Membership
    from apps.accounts.services import organization_create

    owner = make_user("owner@acme.test")
    org = organization_create(name="Acme", actor=owner)
    users = {"owner": owner}
    for role in ("admin", "reviewer", "member", "viewer"):
        users[role] = make_user(f"{role}@acme.test")
        Membership.objects.create(organization=org, user=users[role], role=role)
    outsider = make_user("outsider@evil.test")
    other_org = organization_create(name="Evil Corp", actor=outsider)
    return People(org=org, outsider=outsider, other_org=other_org, **users)


@pytest.fixture
def client_for(client):
    """client_for(user) -> a Django test client logged in as user (fresh client per user)."""
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user)
        return c

    return make


@pytest.fixture
def api_for(people):
    """api_for(user) -> DRF APIClient authenticated with a real mcpf_ token of that user."""
    from rest_framework.test import APIClient

    from apps.accounts.models import Membership
    from apps.accounts.services import token_create

    def make(user):
        membership = Membership.objects.filter(user=user).select_related("organization").first()
        _, raw = token_create(organization=membership.organization, user=user, name="test")
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return c

    return make


@pytest.fixture
def audit_types():
    """audit_types(org) -> list of event types recorded for org, oldest first."""
    from apps.audit.models import AuditEvent

    def read(org):
        return list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("event_type", flat=True))

    return read


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker (separate process) consuming the test queue from Redis and writing
    to the pytest test database. Use in ``transaction=True`` tests: the worker only sees
    committed rows."""
    import subprocess
    import sys
    import time

    import redis
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["REDIS_URL"] = settings.REDIS_URL
    env["CELERY_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
    env["MCPFORGE_TESTING"] = "true"
    env.setdefault("SECRET_KEY", "test-secret-key")
    redis.Redis.from_url(settings.REDIS_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)  # no stale tasks
    log_path = ARTIFACTS_DIR / "celery-worker.log"
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mcpforge",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"celery worker exited early:\n{log_path.read_text()[-3000:]}")
        if b"ready." in log_path.read_bytes():
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("celery worker did not start within 60 s")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
