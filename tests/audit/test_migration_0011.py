"""Migration 0011: the append moves the chain head with one UPDATE ... RETURNING. Heads of
existing chains get their ``prev_hash`` from the event they point at, the chain goes on across
the upgrade and back (every event's prev_hash is the hash before it, verification passes),
and a missing head still fails the append closed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from apps.audit.services import audit_record, audit_verify_organization
from tests.audit.migrations_util import migrate

BEFORE = [("audit", "0010_time_order_in_chain_head")]
AFTER = [("audit", "0011_head_update_returns_link")]


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _chain(org) -> list[tuple]:
    return _rows("SELECT seq, prev_hash, hash FROM audit_auditevent WHERE organization_id = %s ORDER BY seq",
                 [org.pk])


def _assert_linked(org, length: int) -> None:
    chain = _chain(org)
    assert [seq for seq, _prev, _hash in chain] == list(range(1, length + 1))
    assert chain[0][1] == "0" * 64
    for (_s, _p, before), (_s2, prev, _h) in zip(chain, chain[1:], strict=False):
        assert prev == before
    assert audit_verify_organization(org) == (length, None)


@pytest.mark.django_db(transaction=True)
def test_head_carries_the_link_across_the_upgrade_and_back():
    from apps.accounts.models import Organization

    migrate(BEFORE)
    try:
        owner = get_user_model().objects.create(username="m11@acme.test", email="m11@acme.test")
        org = Organization.objects.create(name="M 11", slug="m-11", created_by=owner)
        for _ in range(3):
            audit_record(organization=org, event_type="organization.updated", actor=owner)
        migrate(AFTER)

        # the head's prev_hash is that of the event it points at
        (seq, head_hash, head_prev), = _rows(
            "SELECT seq, hash, prev_hash FROM audit_chainhead WHERE organization_id = %s", [org.pk])
        assert _rows("SELECT hash, prev_hash FROM audit_auditevent WHERE organization_id = %s AND seq = %s",
                     [org.pk, seq]) == [(head_hash, head_prev)]
        event = audit_record(organization=org, event_type="organization.updated", actor=owner)
        assert (event.seq, event.prev_hash) == (seq + 1, head_hash)
        assert _rows("SELECT seq, hash, prev_hash FROM audit_chainhead WHERE organization_id = %s",
                     [org.pk]) == [(event.seq, event.hash, head_hash)]
        # a new chain starts at genesis and keeps going
        fresh = Organization.objects.create(name="M 11 fresh", slug="m-11-fresh", created_by=owner)
        for _ in range(3):
            audit_record(organization=fresh, event_type="organization.updated", actor=owner)
        _assert_linked(fresh, 3)
        _assert_linked(org, 4)  # three before the upgrade, one after

        migrate(BEFORE)  # the reverse: 0010's function, the column gone, the chain goes on
        assert _rows("SELECT 1 FROM information_schema.columns WHERE table_name = 'audit_chainhead' "
                     "AND column_name = 'prev_hash'") == []
        audit_record(organization=org, event_type="organization.updated", actor=owner)
        _assert_linked(org, 5)
    finally:
        migrate()
    audit_record(organization=org, event_type="organization.updated", actor=owner)
    _assert_linked(org, 6)


@pytest.mark.django_db(transaction=True)
def test_a_missing_head_of_an_existing_chain_refuses_the_append():
    from apps.accounts.models import Organization

    owner = get_user_model().objects.create(username="m11b@acme.test", email="m11b@acme.test")
    org = Organization.objects.create(name="M 11b", slug="m-11b", created_by=owner)
    audit_record(organization=org, event_type="organization.updated", actor=owner)
    before = _chain(org)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_chainhead WHERE organization_id = %s", [org.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        audit_record(organization=org, event_type="organization.updated", actor=owner)
    assert _chain(org) == before
    assert _rows("SELECT count(*) FROM audit_chainhead WHERE organization_id = %s", [org.pk]) == [(0,)]
