"""Writing audit events. Every service that changes state calls ``audit_record`` inside its
own transaction, so the change and its audit row commit together or not at all."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from apps.core import request_context

from . import chain, hooks, keys
from .events import EVENT_TYPES
from .models import AuditChainHead, AuditCheckpoint, AuditEvent
from .redact import redact

logger = logging.getLogger("mcpforge.audit")

# The parameters of mcpforge_audit_append (migration 0006), in order: PendingEvent.params.
# The last one is the organization's chain key (keys.org_key), used by that statement only.
_APPEND_TYPES = ("bigint", "uuid", "timestamptz", "bigint", "varchar", "varchar", "varchar", "varchar", "varchar",
                 "jsonb", "varchar", "inet", "varchar", "text", "text", "bytea")
_PREFIX, _SUFFIX, _KEY = 13, 14, 15  # positions in PendingEvent.params
_APPEND_CALL = "mcpforge_audit_append(" + ", ".join(f"%s::{t}" for t in _APPEND_TYPES) + ")"
APPEND_SQL = f"SELECT id, seq, hash, prev_hash FROM {_APPEND_CALL}"  # noqa: S608 (constant text only)


def append_where_sql(source: str) -> str:
    """``APPEND_SQL`` that appends only if ``source`` (SQL after FROM: a relation and its WHERE
    clause) yields a row; otherwise it returns no row and writes nothing. Parameters: the
    event's ``PendingEvent.params``, then those of ``source``. The function call sits in the
    select list of a subquery that ``OFFSET 0`` keeps from being flattened, so it runs once
    per qualifying row, and never when no row qualifies (a select list is evaluated only for
    the rows the WHERE clause lets through)."""
    return (f"SELECT (a.r).id, (a.r).seq, (a.r).hash, (a.r).prev_hash FROM "  # noqa: S608
            f"(SELECT {_APPEND_CALL} AS r FROM {source} OFFSET 0) a")


# Several events in one statement (and one commit), sent as ONE parameter: a JSON array with
# an array per event, its ``PendingEvent.params`` in order (``append_many_params``). One JSON
# text, which the json module writes in C, rather than an array per column, which psycopg
# escapes element by element in Python: that was a fifth of a busy gateway's CPU. Each value
# is taken out as text (->>: the string itself, unescaped, or the digits of a number; SQL NULL
# for null) and cast to the parameter type, as a single append's parameter is; the payload
# travels as the very JSON text a single append sends (a JSON string holding it), not as a
# nested value that jsonb would have normalised first. jsonb rather than json: parsed once,
# where json's ->> would rescan the event's text for each of its values. The function runs
# once per element (the LATERAL call depends on the row), in order, each call a complete
# append under the chain lock, which the transaction holds from the first call on. ``n`` maps
# rows back to events.
APPEND_MANY_ROWS = "jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS v(r, n)"
APPEND_MANY_ARGS = tuple(f"(v.r->>{i})::{t}" for i, t in enumerate(_APPEND_TYPES))
APPEND_MANY_SQL = (
    f"SELECT v.n, a.id, a.seq, a.hash, a.prev_hash FROM {APPEND_MANY_ROWS} "  # noqa: S608 (constant text only)
    f"CROSS JOIN LATERAL mcpforge_audit_append({', '.join(APPEND_MANY_ARGS)}) a ORDER BY v.n"
)


def _batch_value(value: Any) -> str:
    """The text PostgreSQL reads back as the value psycopg would have sent: ISO 8601 with its
    microseconds (if any) and UTC offset, a UUID's canonical form. Any other type is refused
    rather than guessed at (the parameters hold only these, str, int and None)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()  # bytea's hex input format
    raise TypeError(f"audit batch parameter of type {type(value).__name__}")


_BATCH_ENCODER = json.JSONEncoder(default=_batch_value, separators=(",", ":"), check_circular=False)


def append_many_params(pending: list[PendingEvent]) -> list[str]:
    """The one parameter of ``APPEND_MANY_SQL`` for ``pending``: a JSON array of their
    ``params`` (str as JSON strings, int as numbers, None as null, see ``_batch_value``)."""
    return [_BATCH_ENCODER.encode([p.params for p in pending])]


# json.dumps(payload, default=str), without building an encoder on every call.
_PAYLOAD_ENCODER = json.JSONEncoder(default=str)
_encode_payload = chain.tree_encoder(_PAYLOAD_ENCODER)  # for redact's output, a tree


# --- The event as the database will give it back ------------------------------------------------
# The hash is computed here, before the insert, and audit_verify recomputes it from the stored
# row: payload read back from jsonb through JSONField (json.loads of jsonb's text), ip from the
# inet column (its text). So the event must hold, and the database must receive, exactly what
# those columns return, or verification reports tampering that never happened. Payloads carry
# an agent's tool-call arguments: anything JSON can hold must survive the round trip.

def _jsonb_number(text: str) -> float | int:
    """``json.loads``'s ``parse_float``: what a JSON number token (one with a fraction or an
    exponent) reads back as once jsonb has stored it. jsonb keeps numbers as numeric, which
    applies the exponent and prints the decimals the token had left after it, so a token with
    none left comes back as an integer (Python's 1e16 is written "1e+16" and returns as
    10000000000000000, 1e23 as exactly 10**23), and the rest as the same float (0.00000015 for
    1.5e-07). numeric has no negative zero: -0.0 comes back as 0.0."""
    if "e" in text or "E" in text:
        number = Decimal(text)
        if number.as_tuple().exponent >= 0:
            return int(number)
    value = float(text)
    return value if value else 0.0


# NaN, Infinity and -Infinity (json writes them for such floats; jsonb has no such numbers and
# refuses the whole document) are recorded as the strings "NaN", "Infinity" and "-Infinity":
# the event is still written, rather than the call being refused (or, in a batch, every event
# of the batch lost) because of an argument an agent chose. parse_constant sees only those three.
_JSONB_DECODER = json.JSONDecoder(parse_float=_jsonb_number, parse_constant=str)


def _jsonb_payload(payload: Any) -> tuple[str, Any]:
    """The payload's JSON text to store and the value jsonb will give back for it, so that what
    the database receives, what is hashed and what is read back agree. Only floats written in
    exponent form with a positive exponent, -0.0 and the non-finite ones change, and so do
    strings holding NUL or a lone surrogate (``_jsonb_strings``); their text is found by a
    search for these tokens (strings merely holding them take the slower path for nothing);
    everything else keeps the plain JSON round trip (lists for tuples, str keys), which gives
    back a payload of only JSON types (``_json_plain``) as it is: that payload is returned
    itself, not parsed again. ``payload`` is a tree of its own (redact's output)."""
    text = _encode_payload(payload)
    numbers = "e+" in text or "-0.0" in text or "NaN" in text or "Infinity" in text
    strings = "\\u0000" in text or "\\ud" in text  # NUL or a UTF-16 surrogate (paired ones too)
    if not (numbers or strings):
        return text, payload if _json_plain(payload) else json.loads(text)
    value = _JSONB_DECODER.decode(text) if numbers else json.loads(text)
    if strings:
        value = _jsonb_strings(value)
    return _PAYLOAD_ENCODER.encode(value), value


_JSON_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
_STR_TYPE = frozenset({str})


def _json_plain(value: Any) -> bool:
    """Whether ``json.loads(json.dumps(value))`` is ``value`` again, equal and of the same types
    throughout: dicts with str keys, lists, str, int, bool, None and floats (repr, which json
    writes, reads back as the same float; the non-finite ones and -0.0 never get here). Exact
    types: a subclass (an IntEnum, say) reads back as its base type. The types are compared
    a container at a time (a set test, in C); only nested containers are visited one by one."""
    kind = type(value)
    if kind is dict:
        if not _STR_TYPE.issuperset(map(type, value)):
            return False
        items = value.values()
    elif kind is list:
        items = value
    else:
        return kind in _JSON_LEAF_TYPES
    if _JSON_LEAF_TYPES.issuperset(map(type, items)):
        return True
    for item in items:
        if type(item) not in _JSON_LEAF_TYPES and not _json_plain(item):
            return False
    return True


def _jsonb_strings(value: Any) -> Any:
    """``value`` with the characters jsonb (and PostgreSQL text) cannot hold, NUL and lone
    surrogates, replaced by U+FFFD in every string and key: otherwise the row is refused and the
    event lost, and an upstream error text or an argument decides what an error message says.
    (json.loads joins escaped surrogate pairs into one character, so any surrogate left is lone.)"""
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in value)
        return value
    if isinstance(value, dict):
        return {_jsonb_strings(key): _jsonb_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonb_strings(item) for item in value]
    return value


@lru_cache(maxsize=4096)
def _inet_text(address: str) -> str | None:
    """The text PostgreSQL's inet gives back for ``address`` (and so what GenericIPAddressField
    reads: Django loads inet as text), or None when it is not a single IP address, which is
    then stored as NULL rather than refused by the column and the event lost with it. Django's
    own cleaning is not enough: inet prints an IPv4-mapped address and one whose first 96 bits
    are zero (from ::0.1.0.0 up; ::1 to ::ffff stay hex) with a dotted IPv4 tail
    ("::ffff:1.2.3.4", "::0.1.0.2", "::255.255.0.0" for ::ffff:0), where Python writes hex and
    Django spells out only the IPv4-mapped form. A zone index ("fe80::1%eth0"), which inet
    cannot hold, is dropped. Cached: a gateway sees the same few clients over and over."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 4:
        return str(ip)
    packed = ip.packed
    if packed[:10] == bytes(10):
        if packed[10:12] == b"\xff\xff":
            return "::ffff:" + str(ipaddress.IPv4Address(packed[12:]))
        if packed[10:12] == b"\0\0" and packed[12:14] != b"\0\0":
            return "::" + str(ipaddress.IPv4Address(packed[12:]))
    return str(ipaddress.IPv6Address(packed))  # compressed, lowercase, as inet; no zone index


def stored_ip(address: Any) -> str | None:
    """What the audit row's ip column will hold and give back for a request context's IP."""
    return _inet_text(str(address)) if address else None


def actor_label_for(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "email", "") or getattr(actor, "username", "") or str(actor)


@dataclass
class PendingEvent:
    """An audit event ready to be appended: ``APPEND_SQL`` with ``params``, on any connection
    (Django's, or the gateway's asynchronous pool), then ``audit_stored`` with the row."""

    event: AuditEvent
    params: list[Any]


_new_instance = object.__new__
_new_public_id = AuditEvent._meta.get_field("public_id").default  # uuid.uuid4, called as the constructor would


def _unsaved_event(actor, values: dict[str, Any]) -> AuditEvent:
    """``AuditEvent(actor=actor, **values)`` without ``Model.__init__``'s walk over the fields
    and keyword arguments, which was a sixth of preparing an event (two per tool call): the same
    attributes in the same order, ``values`` being every concrete field but ``id``, the actor's
    and the two hashes (tests/audit/test_prepare.py compares with the constructor). The actor is
    set through its descriptor, as the constructor sets it (type check, related-instance
    cache, database routing). A receiver of AuditEvent's pre_init or post_init gets the
    constructor, and its signals."""
    if pre_init.has_listeners(AuditEvent) or post_init.has_listeners(AuditEvent):
        return AuditEvent(actor=actor, **values)
    event = _new_instance(AuditEvent)
    event.__dict__.update(_state=ModelState(), id=None, public_id=values["public_id"],
                          organization_id=values["organization_id"], seq=values["seq"],
                          created_at=values["created_at"], actor_id=None, actor_label=values["actor_label"],
                          event_type=values["event_type"], target_type=values["target_type"],
                          target_id=values["target_id"], target_label=values["target_label"],
                          payload=values["payload"], request_id=values["request_id"], ip=values["ip"],
                          user_agent=values["user_agent"], prev_hash="", hash="", chain_version=chain.KEYED)
    event.actor = actor
    return event


def audit_prepare(
    *,
    organization,
    event_type: str,
    actor=None,
    actor_label: str | None = None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    payload: dict[str, Any] | None = None,
) -> PendingEvent:
    """Everything ``audit_record`` does before touching the database (validation, target,
    redaction, request context, the canonical content around its seq). No query."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown audit event type {event_type!r}; add it to apps/audit/events.py")
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(getattr(target, "public_id", target.pk))
        target_label = target_label or str(target)[:300]
    ctx = request_context.current()
    # The payload and IP exactly as the database will give them back, so the hash computed
    # now matches the one audit_verify recomputes from the stored row.
    payload_json, clean_payload = _jsonb_payload(redact(payload or {}))
    values = {
        "organization_id": organization.pk,
        "public_id": _new_public_id(),
        "seq": None,  # assigned by the database under the chain lock
        "created_at": timezone.now(),
        "actor_label": (actor_label or actor_label_for(actor))[:200],
        "event_type": event_type,
        "target_type": target_type[:64],
        "target_id": target_id[:64],
        "target_label": target_label[:300],
        "payload": clean_payload,
        "request_id": ctx.request_id,
        "ip": stored_ip(ctx.ip),
        "user_agent": ctx.user_agent,
        "chain_version": chain.KEYED,
    }
    event = _unsaved_event(actor if getattr(actor, "pk", None) else None, values)
    # AuditEvent.chain_content, split around seq (chain.event_parts; test_prepare.py checks
    # the two agree on prepared events).
    prefix, suffix = chain.event_parts(
        actor=event.actor_label, created_at=event.created_at.isoformat(), event_type=event.event_type,
        event_id=str(event.public_id), ip=event.ip, organization=event.organization_id, payload=event.payload,
        request_id=event.request_id, target=[event.target_type, event.target_id, event.target_label],
        user_agent=event.user_agent,
    )
    return PendingEvent(event=event, params=[
        event.organization_id, event.public_id, event.created_at, event.actor_id, event.actor_label,
        event.event_type, event.target_type, event.target_id, event.target_label,
        payload_json, event.request_id, event.ip,
        event.user_agent, prefix, suffix, keys.org_key(event.organization_id),
    ])


def audit_stored(pending: PendingEvent, row: tuple) -> AuditEvent:
    """The event as stored, from ``APPEND_SQL``'s row (id, seq, hash, prev_hash)."""
    event = pending.event
    event.pk, event.seq, event.hash, event.prev_hash = row
    # The instance is now the stored row, so a later save() is refused as an update.
    event._state.adding = False
    event._state.db = "default"
    # The database hashed; audit_verify recomputes in Python. Check they agree now rather
    # than at the next verification, and fail closed: raising rolls back the caller's
    # transaction and this row with it. (In autocommit there is nothing to roll back; the row
    # stays and audit_verify reports it.) The content's serialisation around seq is the one
    # sent (canonical_parts, equal to canonical_json by its property tests): hashed again
    # here from those parts, not serialised a second time (two events per tool call).
    params = pending.params
    if chain.event_hash_from_parts(params[_PREFIX], event.seq, params[_SUFFIX], event.prev_hash,
                                   params[_KEY]) != event.hash:
        raise RuntimeError(f"Audit hash mismatch for event #{event.seq}: database and chain.py disagree")
    return event


def audit_record(**fields: Any) -> AuditEvent:
    """Append one event to the organization's chain; ``fields`` are ``audit_prepare``'s
    keyword arguments (organization, event_type, actor, target, payload, ...). Raises
    (and so rolls back the caller's transaction) if the event cannot be written: audit is
    fail-closed.

    One database round trip (it is on the gateway's hot path): works in autocommit, where the
    call is its own transaction, and inside the caller's atomic block, where the chain stays
    locked and the row uncommitted until the caller commits. No savepoint is taken, so after
    a database error here the caller's transaction is unusable until it rolls back.
    """
    return audit_write(audit_prepare(**fields))


def audit_write(pending: PendingEvent) -> AuditEvent:
    """Append a prepared event through Django's connection (see ``audit_record``)."""
    # One statement locks the chain, reads its tail, hashes and inserts (migration 0003),
    # where the ORM took five round trips (BEGIN/SAVEPOINT, lock, tail, INSERT, COMMIT/RELEASE).
    with connection.cursor() as cursor:
        cursor.execute(APPEND_SQL, pending.params)
        row = cursor.fetchone()
    return audit_stored(pending, row)


def audit_stored_many(pending: list[PendingEvent], rows: list[tuple]) -> list[AuditEvent]:
    """``audit_stored`` for each event of an ``APPEND_MANY_SQL`` batch (rows: n, id, seq, hash,
    prev_hash, in order of n)."""
    if [row[0] for row in rows] != list(range(1, len(pending) + 1)):
        raise RuntimeError("Audit batch: the database returned other rows than the events sent")
    return [audit_stored(p, row[1:]) for p, row in zip(pending, rows, strict=True)]


def audit_write_many(pending: list[PendingEvent]) -> list[AuditEvent]:
    """Append prepared events, in order, in one statement through Django's connection."""
    if not pending:
        return []
    with connection.cursor() as cursor:
        cursor.execute(APPEND_MANY_SQL, append_many_params(pending))
        rows = cursor.fetchall()
    return audit_stored_many(pending, rows)


# --- Verification and checkpoints ---------------------------------------------------------------

# The columns chain.event_parts needs, read with a server-side cursor as plain rows: far
# cheaper than model instances (audit_verify of a million events). The id and the time arrive
# as the text chain_content writes for them (str(uuid); datetime.isoformat() in UTC, whose
# fraction is omitted when zero), spelled by PostgreSQL rather than parsed and printed again
# here; the payload (jsonb) and ip (inet) arrive as text on Django's connection, as
# AuditEvent's fields read them.
ISO_UTC_SQL = (
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    "|| CASE WHEN date_trunc('second', created_at) = created_at THEN '' "
    "ELSE to_char(created_at AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)
_VERIFY_SQL = (
    f"SELECT seq, public_id::text, prev_hash, hash, chain_version, {ISO_UTC_SQL}, "  # noqa: S608 (constants)
    "actor_label, event_type, target_type, target_id, target_label, payload, request_id, ip, user_agent "
    "FROM audit_auditevent WHERE organization_id = %s AND seq > %s AND seq <= %s ORDER BY seq"
)
_MAX_SEQ = 2**63 - 1


class ChainBroken(Exception):
    """An organization's chain does not verify; no checkpoint is signed over it."""

    def __init__(self, organization, brk: chain.ChainBreak):
        super().__init__(f"{organization.slug}: broken at event #{brk.seq}: {brk.reason}")
        self.brk = brk


def _prefetched(cursor, size: int):
    """``cursor.fetchmany(size)`` batches, the next one fetched by a thread while this one is
    hashed: PostgreSQL producing rows and Python checking them overlap (psycopg waits for the
    server without the GIL). Only the thread touches the psycopg cursor until it is done."""
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(size)
                while not stop.is_set():
                    try:
                        batches.put(rows, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if not rows:
                    return
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, raised there)
            batches.put(exc)

    thread = threading.Thread(target=produce, name="audit-verify-fetch", daemon=True)
    thread.start()
    try:
        while True:
            rows = batches.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield rows
    finally:
        stop.set()
        thread.join()


def _links(organization_id: int, after: int, upto: int):
    json_loads = json.loads
    event_parts = chain.event_parts
    link = chain.ChainLink
    with connection.chunked_cursor() as cursor:
        cursor.execute(_VERIFY_SQL, [organization_id, after, upto])
        for rows in _prefetched(cursor.cursor, 5000):
            for (seq, event_id, prev_hash, hash_, version, created_at, actor_label, event_type, target_type,
                 target_id, target_label, payload, request_id, ip, user_agent) in rows:
                parts = event_parts(
                    actor=actor_label, created_at=created_at, event_type=event_type, event_id=event_id, ip=ip,
                    organization=organization_id,
                    payload=json_loads(payload) if isinstance(payload, str) else payload, request_id=request_id,
                    target=[target_type, target_id, target_label], user_agent=user_agent)
                yield link(seq, event_id, prev_hash, hash_, parts, version)


def expected_hash(event: AuditEvent) -> str:
    """The hash ``event`` (as stored) must carry under its scheme: keyed with its
    organization's chain key, or legacy."""
    key = keys.org_key(event.organization_id) if event.chain_version == chain.KEYED else None
    return chain.event_hash(event.chain_content(), event.prev_hash, key)


def _checkpoint(row: AuditCheckpoint) -> chain.Checkpoint:
    return chain.Checkpoint(seq=row.seq, hash=row.hash, created_at=row.created_at.isoformat(), mac=row.mac,
                            organization_id=row.organization_id)


@contextlib.contextmanager
def _one_snapshot():
    """Head row, checkpoints and events read from one snapshot (REPEATABLE READ, read only),
    so events appended meanwhile are not mistaken for a head that disagrees with its chain.
    Inside a caller's transaction, that transaction as it is."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def audit_verify_organization(organization, *, incremental: bool = False,
                              extra_checkpoints: list[chain.Checkpoint] = ()) -> tuple[int, chain.ChainBreak | None]:
    """Recompute the organization's chain from the stored rows, with its chain key, and hold
    it against every signed checkpoint (stored, and ``extra_checkpoints``, e.g. an exported
    file) and against the head row. ``incremental``: start from the newest checkpoint (signed,
    so trusted) and check only the events after it; a full run also rechecks the rows
    before it. Returns (events checked, first break or None)."""
    with _one_snapshot():
        return _verify_organization(organization, incremental, extra_checkpoints)


def _verify_organization(organization, incremental: bool,
                         extra_checkpoints: list[chain.Checkpoint]) -> tuple[int, chain.ChainBreak | None]:
    checkpoints = [_checkpoint(c) for c in AuditCheckpoint.objects.filter(organization_id=organization.pk)]
    checkpoints += [c for c in extra_checkpoints if c.organization_id == organization.pk]
    signing = keys.checkpoint_key()
    start = chain.Tail()
    if incremental and checkpoints:
        newest = max(checkpoints, key=lambda c: c.seq)
        if chain.checkpoint_valid(signing, newest.mac, organization_id=newest.organization_id, seq=newest.seq,
                                  hash=newest.hash, created_at=newest.created_at):  # else verify reports it
            at = AuditEvent.objects.filter(organization_id=organization.pk, seq=newest.seq).values_list(
                "public_id", "hash").first()
            if at is None:
                return 0, chain.ChainBreak(newest.seq, "", f"event #{newest.seq} of the checkpoint of "
                                                           f"{newest.created_at} is gone (events removed)")
            if at[1] != newest.hash:
                return 0, chain.ChainBreak(newest.seq, str(at[0]), f"event differs from the checkpoint of "
                                                                   f"{newest.created_at} (chain rewritten)")
            start = chain.Tail(newest.seq, newest.hash)
    tail = chain.Tail()
    checked, brk = chain.verify(_links(organization.pk, start.seq, _MAX_SEQ), keys.org_key(organization.pk),
                                start=start, checkpoints=checkpoints, checkpoint_signing_key=signing, tail=tail)
    if brk is not None:
        return checked, brk
    head = AuditChainHead.objects.filter(organization_id=organization.pk).values_list("seq", "hash").first()
    if (head or (0, chain.GENESIS)) != (tail.seq, tail.hash):
        seq = head[0] if head else 0
        return checked, chain.ChainBreak(seq, "", f"the chain ends at #{tail.seq} but its head row says #{seq} "
                                                  "(events removed, or the head row changed)")
    return checked, None


def audit_checkpoint_create(*, organization) -> AuditCheckpoint | None:
    """Sign the organization's current head (seq, hash) as a checkpoint, after verifying the
    events since its previous checkpoint (so a checkpoint never vouches for a chain that was
    already broken: ``ChainBroken``). None when the head has not moved since the last one.
    Not itself an audit event: it would move the head it just signed."""
    with _one_snapshot():
        verified = _verified_head(organization)
    if verified is None:
        return None
    seq, hash_ = verified
    created_at = timezone.now()
    mac = chain.checkpoint_mac(keys.checkpoint_key(), organization_id=organization.pk, seq=seq, hash=hash_,
                               created_at=created_at.isoformat())
    return AuditCheckpoint.objects.create(organization_id=organization.pk, seq=seq, hash=hash_,
                                          created_at=created_at, mac=mac)


def _verified_head(organization) -> tuple[int, str] | None:
    head = AuditChainHead.objects.filter(organization_id=organization.pk).values_list("seq", "hash").first()
    if head is None:
        return None
    last = AuditCheckpoint.objects.filter(organization_id=organization.pk).order_by("-seq").first()
    if last is not None and last.seq >= head[0]:
        return None
    signing = keys.checkpoint_key()
    start = chain.Tail()
    checkpoints = []
    if last is not None:
        previous = _checkpoint(last)
        checkpoints = [previous]
        start = chain.Tail(previous.seq, previous.hash)
    tail = chain.Tail()
    _, brk = chain.verify(_links(organization.pk, start.seq, head[0]), keys.org_key(organization.pk), start=start,
                          checkpoints=checkpoints, checkpoint_signing_key=signing, tail=tail)
    if brk is None and (tail.seq, tail.hash) != head:
        brk = chain.ChainBreak(head[0], "", f"the chain ends at #{tail.seq} but its head row says #{head[0]}")
    if brk is not None:
        raise ChainBroken(organization, brk)
    return head


def checkpoint_export_row(row: AuditCheckpoint, slug: str) -> dict[str, Any]:
    """One exported checkpoint (a JSON line of ``audit_checkpoint --export``)."""
    return {"organization": row.organization_id, "organization_slug": slug, "seq": row.seq, "hash": row.hash,
            "created_at": row.created_at.isoformat(), "mac": row.mac}


def checkpoint_from_export(data: dict[str, Any]) -> chain.Checkpoint:
    """An exported checkpoint read back; ``ValueError`` when a member is missing or mistyped."""
    try:
        checkpoint = chain.Checkpoint(seq=data["seq"], hash=data["hash"], created_at=data["created_at"],
                                      mac=data["mac"], organization_id=data["organization"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not an exported checkpoint: {exc}") from None
    if not (isinstance(checkpoint.seq, int) and isinstance(checkpoint.organization_id, int)
            and all(isinstance(v, str) for v in (checkpoint.hash, checkpoint.created_at, checkpoint.mac))):
        raise ValueError("not an exported checkpoint: wrong member types")
    return checkpoint


def audit_checkpoint_all() -> dict[str, int]:
    """``audit_checkpoint_create`` for every organization whose chain moved; a broken chain is
    logged (error) and counted, and the others still get their checkpoints."""
    counts = {"created": 0, "unchanged": 0, "broken": 0}
    for organization in hooks.organizations().order_by("pk"):
        try:
            created = audit_checkpoint_create(organization=organization)
        except ChainBroken as exc:
            logger.error("audit chain broken, no checkpoint signed: %s", exc)
            counts["broken"] += 1
            continue
        counts["created" if created else "unchanged"] += 1
    return counts
