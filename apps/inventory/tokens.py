"""The token bill of a tool listing, counted with a real BPE tokenizer.

``bpe-openai`` ships the ``o200k_base`` vocabulary (GPT-4o / GPT-4.1 / o-series) inside
the wheel (``bpe_openai/data/o200k_base.tiktoken.gz``) and downloads nothing at run time
(``tests/inventory/test_tokens.py`` counts with the network namespace removed).  Other
model families tokenise JSON within about ±15 % of it, so one real count is the bill.

A tool costs the tokens of its compact JSON as tools/list serialises it (name, title,
description, inputSchema, outputSchema, annotations).

Only the package's Rust extension (``bpe_openai._bindings``, which embeds the vocabulary)
counts; it is loaded on its own, once per process, on first use (~0.08 s CPU). Importing the
``bpe_openai`` package instead decodes three vocabularies into Python dicts at import time
(cl100k, o200k and voyage3: ~0.85 s CPU, ~3.5 s under a profiler, holding the GIL), which the
counting never reads. Should the extension not load on its own (another package layout), the
package's ``Encoding`` is used, with the same counts (tests/inventory/test_tokens.py).
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["ENCODING", "LISTING_TOKEN_BUDGET", "count_text", "definition_tokens", "listing_tokens"]

ENCODING = "o200k_base"
#: a listing above this many tokens gets a finding (quality.token_budget)
LISTING_TOKEN_BUDGET = 20_000

#: the wrapper's limits, kept: text this long is refused, a count above the limit raises
MAX_TEXT_CHARS = 1_000_000
MAX_TOKENS = 200_000

_lock = threading.Lock()
_count: Callable[[str], int] | None = None


def _rust_counter() -> Callable[[str], int]:
    """``PyTokenizer.count`` of ``bpe_openai._bindings`` for ENCODING, the extension loaded
    from the installed package's directory without running the package's ``__init__``."""
    spec = importlib.util.find_spec("bpe_openai")  # locates the package; does not import it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bpe_openai is not installed")
    for directory in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(directory, "_bindings" + suffix)
            if os.path.isfile(path):
                module_spec = importlib.util.spec_from_file_location("bpe_openai._bindings", path)
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                return module.tokenizer_for_encoding(ENCODING).count
    raise ImportError("bpe_openai._bindings not found")


def _package_counter() -> Callable[[str], int]:
    import bpe_openai

    encoding = bpe_openai.get_encoding(ENCODING)
    return lambda text: len(encoding.encode_ordinary(text))


def _counter() -> Callable[[str], int]:
    global _count
    if _count is None:
        with _lock:
            if _count is None:
                try:
                    _count = _rust_counter()
                except (ImportError, AttributeError, OSError):
                    _count = _package_counter()
    return _count


def count_text(text: str) -> int:
    """Tokens of ``text`` (no special tokens are recognised: a spec cannot inject them)."""
    if not text:
        return 0
    if len(text) >= MAX_TEXT_CHARS:
        raise ValueError("Input too long to encode safely")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: replaced, as the package's Encoding does
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    tokens = _counter()(text)
    if tokens > MAX_TOKENS:
        raise ValueError(f"{tokens} tokens is over the tokenizer's limit of {MAX_TOKENS}")
    return tokens


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def definition_tokens(definition: Mapping[str, Any]) -> int:
    """Tokens of one tool definition (a tools/list entry) as compact JSON."""
    return _json_tokens(_compact(dict(definition)))


@functools.lru_cache(maxsize=2048)
def _json_tokens(text: str) -> int:
    # An import counts every definition twice (the quality budget, then the listing estimate).
    return count_text(text)


def listing_tokens(definitions: Iterable[Mapping[str, Any]]) -> int:
    """Tokens of a whole tools/list result ``{"tools": [...]}``: the sum of the tools plus
    the few tokens of the envelope and separators."""
    total = count_text('{"tools":[]}')
    for index, definition in enumerate(definitions):
        total += definition_tokens(definition) + (1 if index else 0)
    return total
