"""The event audit_prepare hashes is the row audit_verify reads back: jsonb normalises numbers
(1e16 returns as the integer 10000000000000000, -0.0 as 0.0, and refuses NaN and Infinity),
inet normalises addresses ("2001:DB8::0:1" returns as "2001:db8::1"). Tool-call arguments land
in the payload, so an agent chooses these values: none of them may make verification report
tampering, or keep the event from being written."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.audit.models import AuditEvent
from apps.audit.services import (
    audit_prepare,
    audit_record,
    audit_verify_organization,
    audit_write_many,
    expected_hash,
    stored_ip,
)
from apps.core import request_context
from tests.audit.test_append import Writer, make_writer

NAN, INF = float("nan"), float("inf")
# Floats json writes in a form jsonb gives back differently, and some it gives back unchanged.
TRICKY_FLOATS = [1e16, -0.0, 1.5e-7, 1e23, 1.0, 1e-5, 12345678901234567.0, -1e16, 1.7976931348623157e308,
                 5e-324, -2.5e-300, 0.1, 1e15]
NUMBER_PAYLOAD = {
    "big": 1e16, "neg_zero": -0.0, "small": 1.5e-7, "huge": 1e23, "one": 1.0,
    "int70": 2**70, "neg_int100": -(2**100),
    "nan": NAN, "inf": INF, "ninf": -INF,
    "list": [1e16, [-0.0, {"x": 1e+23, "y": [NAN, 1.5e-7]}], 2**70, 1.0, "1e+16", "-0.0", "NaN"],
    "nested": {"a": {"b": {"c": [-INF, 1e300, -1e-300, 0.0]}}, "1e+16": -0.0},
}
# What jsonb gives back for it (NaN and the infinities recorded as strings).
NUMBER_PAYLOAD_STORED = {
    "big": 10**16, "neg_zero": 0.0, "small": 1.5e-7, "huge": 10**23, "one": 1.0,
    "int70": 2**70, "neg_int100": -(2**100),
    "nan": "NaN", "inf": "Infinity", "ninf": "-Infinity",
    "list": [10**16, [0.0, {"x": 10**23, "y": ["NaN", 1.5e-7]}], 2**70, 1.0, "1e+16", "-0.0", "NaN"],
    "nested": {"a": {"b": {"c": ["-Infinity", 10**300, -1e-300, 0.0]}}, "1e+16": 0.0},
}
TRICKY_IPS = ["2001:DB8::0:1", "::ffff:1.2.3.4", "::FFFF:102:304", "::1:2", "::ffff:0", "fe80::1%eth0", "10.0.0.1"]


@pytest.fixture
def writer(db) -> Writer:
    return make_writer("stored@acme.test")


def _check_stored(events: list[AuditEvent]) -> None:
    for event in events:
        row = AuditEvent.objects.get(pk=event.pk)
        assert (row.payload, row.ip) == (event.payload, event.ip)
        assert row.hash == event.hash == expected_hash(row)


def _prepare(w: Writer, payload, ip):
    with request_context.active(request_context.RequestContext(request_id="r", ip=ip, user_agent="agent/1")):
        return audit_prepare(organization=w.org, event_type="tool.call_completed", actor=w.owner, payload=payload)


def test_numbers_are_prepared_as_jsonb_gives_them_back():
    pending = _prepare(Writer(org=type("Org", (), {"pk": 1})(), owner=None), NUMBER_PAYLOAD, None)
    assert pending.event.payload == NUMBER_PAYLOAD_STORED
    # the text the database receives is that value too, with no token jsonb would change
    assert json.loads(pending.params[9], parse_float=_unchanged_by_jsonb, parse_constant=_refused_by_jsonb) \
        == NUMBER_PAYLOAD_STORED


def _unchanged_by_jsonb(token: str) -> float:
    assert "e+" not in token and token != "-0.0", token
    return float(token)


def _refused_by_jsonb(token: str):
    pytest.fail(f"{token} in the JSON text sent to jsonb")


def test_the_stored_ip_is_the_text_inet_returns():
    assert [stored_ip(ip) for ip in TRICKY_IPS] == [
        "2001:db8::1", "::ffff:1.2.3.4", "::ffff:1.2.3.4", "::0.1.0.2", "::255.255.0.0", "fe80::1", "10.0.0.1"]
    assert [stored_ip(ip) for ip in (None, "", "unknown", " 1.2.3.4", "10.0.0.0/8", "1.2.3")] == [None] * 6


@pytest.mark.django_db
def test_single_appends_of_tricky_numbers_and_ips_verify(writer):
    events = []
    for ip in [*TRICKY_IPS, None, ""]:
        with request_context.active(request_context.RequestContext(request_id="r", ip=ip, user_agent="agent/1")):
            events.append(audit_record(organization=writer.org, event_type="tool.call_completed", actor=writer.owner,
                                       payload=NUMBER_PAYLOAD))
    assert [e.payload for e in events] == [NUMBER_PAYLOAD_STORED] * len(events)
    assert events[0].ip == "2001:db8::1" and events[1].ip == "::ffff:1.2.3.4" and events[-1].ip is None
    _check_stored(events)
    assert audit_verify_organization(writer.org) == (1 + len(events), None)


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize("payload", [{"x": 1e16}, {"x": [{"y": -0.0}]}, {"x": {"y": [1e+23]}}, {"x": -1.5e+300}])
def test_a_finite_float_an_agent_chose_does_not_look_like_tampering(payload, batch):
    w = make_writer(f"float-{uuid.uuid4().hex[:8]}@acme.test")
    pending = _prepare(w, payload, None)
    [event] = audit_write_many([pending]) if batch else [audit_record(organization=w.org, event_type="tool.called",
                                                                      actor=w.owner, payload=payload)]
    assert audit_verify_organization(w.org) == (2, None)


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_nan_and_infinities_are_recorded_as_strings(writer, batch):
    payload = {"args": {"x": NAN, "y": [INF, -INF]}}
    if batch:
        [event] = audit_write_many([_prepare(writer, payload, None)])
    else:
        event = audit_record(organization=writer.org, event_type="tool.called", actor=writer.owner, payload=payload)
    assert AuditEvent.objects.get(pk=event.pk).payload == {"args": {"x": "NaN", "y": ["Infinity", "-Infinity"]}}
    assert audit_verify_organization(writer.org) == (2, None)


@pytest.mark.django_db
@pytest.mark.parametrize("ip", ["2001:DB8::0:1", "::ffff:102:304", "::1:2", "", "unknown"])
def test_a_request_ip_in_any_spelling_verifies(writer, ip):
    with request_context.active(request_context.RequestContext(ip=ip)):
        audit_record(organization=writer.org, event_type="tool.called", actor=writer.owner)
        audit_write_many([_prepare(writer, {}, ip)])
    assert audit_verify_organization(writer.org) == (3, None)


@pytest.mark.django_db
def test_a_batch_of_tricky_numbers_and_ips_verifies(writer):
    payloads = [NUMBER_PAYLOAD, {"v": 1e16}, {"v": [-0.0]}, {"v": {"w": NAN}}, {"v": 1e+23}, {"v": 2**70}]
    pending = [_prepare(writer, payload, ip) for payload in payloads for ip in [*TRICKY_IPS, "not an ip"]]
    events = audit_write_many(pending)
    assert events[0].payload == NUMBER_PAYLOAD_STORED and events[0].ip == "2001:db8::1"
    _check_stored(events)
    assert audit_verify_organization(writer.org) == (1 + len(pending), None)


# any address, and often one whose first 80 or 96 bits are zero (the forms inet prints with a dotted tail)
addresses = st.one_of(st.ip_addresses(),
                      *(st.ip_addresses(network=net) for net in ("::ffff:0:0/96", "::/96", "::/112")))


@pytest.mark.django_db
@given(address=addresses)
@settings(max_examples=300, deadline=None)
def test_stored_ip_is_what_postgres_prints_for_any_address(address):
    spellings = {str(address), str(address).upper(), address.exploded}
    with connection.cursor() as cursor:
        for text in spellings:
            cursor.execute("SELECT %s::inet", [text])  # loaded as Django loads inet: its text
            assert stored_ip(text) == cursor.fetchone()[0], text


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_nul_and_lone_surrogates_are_replaced_not_refused(writer, batch):
    """An upstream error text or an argument with characters PostgreSQL cannot store: the event
    is written (U+FFFD in their place) instead of refused, with the rest of its batch."""
    payload = {"message": "boom\x00after", "arg": "\ud800x", "emoji": "\U0001F600 ok", "k\x00": [1, "\udfff"]}
    stored = {"message": "boom\ufffdafter", "arg": "\ufffdx", "emoji": "\U0001F600 ok", "k\ufffd": [1, "\ufffd"]}
    if batch:
        events = audit_write_many([_prepare(writer, {"ok": 1}, None), _prepare(writer, payload, None)])
    else:
        events = [audit_record(organization=writer.org, event_type="tool.called", actor=writer.owner,
                               payload=payload)]
    assert AuditEvent.objects.get(pk=events[-1].pk).payload == stored == events[-1].payload
    _check_stored(events)
    assert audit_verify_organization(writer.org) == (1 + len(events), None)


# Any JSON-like payload an agent could send: every float (NaN, infinities, -0.0, subnormals,
# those with an exponent) and ints of any size, nested; strings of any characters (NUL and
# lone surrogates, which PostgreSQL cannot store, included).
db_texts = st.text(max_size=12)
numbers = st.floats() | st.sampled_from([*TRICKY_FLOATS, NAN, INF, -INF]) | st.integers() | st.sampled_from(
    [2**63, 2**70, -(2**100), 10**40])
json_like = st.recursive(
    st.none() | st.booleans() | numbers | db_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(db_texts, inner, max_size=4),
    max_leaves=16,
)
payloads = st.dictionaries(db_texts, json_like, max_size=5)
ips = st.none() | addresses.map(str) | st.sampled_from(TRICKY_IPS)


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(map(_finite, value))
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    return True


@pytest.mark.django_db
@given(payload=payloads, ip=ips)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_payload_and_ip_verify_when_appended_singly(writer, payload, ip):
    with request_context.active(request_context.RequestContext(ip=ip)):
        event = audit_record(organization=writer.org, event_type="tool.call_completed", actor=writer.owner,
                             payload=payload)
    assert _finite(event.payload)
    _check_stored([event])
    assert audit_verify_organization(writer.org)[1] is None


@pytest.mark.django_db
@given(batch=st.lists(st.tuples(payloads, ips), min_size=1, max_size=4))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_payload_and_ip_verify_when_appended_in_a_batch(batch):
    w = make_writer(f"any-{uuid.uuid4().hex[:8]}@acme.test")
    events = audit_write_many([_prepare(w, payload, ip) for payload, ip in batch])
    _check_stored(events)
    assert audit_verify_organization(w.org) == (1 + len(batch), None)


@pytest.mark.django_db
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                           timezones=st.sampled_from([UTC, timezone(timedelta(hours=-9, minutes=-30))])))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_verification_reads_the_time_as_chain_content_writes_it(moment):
    """audit_verify has PostgreSQL spell created_at (services.ISO_UTC_SQL): the same text as the
    stored value's isoformat() (UTC, no fraction when it is zero), or every event would break."""
    from apps.audit.services import ISO_UTC_SQL

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ISO_UTC_SQL} FROM (VALUES (%s::timestamptz)) v(created_at)", [moment])  # noqa: S608
        assert cursor.fetchone()[0] == moment.astimezone(UTC).isoformat()
