"""Tool-call argument validation against the tool's inputSchema. Pure: no Django import.

JSON Schema Draft 2020-12 with format checking (a ``date-time`` that is not one is refused
before the upstream sees it). Compiled validators are cached by the schema's identity key,
because compiling costs far more than validating and the same tool is called repeatedly.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from threading import Lock
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

MAX_ERRORS = 5
_CACHE_SIZE = 2048
_cache: OrderedDict[Any, Draft202012Validator] = OrderedDict()
_lock = Lock()


class SchemaBroken(Exception):
    """The stored inputSchema itself is not a valid JSON Schema."""


def _validator(cache_key: Any, schema: Mapping[str, Any]) -> Draft202012Validator:
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            _cache.move_to_end(cache_key)
            return found
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaBroken(exc.message) from None
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    with _lock:
        _cache[cache_key] = validator
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return validator


def _where(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path.lstrip(".") or "(arguments)"


def argument_errors(schema: Mapping[str, Any] | None, arguments: Any, *, cache_key: Any = None) -> list[str]:
    """Human-readable problems with ``arguments`` ("petId: 'abc' is not of type 'integer'"),
    at most MAX_ERRORS, most relevant first; [] when valid. ``cache_key`` (e.g. the tool's
    primary key) enables the compiled-validator cache; without it the schema text is the key."""
    if not isinstance(arguments, dict):
        return ["arguments must be a JSON object"]
    if not schema:
        return []
    key = cache_key if cache_key is not None else json.dumps(schema, sort_keys=True)
    validator = _validator(key, schema)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: (len(e.absolute_path), e.path))
    out = []
    for error in errors[:MAX_ERRORS]:
        out.append(f"{_where(error)}: {error.message}")
    if len(errors) > MAX_ERRORS:
        out.append(f"... and {len(errors) - MAX_ERRORS} more")
    return out
