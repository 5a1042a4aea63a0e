"""Tool-call argument validation against the tool's inputSchema. Pure: no Django import.

JSON Schema Draft 2020-12 with format checking (a ``date-time`` that is not one is refused
before the upstream sees it). Compiled validators are cached by the schema's identity key,
because compiling costs far more than validating and the same tool is called repeatedly.

Fail closed on agent input (issue 16)
    * Regular expressions run on RE2 (google-re2, linear time), never on Python's backtracking
      ``re``: the spec's ``pattern`` and ``patternProperties`` (and ``additionalProperties``
      next to them) and the ``regex`` format. ``^(a+)+$`` against ``"a" * 30 + "!"`` took
      36.8 s on ``re`` and blocked the event loop; on RE2 it takes microseconds. ``pattern`` is
      a search (ECMA-262 semantics: anchors are written out), in RE2 syntax. A pattern RE2
      cannot compile (backreferences, lookaround) refuses the call (``UnsupportedPattern``);
      the import reports it (``quality.unsupported_pattern``). The other formats were measured
      linear (50 KB of adversarial text: under 5 ms each).
    * Non-finite numbers (``NaN``, ``Infinity``, ``1e400``: Python's JSON parsers accept them)
      anywhere in the arguments are invalid: JSON has no such value, numeric conditions cannot
      be decided on them, and the upstream would receive text that is not JSON.
    * ``argument_size`` bounds the work: arguments over ``MAX_ARGUMENT_CHARS`` are refused,
      and the gateway validates arguments over ``LARGE_ARGUMENT_CHARS`` in a worker thread
      instead of on the event loop (server.py).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from threading import Lock
from typing import Any

import re2
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError

from apps.core.spec_patterns import (  # noqa: F401 - SchemaBroken, UnsupportedPattern, pattern_problem re-exported
    MAX_PATTERN_CHARS,
    OPTIONS,
    SchemaBroken,
    UnsupportedPattern,
    compiled,
    pattern_problem,
)

MAX_ERRORS = 5
#: Arguments larger than this (characters of text plus one per value, ``argument_size``) are refused.
MAX_ARGUMENT_CHARS = 1024 * 1024
#: Arguments larger than this are validated and planned in a worker thread (server.py).
LARGE_ARGUMENT_CHARS = 16 * 1024
_CACHE_SIZE = 2048
_cache: OrderedDict[Any, Any] = OrderedDict()
_lock = Lock()


def _search(pattern: str, text: str) -> bool:
    return compiled(pattern).search(text) is not None


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance[:200]!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    if patterns:
        extras = [key for key in instance
                  if key not in properties and not any(_search(pattern, key) for pattern in patterns)]
    else:  # the common case: no patternProperties, no any() per argument
        extras = [key for key in instance if key not in properties]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        joined = ", ".join(repr(each) for each in sorted(extras))
        if patterns:
            yield ValidationError(f"{joined} {'does' if len(extras) == 1 else 'do'} not match any of the regexes: "
                                  + ", ".join(repr(each) for each in sorted(patterns)))
        else:
            yield ValidationError(f"Additional properties are not allowed ({joined} "
                                  f"{'was' if len(extras) == 1 else 'were'} unexpected)")


_FORMATS = FormatChecker()
for _name, _check in Draft202012Validator.FORMAT_CHECKER.checkers.items():
    if _name != "regex":
        _FORMATS.checkers[_name] = _check


@_FORMATS.checks("regex")
def _is_regex(instance: object) -> bool:
    """The ``regex`` format: does RE2 compile it (Python's ``re.compile`` took 180 ms on 50 KB)."""
    if not isinstance(instance, str):
        return True
    if len(instance) > MAX_PATTERN_CHARS:
        return False
    try:
        re2.compile(instance, OPTIONS)
    except re2.error:
        return False
    return True


#: Draft 2020-12 with every regex on RE2 (see the module docstring).
RE2Validator = validators.extend(Draft202012Validator, {
    "pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties,
})


def _uses(schema: Any, keyword: str) -> bool:
    if isinstance(schema, dict):
        return keyword in schema or any(_uses(value, keyword) for value in schema.values())
    if isinstance(schema, list):
        return any(_uses(value, keyword) for value in schema)
    return False


def _validator(cache_key: Any, schema: Mapping[str, Any]):
    with _lock:
        found = _cache.get(cache_key)
        if found is not None:
            _cache.move_to_end(cache_key)
            return found
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaBroken(exc.message) from None
    if _uses(schema, "unevaluatedProperties") and _uses(schema, "patternProperties"):
        # jsonschema matches patternProperties for unevaluatedProperties with ``re``: not on agent input.
        raise UnsupportedPattern("patternProperties", "patternProperties next to unevaluatedProperties")
    validator = RE2Validator(schema, format_checker=_FORMATS)
    with _lock:
        _cache[cache_key] = validator
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return validator


def _where(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path.lstrip(".") or "(arguments)"


def _path_text(path: tuple) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return text.lstrip(".") or "(arguments)"


def non_finite(arguments: Any) -> list[str]:
    """Where ``arguments`` hold a non-finite number (``NaN``, ``Infinity``, ``1e400``), at most
    MAX_ERRORS places, as "amount: Infinity is not a finite number"."""
    found: list[str] = []
    stack: list[tuple[tuple, Any]] = [((), arguments)]
    while stack and len(found) < MAX_ERRORS:
        path, value = stack.pop()
        if type(value) is float:
            if not math.isfinite(value):
                word = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
                found.append(f"{_path_text(path)}: {word} is not a finite number (JSON numbers are finite; "
                             "1e400 overflows to Infinity)")
        elif isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(enumerate(value))))
    return found


def argument_size(arguments: Any, limit: int = MAX_ARGUMENT_CHARS) -> int:
    """About the JSON size of ``arguments`` (characters of text and keys plus 8 per value),
    counted only up to just past ``limit`` (so the cost is bounded by the limit)."""
    total = 0
    stack = [arguments]
    while stack and total <= limit:
        value = stack.pop()
        total += 8
        if isinstance(value, str):
            total += len(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                total += len(key) if isinstance(key, str) else 8
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return total


def argument_errors(schema: Mapping[str, Any] | None, arguments: Any, *, cache_key: Any = None) -> list[str]:
    """Human-readable problems with ``arguments`` ("petId: 'abc' is not of type 'integer'"),
    at most MAX_ERRORS, most relevant first; [] when valid. ``cache_key`` (e.g. the tool's
    primary key) enables the compiled-validator cache; without it the schema text is the key.
    Raises ``SchemaBroken`` (``UnsupportedPattern``) when the schema cannot be used."""
    if not isinstance(arguments, dict):
        return ["arguments must be a JSON object"]
    if argument_size(arguments) > MAX_ARGUMENT_CHARS:
        return [f"(arguments): larger than {MAX_ARGUMENT_CHARS // 1024} KiB, the most the gateway accepts"]
    if problems := non_finite(arguments):
        return problems
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
