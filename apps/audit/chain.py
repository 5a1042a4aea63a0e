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


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(content: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_json(content)).hexdigest()


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
