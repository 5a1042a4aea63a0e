"""Tamper evidence for the audit log. Pure: no Django import.

Each event's hash is SHA-256 over the canonical JSON of its content plus the previous
event's hash in the same organization, so changing, inserting or removing a row breaks
every later link. ``verify`` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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
