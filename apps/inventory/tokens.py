"""The token bill of a tool listing, counted with a real BPE tokenizer.

``bpe-openai`` ships the ``o200k_base`` vocabulary (GPT-4o / GPT-4.1 / o-series) inside
the wheel (``bpe_openai/data/o200k_base.tiktoken.gz``) and downloads nothing at run time
(``tests/inventory/test_tokens.py`` counts with the network namespace removed).  Other
model families tokenise JSON within about ±15 % of it, so one real count is the bill.

A tool costs the tokens of its compact JSON as tools/list serialises it (name, title,
description, inputSchema, outputSchema, annotations).  The vocabulary takes ~2 s to load,
once per process, on first use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ENCODING", "LISTING_TOKEN_BUDGET", "count_text", "definition_tokens", "listing_tokens"]

ENCODING = "o200k_base"
#: a listing above this many tokens gets a finding (quality.token_budget)
LISTING_TOKEN_BUDGET = 20_000

_lock = threading.Lock()
_encoding: Any = None


def _get_encoding():
    global _encoding
    if _encoding is None:
        with _lock:
            if _encoding is None:
                import bpe_openai

                _encoding = bpe_openai.get_encoding(ENCODING)
    return _encoding


def count_text(text: str) -> int:
    """Tokens of ``text`` (no special tokens are recognised: a spec cannot inject them)."""
    if not text:
        return 0
    return len(_get_encoding().encode_ordinary(text))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def definition_tokens(definition: Mapping[str, Any]) -> int:
    """Tokens of one tool definition (a tools/list entry) as compact JSON."""
    return count_text(_compact(dict(definition)))


def listing_tokens(definitions: Iterable[Mapping[str, Any]]) -> int:
    """Tokens of a whole tools/list result ``{"tools": [...]}``: the sum of the tools plus
    the few tokens of the envelope and separators."""
    total = count_text('{"tools":[]}')
    for index, definition in enumerate(definitions):
        total += definition_tokens(definition) + (1 if index else 0)
    return total
