"""A Hypothesis strategy for argument documents, drawn from a tool's FULL inputSchema.

hypothesis-jsonschema 0.23 does not run on the Hypothesis this project pins (its object
strategy calls a removed internal), so this covers the JSON Schema subset that
``apps.inventory.toolgen`` emits: local ``$ref`` to ``#/$defs``, ``type`` (one or a list),
``enum``/``const``, objects (properties, a random subset of the optional ones, required,
additionalProperties), arrays (items, min/maxItems), strings (pattern, the common formats,
min/maxLength), numbers (bounds, multipleOf), ``allOf`` (merged), ``anyOf``/``oneOf``.
Draws are not guaranteed valid; callers keep only documents the full schema accepts.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

_FORMATS = {
    "date-time": st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    "date": st.dates().map(lambda d: d.isoformat()),
    "email": st.just("agent@example.com"),
    "uri": st.just("https://example.com/a"),
    "url": st.just("https://example.com/a"),
    "uuid": st.uuids().map(str),
    "ipv4": st.just("192.0.2.1"),
}
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " _-", max_size=12)
_MAX_DEPTH = 6


def documents(schema: dict[str, Any]) -> st.SearchStrategy:
    return _strategy(schema, schema.get("$defs") or {}, 0)


def _resolve(schema: Any, defs: dict[str, Any]) -> Any:
    for _ in range(20):
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            target = defs.get(schema["$ref"].removeprefix("#/$defs/"), {})
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        else:
            break
    return schema


def _merge(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf") or []:
        part = _merge(_resolve(part, defs), defs) if isinstance(part, dict) else {}
        for key, value in part.items():
            if key == "properties":
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required":
                out["required"] = sorted({*out.get("required", []), *value})
            else:
                out.setdefault(key, value)
    return out


def _strategy(schema: Any, defs: dict[str, Any], depth: int) -> st.SearchStrategy:
    if schema is True or schema == {}:
        return st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _TEXT)
    if not isinstance(schema, dict):
        return st.nothing()
    schema = _merge(_resolve(schema, defs), defs)
    if "const" in schema:
        return st.just(schema["const"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        return st.one_of([_strategy(_merge({**rest, "allOf": [b]}, defs), defs, depth) for b in branches])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of([_strategy({**schema, "type": k}, defs, depth) for k in kinds]) if kinds else st.nothing()
    if kinds is None:
        kinds = "object" if "properties" in schema else None
    if kinds == "object":
        return _object(schema, defs, depth)
    if kinds == "array":
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 2), low + 2)
        if depth >= _MAX_DEPTH:
            return st.just([]) if low == 0 else st.nothing()
        item = _strategy(schema.get("items", {}), defs, depth + 1)
        if item.is_empty:
            return st.just([]) if low == 0 else st.nothing()
        return st.lists(item, min_size=low, max_size=high)
    if kinds == "string":
        return _string(schema)
    if kinds in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(schema.get("exclusiveMinimum"), int | float):
            low = schema["exclusiveMinimum"] + 1
        if isinstance(schema.get("exclusiveMaximum"), int | float):
            high = schema["exclusiveMaximum"] - 1
        low = int(low) if low is not None else -1000
        high = int(high) if high is not None else low + 2000
        ints = st.integers(low, max(low, high))
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            ints = ints.map(lambda n: n - n % step)
        return ints if kinds == "integer" else st.one_of(ints, ints.map(float))
    if kinds == "boolean":
        return st.booleans()
    if kinds == "null":
        return st.none()
    return st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _TEXT)


def _string(schema: dict[str, Any]) -> st.SearchStrategy:
    if isinstance(schema.get("pattern"), str):
        try:
            return st.from_regex(schema["pattern"], fullmatch=False).filter(lambda s: len(s) < 200)
        except Exception:  # noqa: BLE001 - a pattern Python cannot compile: plain text
            return _TEXT
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    low = schema.get("minLength", 0)
    high = max(low, min(schema.get("maxLength", low + 12), low + 12))
    return st.text(alphabet=string.ascii_letters + string.digits + " ", min_size=low, max_size=high)


def _object(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy:
    properties = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if name in properties]
    if depth >= _MAX_DEPTH:
        return st.fixed_dictionaries({}) if not required else st.nothing()
    optional = {name: _strategy(sub, defs, depth + 1) for name, sub in properties.items() if name not in required}
    return st.fixed_dictionaries(
        {name: _strategy(properties[name], defs, depth + 1) for name in required},
        optional=optional,
    )
