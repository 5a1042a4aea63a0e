"""Tamper evidence for the audit log. Pure: no Django import.

Each event's hash is SHA-256 over the canonical JSON of its content plus the previous
event's hash in the same organization, so changing, inserting or removing a row breaks
every later link. ``verify`` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64

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


def event_hash(content: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_json(content)).hexdigest()


def event_hash_from_parts(prefix: str, seq: int, suffix: str, prev_hash: str) -> str:
    """``event_hash`` of the content ``canonical_parts`` split into ``prefix`` and ``suffix``,
    with ``seq`` in between: the same bytes, without serialising the content again."""
    return hashlib.sha256(f"{prev_hash}\n{prefix}{seq}{suffix}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    seq: int
    event_id: str
    prev_hash: str
    hash: str
    content: dict[str, Any]


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: str
    reason: str


def verify(links: Iterable[ChainLink]) -> tuple[int, ChainBreak | None]:
    """Walk links in seq order; return (links checked, first break or None)."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for link in links:
        checked += 1
        if link.seq != expected_seq:
            return checked, ChainBreak(link.seq, link.event_id, f"sequence gap: expected #{expected_seq}")
        if link.prev_hash != expected_prev:
            return checked, ChainBreak(link.seq, link.event_id, "previous-hash link does not match the prior event")
        if event_hash(link.content, link.prev_hash) != link.hash:
            return checked, ChainBreak(link.seq, link.event_id, "content does not match its hash (row was modified)")
        expected_prev = link.hash
        expected_seq += 1
    return checked, None
