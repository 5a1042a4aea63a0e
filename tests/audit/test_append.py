"""audit_record appends in one round trip (the mcpforge_audit_append function of migration
0003) and the chain it writes is the one chain.py defines and audit_verify recomputes."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db import DataError, IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.accounts.models import Team
from apps.accounts.services import organization_create
from apps.audit import chain
from apps.audit.models import AppendOnlyError, AuditChainHead, AuditEvent
from apps.audit.services import audit_record, audit_verify_organization, expected_hash
from apps.core import request_context

LOCK_NAMESPACE = 0x4D43


@dataclass
class Writer:
    org: object
    owner: object


def make_writer(email: str) -> Writer:
    """An organization and its owner, without the password hashing of tests.conftest.make_user
    (seconds per user on this machine): these tests only need someone to attribute events to."""
    owner = get_user_model().objects.create(username=email, email=email)
    return Writer(org=organization_create(name=email.split("@")[0].title(), actor=owner), owner=owner)


@pytest.fixture
def writer(db) -> Writer:
    return make_writer("owner@acme.test")


def reference_canonical(data) -> str:
    """The serialisation the existing chains were hashed with, spelled out independently."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_old_style(*, organization, event_type: str, actor, payload: dict) -> AuditEvent:
    """The writer of the first releases (lock, read the tail, unkeyed hash in Python, ORM
    insert), kept here to make legacy rows (chain_version 1) as they exist in databases
    migrated to the keyed chain; it keeps the head row as migration 0006 initialises it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, organization.pk])
        last = AuditEvent.objects.filter(organization_id=organization.pk).order_by("-seq").values_list(
            "seq", "hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, chain.GENESIS)
        event = AuditEvent(
            organization_id=organization.pk, seq=seq, created_at=timezone.now(), actor=actor,
            actor_label=actor.email, event_type=event_type, payload=json.loads(json.dumps(payload)),
            prev_hash=prev_hash, chain_version=chain.LEGACY,
        )
        event.hash = chain.event_hash(event.chain_content(), prev_hash)
        event.save(force_insert=True)
        AuditChainHead.objects.update_or_create(organization_id=organization.pk,
                                                defaults={"seq": seq, "hash": event.hash})
    return event


# --- canonical_parts: pure, no database -------------------------------------------------------

TRICKY_STRINGS = ['"seq":', '"seq":1,', '{"seq":', '\\"seq\\":2', "seq", '","seq":3,"', "\u2028", "🦄", "監査"]
texts = st.one_of(st.text(alphabet=st.characters(exclude_categories=("Cs",))), st.sampled_from(TRICKY_STRINGS))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
# keys that sort right around "seq", plus anything at all
top_keys = st.one_of(texts, st.sampled_from(["se", "seq", "seq ", "seqa", "sep", "ser", "", "SEQ", '"seq"', "seq\x00"]))


@given(
    content=st.dictionaries(top_keys, json_values | st.uuids() | st.datetimes(), max_size=8),
    seq=st.integers(),
)
@settings(max_examples=400, deadline=None)
def test_canonical_parts_put_together_with_any_seq_are_the_canonical_json(content, seq):
    prefix, suffix = chain.canonical_parts(content)
    joined = prefix + str(seq) + suffix
    assert joined == reference_canonical({**content, "seq": seq})
    assert joined.encode() == chain.canonical_json({**content, "seq": seq})
    assert json.loads(joined)["seq"] == seq
    prev = chain.GENESIS if seq % 2 else "ab" * 32
    assert chain.event_hash_from_parts(prefix, seq, suffix, prev) == chain.event_hash({**content, "seq": seq}, prev)


@pytest.mark.django_db
def test_a_hash_the_database_disagrees_with_is_refused(writer):
    """audit_stored checks the database's hash against the parts it was sent: a row whose hash
    does not match (another function body, say) raises and, in a transaction, rolls back."""
    from apps.audit.services import audit_prepare, audit_stored

    pending = audit_prepare(organization=writer.org, event_type="organization.updated", actor=writer.owner)
    good = chain.event_hash_from_parts(pending.params[13], 2, pending.params[14], "cd" * 32, pending.params[15])
    assert audit_stored(pending, (10**9, 2, good, "cd" * 32)).hash == good
    pending = audit_prepare(organization=writer.org, event_type="organization.updated", actor=writer.owner)
    with pytest.raises(RuntimeError, match="hash mismatch"):
        audit_stored(pending, (10**9, 2, good, "cd" * 32))  # another event's content


def test_canonical_parts_of_a_real_event_shape():
    content = {
        "id": "b0b1", "organization": 7, "seq": None, "created_at": "2026-01-01T00:00:00+00:00",
        "actor": "a@b.c", "event_type": "tool.called", "target": ["tool", "x", "y"],
        "payload": {"seq": 99, "note": '"seq":5,'}, "request_id": "", "ip": None, "user_agent": "",
    }
    prefix, suffix = chain.canonical_parts(content)
    assert prefix.endswith(',"request_id":"","seq":')
    assert suffix == ',"target":["tool","x","y"],"user_agent":""}'
    assert chain.canonical_parts({}) == ('{"seq":', "}")


def test_canonical_parts_refuses_non_string_keys():
    with pytest.raises(TypeError):
        chain.canonical_parts({1: "a"})


# --- the database function --------------------------------------------------------------------

def _stored(event) -> AuditEvent:
    return AuditEvent.objects.get(pk=event.pk)


@pytest.mark.django_db
def test_audit_record_is_one_round_trip(writer):
    with CaptureQueriesContext(connection) as ctx:
        audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner,
                     target=writer.org, payload={"name": "Acme"})
    assert len(ctx.captured_queries) == 1
    assert "mcpforge_audit_append(" in ctx.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_returned_event_is_the_stored_row(writer):
    token = request_context.set_current(
        request_context.RequestContext(request_id="req-1", ip="10.1.2.3", user_agent="agent/1.0"))
    try:
        event = audit_record(organization=writer.org, event_type="team.created", actor=writer.owner,
                             target_type="team", target_id="t" * 80, target_label="Support",
                             payload={"b": [1, 2.5, None], "a": {"z": True}})
    finally:
        request_context.reset(token)
    stored = _stored(event)
    assert event._state.adding is False and event._state.db == "default"
    assert event.actor == writer.owner and event.actor_id == writer.owner.pk
    for field in AuditEvent._meta.concrete_fields:
        assert getattr(event, field.attname) == getattr(stored, field.attname), field.name
    assert (stored.seq, stored.prev_hash) == (2, _stored_first(writer.org).hash)
    assert (stored.request_id, stored.ip, stored.user_agent) == ("req-1", "10.1.2.3", "agent/1.0")
    assert stored.target_id == "t" * 64
    assert event.chain_content() == stored.chain_content()
    with pytest.raises(AppendOnlyError):
        event.save()
    assert audit_verify_organization(writer.org) == (2, None)


def _stored_first(org) -> AuditEvent:
    return AuditEvent.objects.get(organization=org, seq=1)


UNICODE_PAYLOADS = [
    {"emoji": "🦄🔐👩🏽‍💻", "flag": "🇺🇦"},
    {"cjk": "監査ログ 审计日志 감사", "rtl": "سجل التدقيق", "combining": "e\u0301"},
    {"separators": "line\u2028para\u2029end", "bom": "\ufeff", "nbsp": "\u00a0"},
    {"controls": "\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f\x85", "quote": '"', "backslash": "\\"},
    {"ключ 🔑": {"nested": ["\u2028", "\x1f", {"seq": '"seq":42,'}]}, "seq": 1},
    {"big": 2**70, "neg": -1, "float": 0.1, "bool": False, "none": None, "empty": [{}, []]},
]


@pytest.mark.django_db
def test_postgres_hash_matches_chain_py_for_non_ascii_payloads(writer):
    for payload in UNICODE_PAYLOADS:
        event = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner,
                             actor_label="Zoë 🦊", target_label="目标\u2028", payload=payload)
        stored = _stored(event)
        assert stored.payload == payload
        assert stored.hash == expected_hash(stored), payload
    assert audit_verify_organization(writer.org) == (1 + len(UNICODE_PAYLOADS), None)


no_nul_texts = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
jsonb_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | no_nul_texts | st.sampled_from(TRICKY_STRINGS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(no_nul_texts, inner, max_size=3),
    max_leaves=12,
)


@pytest.mark.django_db
@given(payload=st.dictionaries(no_nul_texts, jsonb_values, max_size=5), label=no_nul_texts)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_postgres_hash_matches_chain_py_for_any_payload(writer, payload, label):
    event = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner,
                         target_label=label, payload=payload)
    stored = _stored(event)
    assert stored.hash == event.hash == expected_hash(stored)


def _bare_org(slug: str):
    """An organization with no event yet (organization_create audits its creation, keyed)."""
    from apps.accounts.models import Organization

    owner = get_user_model().objects.create(username=f"{slug}@acme.test", email=f"{slug}@acme.test")
    return Organization.objects.create(name=slug.title(), slug=slug, created_by=owner), owner


@pytest.mark.django_db
def test_legacy_rows_then_keyed_rows_form_one_chain():
    """A database migrated to the keyed chain: its old sha256 rows, then keyed rows linked to them."""
    org, owner = _bare_org("legacy")
    for i in range(3):
        record_old_style(organization=org, event_type="organization.updated", actor=owner,
                         payload={"old": i, "text": "監査 🦄"})
    for i in range(3):
        audit_record(organization=org, event_type="organization.updated", actor=owner,
                     payload={"new": i, "text": "監査 🦄"})
    events = list(AuditEvent.objects.filter(organization=org).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 7))
    assert [e.chain_version for e in events] == [chain.LEGACY] * 3 + [chain.KEYED] * 3
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert audit_verify_organization(org) == (6, None)


@pytest.mark.django_db
def test_a_legacy_row_after_a_keyed_one_is_a_break():
    """Someone without the key rewriting the newest row with the public sha256 and marking it
    legacy: refused, though its hash and link are right."""
    org, owner = _bare_org("downgrade")
    audit_record(organization=org, event_type="organization.updated", actor=owner)
    record_old_style(organization=org, event_type="organization.updated", actor=owner, payload={"forged": 1})
    checked, brk = audit_verify_organization(org)
    assert (checked, brk.seq) == (2, 2) and "only keyed events may follow" in brk.reason


@pytest.mark.django_db
def test_the_unkeyed_append_function_is_gone():
    """A server of the previous release (15 arguments, no key) fails closed rather than
    appending rows that verification would call tampering."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'mcpforge_audit_append'")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT pg_get_function_identity_arguments('mcpforge_audit_append'::regproc)")
        assert "p_content_suffix text, p_chain_key bytea, OUT id" in cursor.fetchone()[0]


@pytest.mark.django_db
def test_rollback_inside_atomic_leaves_no_row_and_keeps_the_chain(writer):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        ghost = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner,
                             payload={"ghost": True})
        raise Boom
    assert not AuditEvent.objects.filter(pk=ghost.pk).exists()
    event = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner)
    assert event.seq == ghost.seq == 2 and event.prev_hash == ghost.prev_hash
    assert audit_verify_organization(writer.org) == (2, None)


@pytest.mark.django_db
def test_a_row_the_database_refuses_rolls_back_the_change(writer):
    """Fail-closed when the database itself rejects the event (a request id longer than its
    varchar(64) column: only a caller that bypasses the middleware's check could send one)."""
    with pytest.raises(DataError), transaction.atomic(), \
            request_context.active(request_context.RequestContext(request_id="r" * 65)):
        Team.objects.create(organization=writer.org, name="Ghost", slug="ghost")
        audit_record(organization=writer.org, event_type="team.created", actor=writer.owner,
                     payload={"note": "ghost"})
    assert not Team.objects.filter(slug="ghost").exists()
    assert audit_verify_organization(writer.org) == (1, None)


# --- transactions: autocommit and the caller's atomic block ------------------------------------

def _lock_is_free_elsewhere(org_id: int) -> bool:
    """Ask from another connection (another thread) whether the chain lock could be taken now."""
    result = []

    def probe():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, org_id])
                result.append(cursor.fetchone()[0])
        finally:
            connections.close_all()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result[0]


@pytest.mark.django_db(transaction=True)
def test_autocommit_one_statement_commits_and_releases_the_lock(django_assert_num_queries):
    w = make_writer("auto@acme.test")
    owner, org = w.owner, w.org
    assert connection.get_autocommit() and not connection.in_atomic_block
    with django_assert_num_queries(1):
        event = audit_record(organization=org, event_type="organization.updated", actor=owner, payload={"k": "ü"})
    assert _lock_is_free_elsewhere(org.pk)
    # committed: another connection sees it
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert audit_verify_organization(org) == (2, None)


@pytest.mark.django_db(transaction=True)
def test_inside_atomic_the_lock_is_held_until_commit_and_rollback_removes_the_event():
    w = make_writer("atomic@acme.test")
    owner, org = w.owner, w.org
    with transaction.atomic():
        kept = audit_record(organization=org, event_type="organization.updated", actor=owner)
        assert not _lock_is_free_elsewhere(org.pk)
    assert _lock_is_free_elsewhere(org.pk)
    try:
        with transaction.atomic():
            Team.objects.create(organization=org, name="Ghost", slug="ghost")
            ghost = audit_record(organization=org, event_type="team.created", actor=owner)
            assert not _lock_is_free_elsewhere(org.pk)
            raise RuntimeError("caller fails after auditing")
    except RuntimeError:
        pass
    assert _lock_is_free_elsewhere(org.pk)
    assert not AuditEvent.objects.filter(pk=ghost.pk).exists()
    assert not Team.objects.filter(slug="ghost").exists()
    assert list(AuditEvent.objects.filter(organization=org).values_list("seq", flat=True)) == [kept.seq, 1]
    assert audit_verify_organization(org) == (2, None)


def test_a_batch_appends_in_order_in_one_statement_and_joins_the_chain(writer):
    from apps.audit.services import audit_prepare, audit_write_many

    audit_record(organization=writer.org, event_type="project.created", actor=writer.owner, payload={"n": 0})
    pending = [audit_prepare(organization=writer.org, event_type="tool.call_completed", actor=writer.owner,
                             payload={"n": n, "note": "ünïcode", "nested": {"a": [1, 2.5, None]}})
               for n in range(1, 6)]
    with CaptureQueriesContext(connection) as queries:
        stored = audit_write_many(pending)
    assert len(queries) == 1
    first = AuditEvent.objects.filter(organization=writer.org, event_type="project.created").get().seq
    assert [e.seq for e in stored] == list(range(first + 1, first + 6))
    assert [e.payload["n"] for e in stored] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    rows = list(AuditEvent.objects.filter(organization=writer.org).order_by("seq").values_list("seq", "payload"))
    assert [p.get("n") for _, p in rows[-5:]] == [1, 2, 3, 4, 5]
    assert audit_verify_organization(writer.org) == (len(rows), None)
    assert audit_write_many([]) == []


def test_a_batch_and_single_appends_interleave_across_connections(transactional_db):
    """Batches on one connection and single appends on others, concurrently: one gapless chain."""
    from apps.audit.services import audit_prepare, audit_write_many

    target = make_writer("batch@acme.test")
    errors: list[BaseException] = []

    def work(batch: bool) -> None:
        try:
            for i in range(10):
                if batch:
                    audit_write_many([audit_prepare(organization=target.org, event_type="tool.call_completed",
                                                    actor=target.owner, payload={"i": i, "k": k}) for k in range(3)])
                else:
                    audit_record(organization=target.org, event_type="tool.called", actor=target.owner,
                                 payload={"i": i})
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n % 2 == 0,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    seqs = list(AuditEvent.objects.filter(organization=target.org).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 1 + 2 * 10 * 3 + 2 * 10
    assert audit_verify_organization(target.org) == (len(seqs), None)


@pytest.mark.django_db(transaction=True)
def test_an_organization_id_beyond_32_bits_still_writes_its_chain():
    """The chain lock's key is the id modulo 2^31 (migration 0004): the cast to integer of
    0003 refused such ids, and fail-closed audit would have frozen the organization."""
    from apps.accounts.models import Organization
    from apps.audit.services import audit_prepare, audit_write_many

    owner = get_user_model().objects.create(username="big@acme.test", email="big@acme.test")
    org = Organization.objects.create(id=2**31 + 7, name="Big", slug="big-ids", created_by=owner)
    first = audit_record(organization=org, event_type="organization.updated", actor=owner, payload={"n": 1})
    batch = audit_write_many([audit_prepare(organization=org, event_type="organization.updated", actor=owner,
                                            payload={"n": n}) for n in (2, 3)])
    assert [first.seq, *(e.seq for e in batch)] == [1, 2, 3]
    assert audit_verify_organization(org) == (3, None)
    with transaction.atomic():
        audit_record(organization=org, event_type="organization.updated", actor=owner)
        assert not _lock_is_free_elsewhere(7)  # held under the wrapped key until commit
    assert _lock_is_free_elsewhere(7)


@pytest.mark.django_db
def test_the_append_reads_the_head_row_not_the_events_table(writer):
    """Each append takes its seq and prev_hash from audit_chainhead (kept in the same
    statement), never from a lookup of the last event: the cost of an append does not grow
    with the log or depend on planner statistics (bench/audit_append.py)."""
    for n in range(3):
        audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner, payload={"n": n})
    head = AuditChainHead.objects.get(organization=writer.org)
    last = AuditEvent.objects.filter(organization=writer.org).order_by("-seq").first()
    assert (head.seq, head.hash) == (last.seq, last.hash) == (4, last.hash)
    # A head moved ahead of the table (as only the head row can say): the next append follows it.
    AuditChainHead.objects.filter(organization=writer.org).update(seq=41, hash="ab" * 32)
    event = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner)
    assert (event.seq, event.prev_hash) == (42, "ab" * 32)
    assert AuditChainHead.objects.filter(organization=writer.org).values_list("seq", "hash").get() == (42, event.hash)
    # and audit_verify notices the gap such a head leaves
    assert audit_verify_organization(writer.org)[1].seq == 42


@pytest.mark.django_db
def test_a_missing_head_of_an_existing_chain_fails_closed(writer):
    AuditChainHead.objects.filter(organization=writer.org).delete()
    with pytest.raises(IntegrityError, match="auditevent_unique_seq_per_org"), transaction.atomic():
        audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner)
    assert AuditEvent.objects.filter(organization=writer.org).count() == 1
