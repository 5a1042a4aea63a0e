"""Compact tool definitions: the same callable surface in far fewer tokens.

``compact_definition(definition)`` rewrites one tools/list entry (the definition the
gateway serves; stored definitions are never touched).  Every step only *drops
annotations* or *relaxes* a sub-schema, so the listed ``inputSchema`` accepts every
document the full one accepts (``tests/inventory/test_compact.py`` proves it for every
tool of every spec in ../shared/specs with generated documents), and the gateway keeps
validating calls against the full schema:

1. Annotations dropped from input schemas: ``examples``/``example``, vendor extensions
   (``x-*``), ``$comment``, ``title``, ``deprecated``, ``readOnly``/``writeOnly`` flags.
   Property *names* are never touched (a property may be called ``examples``).
2. Property descriptions: Markdown links reduced to their text, URLs dropped, then cut to
   ``TOP_DESCRIPTION_CHARS`` (top-level properties) or ``NESTED_DESCRIPTION_CHARS`` (deeper)
   at a word boundary, with an ellipsis; only the first sentence is kept, none below
   ``DESCRIPTION_MAX_DEPTH``.  The tool's own description is kept.  ``minLength`` /
   ``maxLength`` beside a ``pattern`` are dropped (the kept pattern says it), and so are the
   OpenAPI width formats (``int32``, ``int64``, ``float``, ``double``: annotations in JSON Schema).
3. Repeated sub-schemas (same canonical JSON, at least ``SHARED_MIN_CHARS`` long) emitted
   once under the root ``$defs`` and referenced with a local ``$ref`` (``#/$defs/s1``); a
   top-level property keeps its ``type`` beside the ``$ref`` (2020-12: both apply).
   Numbered series of top-level properties (``Parameter1.Name`` ... ``Parameter99.Name``,
   at least ``SERIES_MIN``, same schema, none required) become one ``patternProperties`` entry.
4. ``outputSchema`` dropped unless ``keep_output`` (it is optional in MCP; results still
   carry ``structuredContent``).
5. Past ``budget`` tokens, deep nesting is summarised: below a depth, a sub-schema becomes
   ``{"type": <its type>, "description": "... call mcpforge_describe_tool for its fields"}`` (or no
   ``type`` when it is not a single plain type), the depth shrinking until the tool fits
   or only top-level properties remain.  Top-level ``required`` and each top-level
   property's ``type`` are always kept identical.

Pure functions, no Django: the gateway calls this at the listing layer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

__all__ = [
    "DESCRIBE_HINT",
    "NESTED_DESCRIPTION_CHARS",
    "TOOL_TOKEN_BUDGET",
    "compact_definition",
    "compact_input_schema",
]

TOOL_TOKEN_BUDGET = 4_000
TOP_DESCRIPTION_CHARS = 100
NESTED_DESCRIPTION_CHARS = 60
#: below this depth property descriptions are dropped (the full schema is one describe away)
DESCRIPTION_MAX_DEPTH = 3
SHARED_MIN_CHARS = 60
#: the gateway lists ``mcpforge_describe_tool`` beside compact definitions
DESCRIBE_HINT = "call mcpforge_describe_tool for its fields"

_WIDTH_FORMATS = frozenset({"int32", "int64", "float", "double"})
_DROPPED = frozenset({"examples", "example", "$comment", "title", "deprecated", "readOnly", "writeOnly"})
# keywords whose value is one sub-schema / a list of them / a map of name -> sub-schema
_ONE = ("additionalProperties", "items", "not", "contains", "propertyNames", "if", "then", "else",
        "unevaluatedProperties", "unevaluatedItems", "additionalItems")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


_LINK = re.compile(r"\[([^\]\n]{1,200})\]\([^)\s]{1,2000}\)")
_URL = re.compile(r"\s*\(?<?https?://[^\s)>]{1,2000}>?\)?")
_SPACE = re.compile(r"\s+")
_SENTENCE = re.compile(r"(?<=[a-z0-9)`'\"])[.!?](?=\s+[A-Z])")


def _cut(text: str, limit: int) -> str:
    """Markdown links reduced to their text, bare URLs dropped, then cut at a word boundary."""
    text = _SPACE.sub(" ", _URL.sub("", _LINK.sub(r"\1", text))).strip()
    end = _SENTENCE.search(text)
    if end:  # the first sentence
        text = text[: end.start() + 1]
    if len(text) <= limit:
        return text
    head = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return head.rstrip(" ,.;:") + "…"


def _map_schemas(schema: Any, fn: Callable[[Any, int], Any], depth: int) -> Any:
    """A copy of ``schema`` whose direct sub-schemas are replaced by ``fn(sub, depth + 1)``."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE and isinstance(value, dict):
            out[key] = fn(value, depth + 1)
        elif key in _LIST and isinstance(value, list):
            out[key] = [fn(v, depth + 1) if isinstance(v, dict) else v for v in value]
        elif key in _MAP and isinstance(value, dict):
            # $defs bodies are not "deeper" than where they are used: they keep the root depth
            step = 0 if key in ("$defs", "definitions") else 1
            out[key] = {k: fn(v, depth + step) if isinstance(v, dict) else v for k, v in value.items()}
        else:
            out[key] = value
    return out


def _strip(schema: Any, depth: int) -> Any:
    """Step 1 and 2: annotations dropped, descriptions cut."""
    if not isinstance(schema, dict):
        return schema
    out = _map_schemas(schema, _strip, depth)
    for key in list(out):
        if key in _DROPPED or key.startswith("x-"):
            del out[key]
    if out.get("format") in _WIDTH_FORMATS:  # OpenAPI storage widths: annotation only, no help to a model
        del out["format"]
    if isinstance(out.get("pattern"), str):  # the pattern says it better (and is kept)
        out.pop("minLength", None)
        out.pop("maxLength", None)
    description = out.get("description")
    if depth >= DESCRIPTION_MAX_DEPTH:
        out.pop("description", None)
    elif isinstance(description, str) and depth >= 1:
        limit = TOP_DESCRIPTION_CHARS if depth == 1 else NESTED_DESCRIPTION_CHARS
        out["description"] = _cut(description, limit)
    return out


_NUMBERED = re.compile(r"^([A-Za-z_.-]*?)([0-9]{1,4})([A-Za-z_.-]*)$")
SERIES_MIN = 5


def _series(root: dict[str, Any]) -> dict[str, Any]:
    """Numbered top-level properties with one schema (Twilio's ``Parameter1.Name`` ...
    ``Parameter99.Name``), none of them required, listed once as ``patternProperties``. This
    only widens what is accepted (``Parameter100.Name`` too; the gateway's full schema still
    refuses it)."""
    properties = root.get("properties")
    if not isinstance(properties, dict) or "patternProperties" in root:
        return root
    required = set(root.get("required") or ())
    groups: dict[tuple[str, str, str], list[str]] = {}
    for name, schema in properties.items():
        match = _NUMBERED.match(name)
        if match and name not in required and isinstance(schema, dict):
            groups.setdefault((match.group(1), match.group(3), _dumps(schema)), []).append(name)
    series = {key: names for key, names in groups.items() if len(names) >= SERIES_MIN}
    if not series:
        return root
    dropped = {name for names in series.values() for name in names}
    out = dict(root)
    out["properties"] = {k: v for k, v in properties.items() if k not in dropped}
    out["patternProperties"] = {
        f"^{re.escape(prefix)}[0-9]+{re.escape(suffix)}$": properties[names[0]]
        for (prefix, suffix, _), names in series.items()
    }
    return out


def _share(root: dict[str, Any]) -> dict[str, Any]:
    """Step 3: repeated sub-schemas once under ``$defs``."""
    counts: Counter[str] = Counter()

    def count(schema: Any, depth: int) -> Any:
        if isinstance(schema, dict):
            if depth > 0:
                counts[_dumps(schema)] += 1
            _map_schemas(schema, count, depth)
        return schema

    count(root, 0)
    shared = {key for key, n in counts.items() if n >= 2 and len(key) >= SHARED_MIN_CHARS}
    if not shared:
        return root
    existing = root.get("$defs") if isinstance(root.get("$defs"), dict) else {}
    names: dict[str, str] = {}
    defs: dict[str, Any] = {}

    def replace(schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict):
            return schema
        key = _dumps(schema)
        if depth > 0 and key in shared:
            if key not in names:
                name = f"s{len(names) + 1}"
                while name in existing:
                    name += "_"
                names[key] = name
                # the body is rewritten once, with its own repeats shared too
                defs[name] = _map_schemas(schema, replace, depth)
            ref: dict[str, Any] = {"$ref": f"#/$defs/{names[key]}"}
            if depth == 1 and "type" in schema:  # a top-level property shows its type (same meaning)
                ref["type"] = schema["type"]
            return ref
        return _map_schemas(schema, replace, depth)

    out = _map_schemas(root, replace, 0)
    if defs:
        out["$defs"] = {**out.get("$defs", {}), **defs}
    return out


def _summary(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The loosest schema that still states a single plain type (``$ref`` followed once)."""
    target = schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(schema) == 1:
        target = defs.get(ref.removeprefix("#/$defs/"), {})
    out: dict[str, Any] = {}
    kind = target.get("type") if isinstance(target, dict) else None
    # ``type`` is conjunctive with every other keyword ($ref siblings included), so keeping it
    # alone accepts a superset of what the full sub-schema accepts
    simple = isinstance(target, dict) and not any(k in target for k in ("allOf", "anyOf", "oneOf", "$ref", "not"))
    if isinstance(kind, str | list):
        out["type"] = kind
    description = target.get("description") if isinstance(target, dict) else None
    hint = ""
    if kind in ("object", "array") or not simple:
        hint = f"{'object' if kind == 'object' else 'value'}: {DESCRIBE_HINT}"
    if isinstance(description, str) and description:
        out["description"] = _cut(description, NESTED_DESCRIPTION_CHARS) + (f" ({hint})" if hint else "")
    elif hint:
        out["description"] = hint
    return out


def _summarise(root: dict[str, Any], max_depth: int) -> dict[str, Any]:
    """Step 5: sub-schemas deeper than ``max_depth`` summarised, unused ``$defs`` pruned."""
    defs = root.get("$defs") if isinstance(root.get("$defs"), dict) else {}

    def walk(schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict):
            return schema
        if depth >= max_depth and any(k in schema for k in (*_ONE, *_LIST, *_MAP, "$ref")):
            return _summary(schema, defs)
        return _map_schemas(schema, walk, depth)

    body = {k: v for k, v in root.items() if k != "$defs"}
    out = walk(body, 0)
    kept = {name: walk(value, max(max_depth - 1, 1)) for name, value in defs.items()}
    used = _reachable(out, kept)
    if used:
        out["$defs"] = {name: kept[name] for name in kept if name in used}
    return out


def _reachable(root: Any, defs: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in defs and name not in seen:
                    seen.add(name)
                    stack.append(defs[name])
            stack.extend(v for k, v in node.items() if k != "$defs")
        elif isinstance(node, list):
            stack.extend(node)
    return seen


def _depth(schema: Any, depth: int = 0) -> int:
    best = depth
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in _ONE and isinstance(value, dict):
                best = max(best, _depth(value, depth + 1))
            elif key in _LIST and isinstance(value, list):
                best = max([best, *(_depth(v, depth + 1) for v in value)])
            elif key in _MAP and key not in ("$defs", "definitions") and isinstance(value, dict):
                best = max([best, *(_depth(v, depth + 1) for v in value.values())])
    return best


def compact_input_schema(
    schema: dict[str, Any], *, budget: int | None = None, measure: Callable[[Any], int] | None = None
) -> dict[str, Any]:
    """Steps 1-3, then 5 when ``measure(schema)`` exceeds ``budget``."""
    out = _share(_series(_strip(schema, 0)))
    if budget is None or measure is None or measure(out) <= budget:
        return out
    for max_depth in range(_depth(out) - 1, 0, -1):
        smaller = _share(_summarise(out, max_depth))
        if measure(smaller) <= budget or max_depth == 1:
            return smaller
    return out


def compact_definition(
    definition: dict[str, Any],
    *,
    budget: int = TOOL_TOKEN_BUDGET,
    keep_output: bool = False,
    count: Callable[[dict[str, Any]], int] | None = None,
) -> dict[str, Any]:
    """One tools/list entry, compacted (see module docstring). ``count`` measures a whole
    definition in tokens (``apps.inventory.tokens.definition_tokens``); without it no
    summarising happens."""
    out = {k: v for k, v in definition.items() if k not in ("inputSchema", "outputSchema")}
    base = dict(out)
    output = definition.get("outputSchema")
    if keep_output and output is not None:
        base["outputSchema"] = _share(_strip(output, 0))
    measure = (lambda schema: count({**base, "inputSchema": schema})) if count else None
    schema = definition.get("inputSchema") or {"type": "object"}
    out["inputSchema"] = compact_input_schema(schema, budget=budget, measure=measure)
    if "outputSchema" in base:
        out["outputSchema"] = base["outputSchema"]
    return out
