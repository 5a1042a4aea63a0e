"""The batch append (``APPEND_MANY_SQL``) sends its events as one JSON parameter: every value
must reach ``mcpforge_audit_append`` exactly as a single append's parameter does, since the
hash is computed from the canonical texts the database receives."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.audit.models import AuditEvent
from apps.audit.services import (
    _APPEND_TYPES,
    APPEND_MANY_ARGS,
    APPEND_MANY_ROWS,
    APPEND_MANY_SQL,
    PendingEvent,
    append_many_params,
    audit_prepare,
    audit_record,
    audit_verify_organization,
    audit_write_many,
    expected_hash,
)
from apps.core import request_context
from tests.audit.test_append import TRICKY_STRINGS, UNICODE_PAYLOADS, jsonb_values, make_writer

# What the database can store (no NUL in text or jsonb; no lone surrogates in UTF-8).
db_texts = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
texts = db_texts | st.sampled_from([*TRICKY_STRINGS, '\\', '\\"', "\n\r\t", "'", "''", "%s", "%(x)s", "😀𝄞\U0010fffd"])
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=offsets)
bigints = st.integers(-(2**63) + 1, 2**63 - 1)  # -2**63: the reference, client-side "-9…08::bigint", overflows
ips = st.none() | st.ip_addresses().map(str)
param_rows = st.tuples(
    bigints, st.uuids(), moments, st.none() | bigints, texts, texts, texts, texts, texts,
    st.dictionaries(db_texts, jsonb_values, max_size=4).map(json.dumps), texts, ips, texts, texts, texts,
    st.binary(min_size=32, max_size=32),
).map(list)


TEXT_COLUMNS = [i for i, t in enumerate(_APPEND_TYPES) if t in ("varchar", "text")]


def _single_values(cursor, params: list) -> tuple:
    """The parameters as a single append receives them (``APPEND_SQL``'s %s::type), as text."""
    cursor.execute("SELECT " + ", ".join(f"(%s::{t})::text" for t in _APPEND_TYPES), params)
    return cursor.fetchone()


def _batch_values(cursor, rows: list[list]) -> list[tuple]:
    """The same values as the batch statement hands them to the function, as text."""
    args = ", ".join(f"({arg})::text" for arg in APPEND_MANY_ARGS)
    cursor.execute(f"SELECT v.n, {args} FROM {APPEND_MANY_ROWS} ORDER BY v.n",  # noqa: S608 (constants)
                   append_many_params([PendingEvent(event=None, params=row) for row in rows]))
    return cursor.fetchall()


def test_the_batch_is_one_parameter_and_calls_the_function_with_every_type():
    assert APPEND_MANY_SQL.count("%s") == 1
    assert len(APPEND_MANY_ARGS) == len(_APPEND_TYPES) == 16
    assert all(arg.endswith(f"::{t}") for arg, t in zip(APPEND_MANY_ARGS, _APPEND_TYPES, strict=True))


@pytest.mark.django_db
@given(rows=st.lists(param_rows, min_size=1, max_size=4))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_batch_values_reach_the_function_exactly_as_single_parameters(rows):
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: one example's error stays its own
        batch = _batch_values(cursor, rows)
        assert [row[0] for row in batch] == list(range(1, len(rows) + 1))
        for params, got in zip(rows, batch, strict=True):
            assert got[1:] == _single_values(cursor, params)
            # the strings (the canonical texts the hash is computed from among them) byte for byte
            assert [got[1 + i] for i in TEXT_COLUMNS] == [params[i] for i in TEXT_COLUMNS]
            assert (got[4] is None) is (params[3] is None) and (got[12] is None) is (params[11] is None)
            assert got[16] == "\\x" + params[15].hex()  # the chain key, byte for byte


@pytest.mark.django_db
def test_batch_timestamps_keep_microseconds_and_offset():
    moment = datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    row = [1, uuid.uuid4(), moment, None, "", "", "", "", "", "{}", "", None, "", "", "", b"k" * 32]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({APPEND_MANY_ARGS[2]}) FROM {APPEND_MANY_ROWS}",  # noqa: S608 (constants)
                       append_many_params([PendingEvent(event=None, params=row)]))
        assert cursor.fetchone()[0] == moment == datetime(2026, 3, 28, 20, 29, 59, 999_999, tzinfo=UTC)


def test_batch_refuses_a_parameter_it_cannot_spell_exactly():
    row = [1, uuid.uuid4(), datetime.now(UTC), None, "", "", "", "", "", "{}", "", ipaddress.ip_address("::1"),
           "", "", "", b"k" * 32]
    with pytest.raises(TypeError, match="IPv6Address"):
        append_many_params([PendingEvent(event=None, params=row)])


TRICKY_EVENTS = [
    {"quotes": "'\"''\"\"", "backslashes": "\\ \\\\ \\n \\u0041 \\\"", "newlines": "a\nb\r\nc\td"},
    {"note": '"seq":1,"seq":2', "seq": '{"seq":3}', "nested": [{"seq": 4}, "\"seq\":"]},
    {"astral": "😀𝄞🦄\U0010fffd", "cjk": "監査ログ", "escape": "\\ud83d\\ude00", "percent": "%s %(x)s %%"},
    *UNICODE_PAYLOADS,
]


def _assert_stored_exactly(events: list[AuditEvent]) -> None:
    stored = AuditEvent.objects.in_bulk([e.pk for e in events])
    for event in events:
        row = stored[event.pk]
        for field in AuditEvent._meta.concrete_fields:
            assert getattr(row, field.attname) == getattr(event, field.attname), field.name
        assert row.created_at.microsecond == event.created_at.microsecond
        assert row.chain_content() == event.chain_content()


@pytest.mark.django_db
def test_a_batch_of_tricky_events_is_stored_exactly_and_verifies():
    writer = make_writer("tricky@acme.test")
    first = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner).seq
    contexts = [
        request_context.RequestContext(request_id='req "1"\\', ip="2001:db8::1", user_agent="agent\n🦊/1.0"),
        request_context.RequestContext(),  # no request: empty strings and a NULL ip
        request_context.RequestContext(request_id="r-3", ip="::ffff:10.0.0.1", user_agent="ua'"),
    ]
    pending = []
    for n, payload in enumerate(TRICKY_EVENTS):
        with request_context.active(contexts[n % len(contexts)]):
            pending.append(audit_prepare(
                organization=writer.org, event_type="tool.call_completed",
                actor=writer.owner if n % 2 else None, actor_label=None if n % 2 else "Zoë \"system\" \\ 🦊",
                target_type="tool", target_id=f'id"{n}\\', target_label=f"目标 {n}\u2028\n'\"", payload=payload))
    assert any(p.params[3] is None for p in pending) and any(p.params[11] is None for p in pending)
    with CaptureQueriesContext(connection) as queries:
        events = audit_write_many(pending)
    assert len(queries) == 1
    assert [e.seq for e in events] == list(range(first + 1, first + 1 + len(TRICKY_EVENTS)))
    assert [e.payload for e in events] == TRICKY_EVENTS
    assert events[0].actor_id is None and events[0].actor_label.startswith("Zoë") and events[1].ip is None
    assert AuditEvent.objects.get(pk=events[0].pk).ip == "2001:db8::1"
    assert AuditEvent.objects.get(pk=events[1].pk).ip is None
    _assert_stored_exactly(events)
    assert audit_verify_organization(writer.org) == (first + len(TRICKY_EVENTS), None)


@pytest.mark.django_db
def test_batch_and_single_appends_store_the_same_payload():
    """The payload reaches jsonb as the same value either way: the object, not the JSON string
    that carries it in the batch."""
    writer = make_writer("same@acme.test")
    payload = {"b": 1.0, "a": 1e2, "big": 2**70, "float": 0.1, "nested": {"z": 1, "a": [1.5e-7, "x"]}}
    single = audit_record(organization=writer.org, event_type="organization.updated", actor=writer.owner,
                          payload=payload)
    [batched] = audit_write_many([audit_prepare(organization=writer.org, event_type="organization.updated",
                                                actor=writer.owner, payload=payload)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload::text FROM audit_auditevent WHERE id IN (%s, %s) ORDER BY seq",
                       [single.pk, batched.pk])
        texts_stored = [row[0] for row in cursor.fetchall()]
    assert texts_stored[0] == texts_stored[1] and texts_stored[0].startswith('{"a": 100.0')
    assert audit_verify_organization(writer.org) == (3, None)


@pytest.mark.django_db
@given(payloads=st.lists(st.dictionaries(db_texts, jsonb_values, max_size=4), min_size=1, max_size=5),
       label=db_texts)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_batch_hash_matches_chain_py_for_any_payload(payloads, label):
    writer = make_writer(f"any-{uuid.uuid4().hex[:8]}@acme.test")
    events = audit_write_many([audit_prepare(organization=writer.org, event_type="tool.call_completed",
                                             actor=writer.owner, target_label=label, payload=payload)
                               for payload in payloads])
    for event in events:
        stored = AuditEvent.objects.get(pk=event.pk)
        assert stored.hash == event.hash == expected_hash(stored)
    assert audit_verify_organization(writer.org) == (1 + len(payloads), None)
