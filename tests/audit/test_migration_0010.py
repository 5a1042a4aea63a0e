"""Migration 0010 moves the time-order bound from audit_timeorder (kept by a row trigger) into
the chain-head row (kept by mcpforge_audit_append): the bounds carry over, a head without one
gets it from its events, the trigger is gone, appends keep the bound, and the reverse restores
the trigger and its table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from apps.audit import services as audit_services
from tests.audit.migrations_util import migrate

BEFORE = [("audit", "0009_payload_filter_indexes")]
AFTER = [("audit", "0010_time_order_in_chain_head")]
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def _append(org, actor, stamp: datetime, monkeypatch) -> None:
    monkeypatch.setattr(audit_services.timezone, "now", lambda: stamp)
    audit_services.audit_record(organization=org, event_type="organization.updated", actor=actor)
    monkeypatch.undo()


def _one(sql: str, params=()) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _trigger_exists() -> bool:
    return _one("SELECT 1 FROM pg_trigger WHERE tgname = 'audit_event_time_order'") is not None


def _head(org) -> tuple:
    return _one("SELECT max_created_at, max_lag FROM audit_chainhead WHERE organization_id = %s", [org.pk])


@pytest.mark.django_db(transaction=True)
def test_bounds_move_into_the_head_row_and_back(monkeypatch):
    from apps.accounts.models import Organization

    migrate(BEFORE)
    try:
        owner = get_user_model().objects.create(username="tz@acme.test", email="tz@acme.test")
        lagging, orphan = (Organization.objects.create(name=f"T {i}", slug=f"t-{i}", created_by=owner)
                           for i in range(2))
        for stamp in (T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=3)):  # the last is 7 s behind
            _append(lagging, owner, stamp, monkeypatch)
        for stamp in (T0, T0 + timedelta(seconds=20), T0 + timedelta(seconds=5)):  # 15 s behind
            _append(orphan, owner, stamp, monkeypatch)
        assert _trigger_exists()
        assert _one("SELECT max_created_at, max_lag FROM audit_timeorder WHERE organization_id = %s",
                    [lagging.pk]) == (T0 + timedelta(seconds=10), timedelta(seconds=7))
        # a head whose time-order row is missing: 0010 computes its bound from the events
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_timeorder WHERE organization_id = %s", [orphan.pk])
        migrate(AFTER)

        assert not _trigger_exists()
        assert _one("SELECT to_regclass('audit_timeorder')") == (None,)
        assert _head(lagging) == (T0 + timedelta(seconds=10), timedelta(seconds=7))
        assert _head(orphan) == (T0 + timedelta(seconds=20), timedelta(seconds=15))
        # appends keep the bound: 9 s behind the newest widens the lag, a newer time moves it on
        _append(lagging, owner, T0 + timedelta(seconds=1), monkeypatch)
        assert _head(lagging) == (T0 + timedelta(seconds=10), timedelta(seconds=9))
        _append(lagging, owner, T0 + timedelta(seconds=30), monkeypatch)
        assert _head(lagging) == (T0 + timedelta(seconds=30), timedelta(seconds=9))
        # a new chain starts its head with its first event's time and no lag
        fresh = Organization.objects.create(name="T fresh", slug="t-fresh", created_by=owner)
        _append(fresh, owner, T0, monkeypatch)
        assert _head(fresh) == (T0, timedelta(0))

        migrate(BEFORE)  # the reverse: table, trigger and its bounds, from the events
        assert _trigger_exists()
        assert _one("SELECT max_created_at, max_lag FROM audit_timeorder WHERE organization_id = %s",
                    [lagging.pk]) == (T0 + timedelta(seconds=30), timedelta(seconds=9))
        _append(lagging, owner, T0 + timedelta(seconds=18), monkeypatch)  # the trigger is back: 12 s behind
        assert _one("SELECT max_lag FROM audit_timeorder WHERE organization_id = %s",
                    [lagging.pk]) == (timedelta(seconds=12),)
    finally:
        migrate()
    assert _head(lagging) == (T0 + timedelta(seconds=30), timedelta(seconds=12))


@pytest.mark.django_db
def test_unknown_lag_gives_no_bounds(people):
    """A head whose bound is not known (NULL) must not narrow a date range: the filter then
    reads the whole range instead (exact, only slower), never a seq range that could miss events."""
    from apps.audit.models import AuditChainHead
    from apps.audit.selectors import date_seq_bounds

    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    AuditChainHead.objects.filter(organization=people.org).update(max_lag=None, max_created_at=None)
    assert date_seq_bounds(people.org, start, end) == (None, None)
