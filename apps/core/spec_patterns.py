"""Spec ``pattern``s on RE2, the linear-time engine: compiled once (cached), or refused with the
reason. Shared by the gateway (arguments are validated against them) and the inventory (a
pattern RE2 cannot run is an import finding, ``quality.unsupported_pattern``). Pure: no Django."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_CHARS = 4096
OPTIONS = re2.Options()
OPTIONS.log_errors = False  # a pattern it cannot compile is our error to report, not a log line
OPTIONS.max_mem = 8 << 20  # bytes of compiled program per pattern (RE2's default)


class SchemaBroken(Exception):
    """The stored inputSchema itself is not a valid JSON Schema."""


class UnsupportedPattern(SchemaBroken):
    """A ``pattern`` (or ``patternProperties`` key) RE2 cannot run: the call is refused."""

    def __init__(self, pattern: str, reason: str):
        self.pattern = pattern
        super().__init__(f"its pattern {pattern[:200]!r} is not supported by the linear-time regex engine "
                         f"(RE2 syntax; backreferences and lookaround are not): {reason}")


@lru_cache(maxsize=4096)
def compiled(pattern: str):
    """The RE2 program of a spec pattern; raises ``UnsupportedPattern``."""
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_CHARS:
        raise UnsupportedPattern(str(pattern), f"longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(pattern, OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise UnsupportedPattern(pattern, reason) from None


def pattern_problem(pattern: Any) -> str | None:
    """Why RE2 cannot run ``pattern`` (for the import's quality finding), or None."""
    try:
        compiled(pattern)
    except UnsupportedPattern as exc:
        return str(exc)
    return None
