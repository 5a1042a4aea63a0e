"""Regular expressions of the ``matches`` operator: RE2 (google-re2), linear time. Pure.

Call arguments are attacker-controlled and Python's backtracking ``re`` has no timeout, so
patterns compile with RE2 (syntax and caps in ``apps.governance.conditions``). A text over
``MAX_MATCH_TEXT`` is ``Undecidable`` (the strictest tier), never "no match".
"""

from __future__ import annotations

import functools
import re

import re2

from .condition_numbers import Undecidable

MAX_PATTERN_LENGTH = 256
MAX_REGEX_MEMORY = 8 << 20  # RE2 max_mem: a pattern needing more does not compile
MAX_MATCH_TEXT = 16 << 20  # longer text is undecidable (strictest tier), never "no match"


class RegexError(ValueError):
    """A pattern RE2 refuses (outside its syntax, too long or too large to compile)."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} at position {position}")



_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_REGEX_MEMORY  # bounds compilation and the DFA cache
    options.log_errors = False
    return options


class SafeRegex:
    """A ``matches`` pattern compiled by RE2 (google-re2): linear-time ``search``.

    Construct with a pattern (raises ``RegexError`` for a pattern RE2 refuses or one
    longer than ``MAX_PATTERN_LENGTH``); ``search(text)`` answers whether the pattern
    occurs anywhere in ``text``. Text of any length is searched; over ``MAX_MATCH_TEXT``
    characters it raises ``Undecidable`` (policy selection then picks the strictest tier).
    """

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str):
        if not isinstance(pattern, str):
            raise RegexError("pattern must be a string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise RegexError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
        if _SURROGATE_RE.search(pattern):
            raise RegexError("pattern contains an unpaired surrogate character")
        try:
            self._compiled = re2.compile(pattern, _re2_options())
        except re2.error as exc:
            detail = exc.args[0] if exc.args else "invalid pattern"
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise RegexError(f"{detail} (patterns use RE2 syntax: no backreferences or lookaround)") from None
        self.pattern = pattern

    def __repr__(self) -> str:
        return f"SafeRegex({self.pattern!r})"

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (RE2: linear in ``len(text)``)."""
        if len(text) > MAX_MATCH_TEXT:
            raise Undecidable(f"a {len(text)}-character text is over the {MAX_MATCH_TEXT}-character matching cap")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (valid JSON escapes): one code point each way
            data = _SURROGATE_RE.sub("\ufffd", text).encode("utf-8")
        # RE2 matches UTF-8 bytes; passing bytes skips the wrapper's str offset bookkeeping
        # (20 ms on 1 MB), and a yes/no answer needs no offsets.
        return self._compiled.search(data) is not None


@functools.lru_cache(maxsize=256)
def cached_regex(pattern: str) -> SafeRegex:
    """Policies are re-read on every call; compile each pattern once (RE2 objects are
    immutable and thread-safe). ``lru_cache`` does not cache exceptions, so invalid
    patterns are re-checked each time (they never reach the gateway: validated on save)."""
    return SafeRegex(pattern)
