"""audit_prepare's shortcuts (the event built without Model.__init__, its content serialised
member by member, a plain payload not parsed back, shared C encoders) give exactly what the
plain way gave: the same instance, the same parameters, the same bytes hashed. No database."""

from __future__ import annotations

import enum
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models.signals import post_init, pre_init
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.accounts.models import Organization
from apps.audit import chain, keys
from apps.audit import services as audit_services
from apps.audit.models import AuditEvent
from apps.audit.redact import redact
from apps.audit.services import _json_plain, _jsonb_payload, _unsaved_event, audit_prepare
from apps.core import request_context
from tests.audit.test_append import json_values, texts


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types throughout (== alone takes 1 for 1.0 and True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


# --- the instance ---------------------------------------------------------------------------

def _values(**changes: Any) -> dict[str, Any]:
    values = {
        "organization_id": 7, "public_id": uuid.uuid4(), "seq": None, "created_at": datetime.now(UTC),
        "actor_label": "a@b.c", "event_type": "tool.called", "target_type": "tool", "target_id": "t-1",
        "target_label": "get_pet in petstore/production", "payload": {"x": [1, "y"]}, "request_id": "r",
        "ip": "127.0.0.1", "user_agent": "agent/1",
    }
    return {**values, **changes}


def _state(event: AuditEvent) -> dict[str, Any]:
    return {"adding": event._state.adding, "db": event._state.db, "fields_cache": event._state.fields_cache}


def _user(pk=5):
    return get_user_model()(pk=pk, username=f"u{pk}", email=f"u{pk}@acme.test")


@pytest.mark.parametrize("actor", [None, "user"])
def test_the_unsaved_event_is_the_constructed_one(actor):
    values = _values()
    built = _unsaved_event(_user() if actor else None, values)
    constructed = AuditEvent(actor=_user() if actor else None, **values)
    assert type(built) is AuditEvent
    assert list(built.__dict__) == list(constructed.__dict__)  # same attributes, same order
    assert {k: v for k, v in built.__dict__.items() if k != "_state"} == {
        k: v for k, v in constructed.__dict__.items() if k != "_state"}
    assert _state(built) == _state(constructed)
    assert built.actor == constructed.actor and built.pk is None
    assert built.chain_content() == constructed.chain_content()


def test_the_unsaved_event_refuses_what_the_constructor_refuses():
    with pytest.raises(ValueError, match="must be a"):
        _unsaved_event(Organization(pk=3), _values())


def test_a_listener_of_the_init_signals_gets_the_constructor():
    seen = []

    def listener(sender, **kwargs):
        seen.append(sender)

    for signal in (pre_init, post_init):
        signal.connect(listener, sender=AuditEvent)
        try:
            event = _unsaved_event(None, _values())
        finally:
            signal.disconnect(listener, sender=AuditEvent)
        assert seen == [AuditEvent] and event.actor_id is None
        seen.clear()
    _unsaved_event(None, _values())
    assert seen == []


# --- the serialisation --------------------------------------------------------------------------

members = json_values | st.uuids() | st.datetimes() | st.tuples(texts, texts) | st.just(None)


@given(actor=members, created_at=members, event_type=members, event_id=members, ip=members, organization=members,
       payload=members, request_id=members, target=members, user_agent=members, seq=st.integers())
@settings(max_examples=400, deadline=None)
def test_event_parts_are_canonical_parts(actor, created_at, event_type, event_id, ip, organization, payload,
                                         request_id, target, user_agent, seq):
    content = {"id": event_id, "organization": organization, "seq": None, "created_at": created_at, "actor": actor,
               "event_type": event_type, "target": target, "payload": payload, "request_id": request_id, "ip": ip,
               "user_agent": user_agent}
    parts = chain.event_parts(actor=actor, created_at=created_at, event_type=event_type, event_id=event_id, ip=ip,
                              organization=organization, payload=payload, request_id=request_id, target=target,
                              user_agent=user_agent)
    assert parts == chain.canonical_parts(content)
    assert (parts[0] + str(seq) + parts[1]).encode() == chain.canonical_json({**content, "seq": seq})


class Level(enum.IntEnum):
    HIGH = 3


class Text(str):
    pass


odd_leaves = st.sampled_from([Level.HIGH, Text("sub"), True, False, 1.0, -0.0, 1e16, math.inf, math.nan,
                              datetime(2026, 1, 1, tzinfo=UTC), uuid.UUID(int=1), {1, 2}, b"x", "\x00", "\ud800",
                              "🦄", 2**70])
trees = st.recursive(
    json_values | odd_leaves,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(texts | st.integers() | st.sampled_from([Level.HIGH, 1.5, None]), inner,
                                     max_size=4)),
    max_leaves=20,
)


@given(value=trees)
@settings(max_examples=600, deadline=None)
def test_the_shared_encoders_write_what_the_encoders_write(value):
    for encoder in (chain._ENCODER, audit_services._PAYLOAD_ENCODER, json.JSONEncoder(sort_keys=True, default=str)):
        try:
            expected = encoder.encode(value)
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                chain.tree_encoder(encoder)(value)
        else:
            assert chain.tree_encoder(encoder)(value) == expected


def reference_jsonb_payload(payload: Any) -> tuple[str, Any]:
    """_jsonb_payload as it was: the plain case always parsed back."""
    text = audit_services._PAYLOAD_ENCODER.encode(payload)
    numbers = "e+" in text or "-0.0" in text or "NaN" in text or "Infinity" in text
    strings = "\\u0000" in text or "\\ud" in text
    if not (numbers or strings):
        return text, json.loads(text)
    value = audit_services._JSONB_DECODER.decode(text) if numbers else json.loads(text)
    if strings:
        value = audit_services._jsonb_strings(value)
    return audit_services._PAYLOAD_ENCODER.encode(value), value


@given(value=st.dictionaries(texts, trees, max_size=6))
@settings(max_examples=600, deadline=None)
def test_the_stored_payload_is_the_one_parsed_back(value):
    payload = redact(value)
    expected_text, expected = reference_jsonb_payload(payload)
    text, clean = _jsonb_payload(payload)
    assert text == expected_text
    assert same(clean, expected)
    if _json_plain(payload):
        assert same(json.loads(json.dumps(payload)), payload)


def test_plain_means_json_types_exactly():
    assert _json_plain({"a": [1, 1.5, True, None, "x", {"b": []}]})
    for odd in (Level.HIGH, Text("x"), (1,), {1: "a"}, {"a": {Level.HIGH: 1}}, [datetime(2026, 1, 1)], b"x", {1}):
        assert not _json_plain(odd) and not _json_plain({"k": [odd]})


# --- the whole event ---------------------------------------------------------------------------

def reference_prepare_params(pending) -> list[Any]:
    """The parameters audit_prepare sent before, for the event ``pending`` holds (same id and
    time): an AuditEvent constructed, its content split by canonical_parts."""
    e = pending.event
    event = AuditEvent(organization_id=e.organization_id, seq=None, public_id=e.public_id, created_at=e.created_at,
                       actor=e.actor, actor_label=e.actor_label, event_type=e.event_type, target_type=e.target_type,
                       target_id=e.target_id, target_label=e.target_label, payload=e.payload,
                       request_id=e.request_id, ip=e.ip, user_agent=e.user_agent)
    prefix, suffix = chain.canonical_parts(event.chain_content())
    return [event.organization_id, event.public_id, event.created_at, event.actor_id, event.actor_label,
            event.event_type, event.target_type, event.target_id, event.target_label, pending.params[9],
            event.request_id, event.ip, event.user_agent, prefix, suffix, keys.org_key(event.organization_id)]


@given(payload=st.dictionaries(texts, trees, max_size=6), actor=st.sampled_from([None, "user", "unsaved"]),
       ip=st.sampled_from([None, "127.0.0.1", "::FFFF:1.2.3.4", "bogus"]), label=texts)
@settings(max_examples=300, deadline=None)
def test_prepared_events_send_what_they_sent(payload, actor, ip, label):
    user = {"user": _user(), "unsaved": get_user_model()(username="new", email="new@acme.test"), None: None}[actor]
    context = request_context.RequestContext(request_id="req-1", ip=ip, user_agent=label)
    with request_context.active(context):
        pending = audit_prepare(organization=Organization(pk=4), event_type="tool.called", actor=user,
                                target=Organization(pk=4, name=label, slug="acme"), target_label=label,
                                payload=payload)
    assert pending.params == reference_prepare_params(pending)
    text, clean = reference_jsonb_payload(redact(payload))
    assert pending.params[9] == text and same(pending.event.payload, clean)
    assert pending.event.actor_id == (user.pk if user is not None else None)
    assert pending.event.actor_label == (user.email if user is not None else "system")


def test_gateway_arguments_are_measured_as_before():
    from apps.gateway.services import _audit_arguments, _payload_arguments

    circular: list[Any] = []
    circular.append(circular)
    for arguments in ({"id": 1}, {"blob": "x" * 20000}, {"when": datetime(2026, 1, 1)}, {1: "a", "b": 2},
                      {"s": {1, 2}}, circular, [math.nan], {"big": "é" * 9000}):
        assert same(_payload_arguments(arguments), _audit_arguments(arguments))
