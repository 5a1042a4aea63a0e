"""Migration 0006 on a database with existing chains: their rows stay as they are (legacy,
SHA-256) and verify, each organization gets its head row, and new rows join the chain keyed."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from apps.audit import chain
from tests.audit.migrations_util import migrate

BEFORE = [("audit", "0005_drop_redundant_organization_index")]
AFTER = [("audit", "0006_keyed_chain_head_checkpoints")]
OLD_APPEND = ("SELECT seq, hash FROM mcpforge_audit_append(%s::bigint, %s::uuid, %s::timestamptz, NULL::bigint, "
              "%s::varchar, 'organization.updated'::varchar, ''::varchar, ''::varchar, ''::varchar, %s::jsonb, "
              "''::varchar, NULL::inet, ''::varchar, %s::text, %s::text)")


def _old_append(org_id: int, n: int) -> tuple[int, str]:
    """An event written by the previous release's function (unkeyed)."""
    public_id, created_at = uuid.uuid4(), timezone.now()
    prefix, suffix = chain.event_parts(actor="old@acme.test", created_at=created_at.isoformat(),
                                       event_type="organization.updated", event_id=str(public_id), ip=None,
                                       organization=org_id, payload={"n": n}, request_id="",
                                       target=["", "", ""], user_agent="")
    with connection.cursor() as cursor:
        cursor.execute(OLD_APPEND, [org_id, public_id, created_at, "old@acme.test", f'{{"n": {n}}}', prefix, suffix])
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_existing_chains_stay_verifiable_and_get_their_heads():
    from apps.accounts.models import Organization

    migrate(BEFORE)
    try:
        owner = get_user_model().objects.create(username="old@acme.test", email="old@acme.test")
        orgs = [Organization.objects.create(name=f"Old {i}", slug=f"old-{i}", created_by=owner) for i in range(2)]
        tails = {org.pk: [_old_append(org.pk, n) for n in range(3 + i)][-1] for i, org in enumerate(orgs)}
    finally:
        migrate(AFTER)

    from apps.audit.models import AuditChainHead, AuditEvent
    from apps.audit.services import audit_checkpoint_create, audit_record, audit_verify_organization

    for org in orgs:
        assert AuditChainHead.objects.filter(organization=org).values_list("seq", "hash").get() == tails[org.pk]
        assert set(AuditEvent.objects.filter(organization=org).values_list("chain_version", flat=True)) == {1}
        assert audit_verify_organization(org)[1] is None
        audit_checkpoint_create(organization=org)  # as README says: right after upgrading
        new = audit_record(organization=org, event_type="organization.updated", actor=owner)
        assert (new.seq, new.prev_hash, new.chain_version) == (tails[org.pk][0] + 1, tails[org.pk][1], chain.KEYED)
        assert audit_verify_organization(org) == (new.seq, None)
