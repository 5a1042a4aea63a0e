"""Tamper evidence for the audit log. Pure: no Django import.

Each event's hash covers the canonical JSON of its content plus the previous event's hash in
the same organization, so changing, inserting or removing a row breaks every later link.
``verify`` finds the first broken link.

Two hash schemes (``AuditEvent.chain_version``):

1. legacy, rows written before migration 0006: SHA-256, which anyone can recompute, so a
   rewritten row with recomputed hashes passed verification;
2. keyed, every row since: HMAC-SHA256 under the organization's chain key
   (``org_chain_key``: derived from ``AUDIT_CHAIN_KEY``), so rewriting a row, or removing one
   and re-linking the rest, needs the key. A chain is legacy rows then keyed rows, never the
   other way round (a keyed row turned legacy is how a keyless forger would try it).

What the chain cannot show by itself (a cut tail: the newest rows removed, the head row
rewound) the signed checkpoints show: ``checkpoint_mac`` signs an organization's head
(seq, hash) at a time; a chain shorter than a checkpoint, or holding another hash at its seq,
is broken.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
LEGACY = 1  # sha256, unkeyed
KEYED = 2  # HMAC-SHA256 under the organization's chain key

# The one serialisation the hash covers. canonical_parts uses the same encoder, so its
# pieces are byte-for-byte what canonical_json writes for the whole object.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(data: Any) -> bytes:
    return _ENCODER.encode(data).encode()


def canonical_parts(content: dict[str, Any], key: str = "seq") -> tuple[str, str]:
    """Split the canonical JSON of ``content`` around the integer value of ``key``.

    The database assigns ``seq`` (it must read the chain's tail under the lock), yet the hash
    covers it; so the writer hands over everything else already serialised, and for any int
    ``n``: ``prefix + str(n) + suffix == canonical_json({**content, key: n}).decode()``
    (``str(n)`` is also how PostgreSQL prints a bigint). ``content[key]``, if present, is
    ignored. The text is assembled from the members sorting before and after ``key``, each
    group encoded as an object whose braces are then dropped, rather than found by searching
    the serialised whole for ``"seq":``, which a payload string could contain.
    """
    if not all(isinstance(k, str) for k in content):
        # json.dumps converts non-str keys and would sort them differently; the chain never has any.
        raise TypeError("canonical_parts needs str keys")
    before = {k: v for k, v in content.items() if k < key}
    after = {k: v for k, v in content.items() if k > key}
    # An encoded object is "{" + its members + "}" and, with these separators, "{}" when empty.
    prefix = _ENCODER.encode(before)[:-1] + ("," if before else "") + _ENCODER.encode(key) + ":"
    suffix = ("," if after else "") + _ENCODER.encode(after)[1:]
    return prefix, suffix


def tree_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode`` for values that hold no reference cycle (trees, such as redact's
    output and what json.loads returns), the same text, without what ``encode`` does at every
    call: build the C encoder (``JSONEncoder.iterencode``) and its circular-reference
    bookkeeping (a cycle then exhausts the recursion limit: RecursionError, not ValueError).
    The C encoder is then shared, which is thread-safe without that bookkeeping: it keeps
    no other state between calls. ``encoder.encode`` where there is no C encoder, or an
    indent (which the C encoder does not do)."""
    make = json.encoder.c_make_encoder
    if make is None or encoder.indent is not None:
        return encoder.encode
    iterencode = make(None, encoder.default,
                      json.encoder.encode_basestring_ascii if encoder.ensure_ascii else json.encoder.encode_basestring,
                      None, encoder.key_separator, encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
                      encoder.allow_nan)
    return lambda value: "".join(iterencode(value, 0))


_encode_tree = tree_encoder(_ENCODER)
# What _ENCODER writes for a str, at the top level or nested (ensure_ascii=False): called
# directly, it skips the encoder for the many string members of an event.
_encode_str = json.encoder.encode_basestring


def _member(value: Any) -> str:
    """``value`` as _ENCODER writes it inside an object (the same bytes as on its own): a str
    through the encoder's own string function, an int (exactly: not a bool) as int's repr,
    which the encoder writes for it, None as null."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return _encode_tree(value)


def event_parts(*, actor: Any, created_at: Any, event_type: Any, event_id: Any, ip: Any, organization: Any,
                payload: Any, request_id: Any, target: Any, user_agent: Any) -> tuple[str, str]:
    """``canonical_parts`` of an audit event's content (``AuditEvent.chain_content``: these
    members, ``event_id`` being its "id", and seq), built from the members directly: each
    value encoded on its own and put between its key, in sorted key order, as the encoder
    writes the whole object. Every event is prepared through here (two per tool call): far
    cheaper than building the content dict and splitting it. The members must hold no
    reference cycle (``tree_encoder``). Property-tested equal to ``canonical_parts`` (and so
    to ``canonical_json``)."""
    prefix = (f'{{"actor":{_member(actor)},"created_at":{_member(created_at)},"event_type":{_member(event_type)},'
              f'"id":{_member(event_id)},"ip":{_member(ip)},"organization":{_member(organization)},'
              f'"payload":{_member(payload)},"request_id":{_member(request_id)},"seq":')
    suffix = f',"target":{_member(target)},"user_agent":{_member(user_agent)}}}'
    return prefix, suffix


def org_chain_key(master: bytes, organization_id: int) -> bytes:
    """The HMAC key of one organization's chain: derived from the master key (HMAC as a PRF),
    so a key that leaks from one organization's statements (it travels with each append, see
    migration 0006) forges no other organization's chain."""
    return hmac.new(master, f"mcpforge audit chain\norganization {organization_id}".encode(),
                    hashlib.sha256).digest()


def checkpoint_key(master: bytes) -> bytes:
    """The key that signs checkpoints; never sent to the database."""
    return hmac.new(master, b"mcpforge audit checkpoint", hashlib.sha256).digest()


def _digest(message: bytes, key: bytes | None) -> str:
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.digest(key, message, "sha256").hex()  # one C call; hmac.new(...).hexdigest() is the same value


def event_hash(content: dict[str, Any], prev_hash: str, key: bytes | None = None) -> str:
    """The event's hash: keyed (HMAC-SHA256) with the organization's chain key, legacy
    (SHA-256) without one."""
    return _digest(prev_hash.encode() + b"\n" + canonical_json(content), key)


def event_hash_from_parts(prefix: str, seq: int, suffix: str, prev_hash: str, key: bytes | None = None) -> str:
    """``event_hash`` of the content ``canonical_parts`` split into ``prefix`` and ``suffix``,
    with ``seq`` in between: the same bytes, without serialising the content again."""
    return _digest(f"{prev_hash}\n{prefix}{seq}{suffix}".encode(), key)


def checkpoint_message(*, organization_id: int, seq: int, hash: str, created_at: str) -> bytes:  # noqa: A002
    return canonical_json({"organization": organization_id, "seq": seq, "hash": hash, "created_at": created_at})


def checkpoint_mac(key: bytes, *, organization_id: int, seq: int, hash: str, created_at: str) -> str:  # noqa: A002
    """The signature of a checkpoint (``checkpoint_key``): an organization's chain had ``seq``
    events, the last with ``hash``, at ``created_at`` (ISO 8601)."""
    message = checkpoint_message(organization_id=organization_id, seq=seq, hash=hash, created_at=created_at)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_valid(key: bytes, mac: str, **fields: Any) -> bool:
    return hmac.compare_digest(checkpoint_mac(key, **fields), mac)


@dataclass(frozen=True)
class ChainLink:
    seq: int
    event_id: str
    prev_hash: str
    hash: str
    content: dict[str, Any] | tuple[str, str]  # the content, or event_parts' (prefix, suffix)
    version: int = LEGACY


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: str
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain had ``seq`` events, the last with ``hash``."""

    seq: int
    hash: str
    created_at: str
    mac: str
    organization_id: int


@dataclass
class Tail:
    """Where a verification ended: the last link's seq and hash (0 and GENESIS when empty)."""

    seq: int = 0
    hash: str = GENESIS


def _link_hash(link: ChainLink, key: bytes | None) -> str:
    if isinstance(link.content, tuple):
        return event_hash_from_parts(link.content[0], link.seq, link.content[1], link.prev_hash, key)
    return event_hash(link.content, link.prev_hash, key)


def verify(links: Iterable[ChainLink], key: bytes | None = None, *, start: Tail | None = None,
           checkpoints: Iterable[Checkpoint] = (), checkpoint_signing_key: bytes | None = None,
           tail: Tail | None = None) -> tuple[int, ChainBreak | None]:
    """Walk links in seq order; return (links checked, first break or None).

    ``key``: the organization's chain key (``org_chain_key``), needed for keyed links; without
    it a keyed link is a break. ``start``: begin after this (seq, hash), e.g. a verified
    checkpoint, rather than at the genesis. ``checkpoints`` (any order, each signed with
    ``checkpoint_signing_key``): a forged one is a break, and so is a chain that does not hold
    a checkpoint's hash at its seq or ends before it. ``tail``, if given, receives where the
    walk ended.
    """
    start = start or Tail()
    pending: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        if checkpoint_signing_key is None or not checkpoint_valid(
                checkpoint_signing_key, cp.mac, organization_id=cp.organization_id, seq=cp.seq, hash=cp.hash,
                created_at=cp.created_at):
            return 0, ChainBreak(cp.seq, "", f"checkpoint of {cp.created_at} at #{cp.seq} has a wrong signature "
                                             "(forged, or AUDIT_CHAIN_KEY is not the key that signed it)")
        if cp.seq < start.seq:
            continue
        if cp.seq == start.seq:
            if cp.hash != start.hash:
                return 0, ChainBreak(cp.seq, "", f"checkpoint of {cp.created_at} at #{cp.seq} does not match")
            continue
        pending[cp.seq] = cp
    expected_prev = start.hash
    expected_seq = start.seq + 1
    checked = 0
    keyed_seen = False
    for link in links:
        checked += 1
        if link.seq != expected_seq:
            return checked, ChainBreak(link.seq, link.event_id, f"sequence gap: expected #{expected_seq}")
        if link.prev_hash != expected_prev:
            return checked, ChainBreak(link.seq, link.event_id, "previous-hash link does not match the prior event")
        if link.version == KEYED:
            if key is None:
                return checked, ChainBreak(link.seq, link.event_id, "keyed event but no chain key to check it")
            keyed_seen = True
        elif link.version != LEGACY or keyed_seen:
            return checked, ChainBreak(link.seq, link.event_id,
                                       f"hash scheme {link.version} where only keyed events may follow")
        if _link_hash(link, key if link.version == KEYED else None) != link.hash:
            return checked, ChainBreak(link.seq, link.event_id, "content does not match its hash (row was modified)")
        cp = pending.pop(link.seq, None)
        if cp is not None and cp.hash != link.hash:
            return checked, ChainBreak(link.seq, link.event_id,
                                       f"event differs from the checkpoint of {cp.created_at} (chain rewritten)")
        expected_prev = link.hash
        expected_seq += 1
    if pending:
        cp = pending[max(pending)]
        return checked, ChainBreak(cp.seq, "", f"chain ends at #{expected_seq - 1} but the checkpoint of "
                                               f"{cp.created_at} saw #{cp.seq} (events removed from the end)")
    if tail is not None:
        tail.seq, tail.hash = expected_seq - 1, expected_prev
    return checked, None
