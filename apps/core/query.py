"""Query-string filters and paging, checked before they reach the database. Pure: no Django import.

Every list page and list endpoint reads its ``?q=``, ``?actor=``, ``?limit=``, ``?page=`` ...
through ``QueryInput``, so one set of rules holds everywhere: text may not carry control
characters (PostgreSQL refuses a NUL byte in text with a DataError, i.e. a 500) and has a
length limit; numbers are plain ASCII digits within a range (30 digits overflow bigint; a
Unicode digit such as '٣' is not a number here). Each bad value yields one sentence for the
user; views answer 400 with it (a JSON ``detail`` in the REST API, a message above the
re-shown form on a page) before any query runs or any stream starts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from .errors import DomainError

MAX_TEXT = 200  # characters of a free-text filter
MAX_NUMBER = 10**9  # larger offsets, limits and page numbers are refused, never sent to SQL
MAX_PAGE_SIZE = 1000  # ``?limit=`` of the REST lists


class QueryError(DomainError):
    """A filter or paging value the product refuses (400)."""


def control_character(value: str) -> str | None:
    """The first control character (NUL, ESC, DEL, ... or a lone surrogate) in ``value``."""
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs"):
            return char
    return None


class QueryInput:
    """Reads one request's query parameters and collects a message per bad value.

    ``query`` is any mapping with ``get`` (Django's QueryDict, DRF's query_params, a dict)."""

    def __init__(self, query: Mapping[str, str]):
        self.query = query
        self.errors: list[str] = []
        self.fields: list[str] = []

    def _fail(self, key: str, message: str) -> None:
        self.errors.append(message)
        self.fields.append(key)

    def _raw(self, key: str) -> str | None:
        value = self.query.get(key)
        return None if value is None else str(value)

    def text(self, key: str, *, label: str | None = None, max_length: int = MAX_TEXT, default: str = "",
             multiline: bool = False) -> str:
        """A free-text filter, stripped; ``default`` when absent or refused. ``multiline``
        lets tabs and line breaks through (a JSON document, say); never NUL and the rest."""
        raw = self._raw(key)
        if raw is None:
            return default
        label = label or key
        bad = control_character(raw.replace("\t", "").replace("\n", "").replace("\r", "") if multiline else raw)
        if bad is not None:
            self._fail(key, f"{label} contains a control character (U+{ord(bad):04X}); use plain text.")
            return default
        value = raw.strip()
        if len(value) > max_length:
            self._fail(key, f"{label} is too long ({len(value)} characters; at most {max_length}).")
            return default
        return value

    def choice(self, key: str, choices: Iterable[str], *, label: str | None = None, default: str = "") -> str:
        """One of ``choices`` (or empty); anything else is refused with the list of choices."""
        value = self.text(key, label=label, default=default)
        allowed = list(choices)
        if value and value not in allowed:
            self._fail(key, f"Unknown {label or key} {value[:60]!r}; use one of {', '.join(allowed)}.")
            return default
        return value

    def number(self, key: str, *, label: str | None = None, default: int | None = None, minimum: int = 0,
               maximum: int = MAX_NUMBER) -> int | None:
        """A whole number in [minimum, maximum] written with ASCII digits; ``default`` when absent."""
        raw = self._raw(key)
        if raw is None or raw.strip() == "":
            return default
        label = label or key
        value = raw.strip()
        if control_character(value) is not None:
            self._fail(key, f"{label} contains a control character; give a whole number.")
            return default
        digits = value[1:] if value[:1] in "+-" else value
        if not (digits.isascii() and digits.isdigit()):
            self._fail(key, f"{label} must be a whole number written with the digits 0-9 (got {value[:40]!r}).")
            return default
        if value.startswith("-") and int(digits) != 0:
            self._fail(key, f"{label} must not be negative (at least {minimum}).")
            return default
        if len(digits.lstrip("0")) > len(str(maximum)) or int(digits) > maximum:
            self._fail(key, f"{label} is too large (at most {maximum}).")
            return default
        number = int(digits)
        if number < minimum:
            self._fail(key, f"{label} must be at least {minimum}.")
            return default
        return number

    def page(self, key: str = "page") -> int:
        """A page number of a paginated page: 1 when absent."""
        return self.number(key, label="page", default=1, minimum=1) or 1

    def check(self, *keys: str, label: str | None = None) -> None:
        """Validate ``keys`` as text without keeping the values (parameters read elsewhere)."""
        for key in keys:
            self.text(key, label=label)

    @property
    def ok(self) -> bool:
        return not self.errors

    def message(self) -> str:
        return " ".join(self.errors)

    def raise_for_errors(self) -> None:
        """Raise ``QueryError`` (400, ``detail`` + ``field`` in the REST API) if any value was bad."""
        if self.errors:
            raise QueryError(self.message(), field=self.fields[0])
