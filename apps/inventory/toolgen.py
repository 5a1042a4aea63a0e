"""``ParsedSpec`` -> MCP tool definitions (``ToolDef``): names, descriptions, JSON Schemas.

Naming
    operationId when present, else ``<method>_<path>`` (``GET /pets/{id}`` ->
    ``get_pets_by_id``), sanitised to ``^[A-Za-z0-9_-]{1,64}$``.  Names are unique
    case-insensitively (some clients fold case).  Priority when two operations want
    the same name: an admin rename (``renames``) first, then the name the operation
    had at the previous import (``previous_names``), then document order.  A loser
    gets ``<name[:57]>_<6 hex of sha256(operation_key)>``, so the suffix does not
    depend on what else is in the document.

Input schema (``inputSchema``)
    One ``type: object`` schema with ``additionalProperties: false``; properties in
    the order path, query, header, cookie parameters, then the request body.
    *Name-clash rule*: a property keeps its (sanitised) name when free; a parameter
    whose name is taken becomes ``<location>_<name>`` (``query_id``); a spread body
    property whose name is taken becomes ``body_<name>``; if that is taken too a
    numeric suffix ``_2``, ``_3``... is added.  Names are sanitised to
    ``^[A-Za-z0-9_.-]{1,64}$`` (Anthropic's rule for property keys): ``<`` -> ``_lt``,
    ``>`` -> ``_gt`` (Twilio's ``StartTime<``), brackets to ``_`` (``page[size]``).
    A JSON/form body that is a plain object (possibly an ``allOf`` of plain objects)
    has its properties spread in (its required properties are required unless the
    requestBody says ``required: false`` explicitly); anything else goes under ``body``
    (``request_body`` if a parameter is already called ``body``).

``arg_map``
    ``{property: {"in": "path"|"query"|"header"|"cookie"|"body", "name": original}}``.
    A spread body property has ``in: body`` and its original property name; the
    whole body has ``{"in": "body", "name": ""}``.  ``request_parts`` applies it.
    A parameter that declares a serialization other than its location's default also
    carries ``"style"`` and/or ``"explode"`` (OpenAPI 3 names; Swagger 2's ``collectionFormat``
    arrives converted, ``tsv`` as ``tabDelimited``), and one described by ``content``
    carries ``"media"`` (its media type); the gateway serializes with them
    (``apps.gateway.upstream.serialize``). Entries without them use the defaults, so tools
    imported before these keys existed keep their meaning.

Output schema (``outputSchema``)
    The first 2xx JSON response schema.  MCP requires ``type: object``; anything else
    (array, string, nullable object, ``$ref`` root) is wrapped as
    ``{"$comment": WRAP_COMMENT, "type": "object", "properties": {"result": <schema>},
    "required": ["result"]}`` and the gateway must wrap the structured result the same
    way: ``wrap_result(tool, value)`` (``is_wrapped(tool.output_schema)`` tells).

Schemas
    Local ``$ref``s are inlined.  A cycle (``Node.children: [Node]``) becomes
    ``{"$ref": "#/$defs/Node"}`` with the definition under the root ``$defs``; so do
    refs met after about ``MAX_INLINE_CHARS`` characters were emitted for one root
    schema, which bounds the output to the size of the document instead of letting it
    grow exponentially.  ``$defs`` entries keep their own refs as refs and have
    document-wide names, so they are converted once per document.  A tool's schemas
    depend only on its operation and the components it uses, never on build order,
    so re-imports do not show spurious diffs.  OpenAPI-only keywords are
    converted to JSON Schema 2020-12 through a keyword whitelist (``nullable`` ->
    ``"null"`` in ``type``; boolean ``exclusiveMaximum``; ``example`` ->
    ``examples``; ``discriminator``/``xml``/``x-*`` dropped; invalid regex patterns
    dropped).  ``readOnly`` properties are left out of inputs and ``writeOnly`` ones
    out of outputs.  Converted sub-schemas are cached per build and *shared* between
    tools: treat ``ToolDef`` schemas as read-only.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from apps.core import jsonpointer
from apps.core.http_names import GATEWAY_HEADERS
from apps.specs.domain import Operation, Parameter, ParsedSpec, ToolDef

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_INLINE_CHARS",
    "OUTPUT_WRAP_KEY",
    "WRAP_COMMENT",
    "SchemaConverter",
    "build_description",
    "build_tools",
    "is_wrapped",
    "json_size",
    "derive_name",
    "needs_wrap",
    "request_parts",
    "sanitize_name",
    "tool_definition",
    "wrap_output_schema",
    "wrap_result",
]

TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
OUTPUT_WRAP_KEY = "result"
# Marks schemas made by ``wrap_output_schema``.  ``$comment`` is a 2020-12 keyword that
# clients ignore, and the converter drops it from API schemas, so the mark is unambiguous.
WRAP_COMMENT = "mcpforge: structured result is wrapped as {result: ...}"
# Approximate JSON characters emitted for one root schema before further refs go to $defs
# (descriptions dominate the size of real schemas, so the budget is in characters).
MAX_INLINE_CHARS = 8_000
_MAX_SCHEMA_DEPTH = 100  # deeper levels become {}: bounds recursion on hostile documents
_SUFFIX_CHARS = 6
#: Header parameters an agent may never set: the gateway's own, and Authorization (where upstream
#: credentials go). No tool takes them as arguments, and the gateway drops them from any argument
#: map that still names them.
RESERVED_HEADER_PARAMS = GATEWAY_HEADERS | {"authorization"}
#: ... and the two the gateway derives from the tool's media types: header parameters that never
#: become arguments.
IGNORED_HEADER_PARAMS = RESERVED_HEADER_PARAMS | {"accept", "content-type"}
_LOCATION_ORDER = ("path", "query", "header", "cookie")
_SIMPLE_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_BODY_PREFERENCE = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


# --------------------------------------------------------------------------- public API


def build_tools(
    spec: ParsedSpec,
    *,
    renames: dict[str, str] | None = None,
    previous_names: dict[str, str] | None = None,
) -> list[ToolDef]:
    """One ``ToolDef`` per operation, in document order (see module docstring for the rules)."""
    converter = SchemaConverter(spec.document)
    keys = [operation_key(op) for op in spec.operations]
    bases = [sanitize_name(op.operation_id) or derive_name(op.method, op.path) for op in spec.operations]
    names = assign_names(list(zip(keys, bases, strict=True)), renames or {}, previous_names or {})
    return [_build_tool(op, key, names[key], spec, converter) for op, key in zip(spec.operations, keys, strict=True)]


def operation_key(op: Operation) -> str:
    """Stable identity of an operation across imports: ``"GET /pets/{id}"``."""
    return f"{op.method.upper()} {op.path}"


def tool_definition(tool: ToolDef) -> dict[str, Any]:
    """The tools/list entry of a generated tool (before admin annotations): what its token
    bill is counted on (``apps.inventory.tokens``)."""
    definition: dict[str, Any] = {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}
    if tool.output_schema is not None:
        definition["outputSchema"] = tool.output_schema
    return definition


def json_size(value: Any, memo: dict[int, int] | None = None) -> int:
    """Characters of ``value`` as compact JSON (memoised by object identity)."""
    if memo is not None and id(value) in memo:
        return memo[id(value)]
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if memo is not None:
        memo[id(value)] = size
    return size


def needs_wrap(schema: Any) -> bool:
    """MCP ``outputSchema`` must be ``type: object``; anything else is wrapped."""
    return not (isinstance(schema, dict) and schema.get("type") == "object")


def wrap_output_schema(schema: dict[str, Any] | bool) -> dict[str, Any]:
    """``{"type": "object", "properties": {"result": schema}}``, ``$defs`` kept at the root."""
    inner = schema
    defs = None
    if isinstance(schema, dict) and "$defs" in schema:
        inner = {k: v for k, v in schema.items() if k != "$defs"}
        defs = schema["$defs"]
    wrapped: dict[str, Any] = {
        "$comment": WRAP_COMMENT,
        "type": "object",
        "properties": {OUTPUT_WRAP_KEY: inner},
        "required": [OUTPUT_WRAP_KEY],
    }
    if defs:
        wrapped["$defs"] = defs
    return wrapped


def is_wrapped(schema: Any) -> bool:
    """True for an ``outputSchema`` produced by ``wrap_output_schema``."""
    return isinstance(schema, dict) and schema.get("$comment") == WRAP_COMMENT


def wrap_result(tool: ToolDef, value: Any) -> Any:
    """Structured content for ``value`` as the tool's ``outputSchema`` describes it: the
    gateway calls this on every decoded JSON response."""
    if is_wrapped(tool.output_schema):
        return {OUTPUT_WRAP_KEY: value}
    return value


def request_parts(tool: ToolDef, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Split tool-call arguments back into the HTTP request with ``tool.arg_map``.

    Returns ``{"path": {}, "query": {}, "header": {}, "cookie": {}, "body": ...}`` keyed
    by the API's original names; ``body`` is ``None`` when no body argument was given.
    Unknown arguments raise ``ValueError`` (the schema forbids them).
    """
    parts: dict[str, Any] = {"path": {}, "query": {}, "header": {}, "cookie": {}, "body": None}
    unknown = sorted(set(arguments) - set(tool.arg_map))
    if unknown:
        raise ValueError(f"unknown argument(s) for {tool.name}: {', '.join(unknown)}")
    for prop, value in arguments.items():
        target = tool.arg_map[prop]
        if target["in"] != "body":
            parts[target["in"]][target["name"]] = value
        elif target["name"] == "":
            parts["body"] = value
        else:
            if parts["body"] is None:
                parts["body"] = {}
            parts["body"][target["name"]] = value
    return parts


def sanitize_name(raw: str) -> str:
    """Tool name charset ``[A-Za-z0-9_-]``, at most 64 characters ("" if nothing is left)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", raw.strip())
    name = re.sub(r"_{2,}", "_", name).strip("_")
    return name[:MAX_NAME_CHARS].rstrip("_-") or name[:MAX_NAME_CHARS]


def derive_name(method: str, path: str) -> str:
    """``GET /pets/{id}`` -> ``get_pets_by_id``; ``/`` -> ``get_root``."""
    parts = []
    for segment in path.split("/"):
        template = re.fullmatch(r"\{([^{}]+)\}", segment)
        if template:
            parts.append(f"by_{template.group(1)}")
        elif segment:
            parts.append(segment)
    return sanitize_name(f"{method.lower()}_{'_'.join(parts) or 'root'}")


def build_description(
    summary: str, description: str, *, deprecated: bool = False, limit: int = MAX_DESCRIPTION_CHARS
) -> str:
    """Summary and description joined (once if one repeats the other), ``DEPRECATED:``
    first when deprecated, trimmed to ``limit`` characters at a word boundary with ``…``."""
    summary, description = summary.strip(), description.strip()
    if summary and description and not description.startswith(summary):
        text = f"{summary}\n\n{description}"
    else:
        text = description or summary
    text = re.sub(r"\n{3,}", "\n\n", text)
    if deprecated:
        text = f"DEPRECATED: {text}" if text else "DEPRECATED"
    return _trim(text, limit)


def assign_names(
    wanted: list[tuple[str, str]], renames: Mapping[str, str], previous: Mapping[str, str]
) -> dict[str, str]:
    """``[(operation_key, base_name)]`` -> unique names; renames, then previous names, then
    document order get first pick (see module docstring)."""
    taken: set[str] = set()
    names: dict[str, str] = {}

    def claim(key: str, name: str) -> None:
        candidate, attempt = name, 0
        while candidate.lower() in taken:
            candidate = _suffixed(name, key, attempt)
            attempt += 1
        taken.add(candidate.lower())
        names[key] = candidate

    for source in (renames, previous):
        for key, _base in wanted:
            chosen = sanitize_name(source.get(key, "") or "")
            if key not in names and chosen:
                claim(key, chosen)
    for key, base in wanted:
        if key not in names:
            claim(key, base or "tool")
    return names


# --------------------------------------------------------------------------- tool assembly


@dataclass
class _Input:
    """The input schema being assembled, with the clash bookkeeping."""

    properties: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    arg_map: dict[str, dict[str, str]] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def add(self, candidates: list[str], schema: Any, location: str, original: str, required: bool,
            serialization: Mapping[str, Any] | None = None) -> None:
        name = next((c for c in candidates if c not in self.taken), None)
        if name is None:
            stem, number = candidates[-1], 2
            while f"{stem}_{number}" in self.taken:
                number += 1
            name = f"{stem}_{number}"
        self.taken.add(name)
        self.properties[name] = schema
        self.arg_map[name] = {"in": location, "name": original, **(serialization or {})}
        if required:
            self.required.append(name)


def _build_tool(op: Operation, key: str, name: str, spec: ParsedSpec, converter: SchemaConverter) -> ToolDef:
    content_type, media = _pick_body_media(op.request_body)
    input_schema, arg_map = _input_schema(op, media, converter)
    output = _output_schema(op, converter)
    return ToolDef(
        name=name,
        operation_key=key,
        method=op.method.upper(),
        path=op.path,
        operation_id=op.operation_id,
        description=build_description(op.summary, op.description, deprecated=op.deprecated),
        input_schema=input_schema,
        output_schema=output,
        tags=list(op.tags),
        summary=op.summary,
        deprecated=op.deprecated,
        arg_map=arg_map,
        body_content_type=content_type,
        security=list(op.security if op.security is not None else spec.security),
        responses=_responses(op, converter),
        extensions=dict(op.extensions),
        parameters=list(op.parameters),
        request_schema=converter.convert(media["schema"], "input") if media and "schema" in media else None,
    )


def _input_schema(
    op: Operation, media: dict[str, Any] | None, converter: SchemaConverter
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    session = converter.session("input")
    assembled = _Input()
    for location in _LOCATION_ORDER:
        for param in op.parameters:
            if param.location != location or (location == "header" and param.name.lower() in IGNORED_HEADER_PARAMS):
                continue
            prop = _property_name(param.name)
            assembled.add(
                [prop, f"{location}_{prop}"],
                _parameter_schema(param, session),
                location,
                param.name,
                param.required,
                _serialization(param),
            )
    if media is not None:
        _add_body(assembled, op.request_body or {}, media, session)
    schema: dict[str, Any] = {"type": "object", "properties": assembled.properties}
    if assembled.required:
        schema["required"] = assembled.required
    schema["additionalProperties"] = False
    return session.finish(schema), assembled.arg_map


#: OpenAPI 3 default ``style`` per parameter location; ``explode`` defaults to true for ``form`` only.
DEFAULT_STYLES = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}


def _serialization(param: Parameter) -> dict[str, Any]:
    """The ``arg_map`` keys describing how a parameter is serialized, only where it differs
    from the default (see the module docstring)."""
    out: dict[str, Any] = {}
    if param.media_type:
        out["media"] = param.media_type
        return out
    style = param.style or DEFAULT_STYLES[param.location]
    if style != DEFAULT_STYLES[param.location]:
        out["style"] = style
    if param.explode is not None and param.explode != (style == "form"):
        out["explode"] = param.explode
    return out


def _parameter_schema(param: Parameter, session: _Session) -> Any:
    schema = session.convert(param.schema) if param.schema else {"type": "string"}
    if not isinstance(schema, dict):
        return schema
    extra: dict[str, Any] = {}
    if param.description and "description" not in schema:
        extra["description"] = param.description
    if param.deprecated:
        extra["deprecated"] = True
    return {**schema, **extra} if extra else schema


def _add_body(assembled: _Input, body: dict[str, Any], media: dict[str, Any], session: _Session) -> None:
    """The body counts as required unless ``required: false`` is explicit: OpenAPI's default
    is false, but most real specs (Twilio's form bodies...) simply omit the flag while
    marking properties required, and agents need to see those."""
    required = body.get("required") is not False
    schema = session.convert(media.get("schema", {}))
    flat = _flatten_object(schema)
    if flat is None:
        if isinstance(schema, dict) and body.get("description") and "description" not in schema:
            schema = {**schema, "description": body["description"]}
        assembled.add(["body", "request_body"], schema, "body", "", required)
        return
    properties, body_required = flat
    for original, prop_schema in properties.items():
        prop = _property_name(original)
        assembled.add([prop, f"body_{prop}"], prop_schema, "body", original, required and original in body_required)


def _flatten_object(schema: Any) -> tuple[dict[str, Any], set[str]] | None:
    """``(properties, required)`` of a plain object schema or an ``allOf`` of them; ``None``
    when the body cannot be spread (not an object, open ``additionalProperties``,
    ``oneOf``/``anyOf``/``not``, a ``$defs`` reference, no properties)."""
    if not isinstance(schema, dict):
        return None
    plain_keys = {
        "type",
        "properties",
        "required",
        "description",
        "title",
        "additionalProperties",
        "examples",
        "allOf",
        "default",
    }
    if set(schema) - plain_keys or schema.get("type", "object") != "object":
        return None
    if schema.get("additionalProperties", False) is not False:
        return None
    properties = dict(schema.get("properties") or {})
    required = set(schema.get("required") or [])
    for part in schema.get("allOf") or []:
        flat = _flatten_object(part)
        if flat is None or set(flat[0]) & set(properties):
            return None
        properties.update(flat[0])
        required |= flat[1]
    return (properties, required) if properties else None


def _pick_body_media(body: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict) or not content:
        return None, None
    media_types = [m for m in content if isinstance(content[m], dict)]
    if not media_types:
        return None, None
    ranked = sorted(media_types, key=lambda m: (_media_rank(m), media_types.index(m)))
    return ranked[0], content[ranked[0]]


def _media_rank(media_type: str) -> int:
    base = media_type.split(";")[0].strip().lower()
    if base in _BODY_PREFERENCE:
        return _BODY_PREFERENCE.index(base)
    return len(_BODY_PREFERENCE) if _is_json(base) else len(_BODY_PREFERENCE) + 1


def _is_json(media_type: str) -> bool:
    base = media_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json") or base == "*/*" or "json" in base


def _sorted_2xx(responses: dict[str, Any]) -> list[str]:
    exact = sorted(code for code in responses if code.isdigit() and code.startswith("2"))
    return exact + [code for code in responses if code.upper() == "2XX"]


def _response_media_schema(response: dict[str, Any], json_only: bool) -> Any:
    content = response.get("content")
    if not isinstance(content, dict):
        return None
    candidates = [m for m in content if isinstance(content[m], dict) and "schema" in content[m]]
    json_types = [m for m in candidates if _is_json(m)]
    chosen = (json_types or ([] if json_only else candidates))[:1]
    return content[chosen[0]]["schema"] if chosen else None


def _output_schema(op: Operation, converter: SchemaConverter) -> dict[str, Any] | None:
    for code in _sorted_2xx(op.responses):
        raw = _response_media_schema(op.responses[code], json_only=True)
        if raw is None:
            continue
        schema = converter.convert(raw, "output")
        if schema in ({}, True):
            return None
        return wrap_output_schema(schema) if needs_wrap(schema) else schema
    return None


def _responses(op: Operation, converter: SchemaConverter) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for code, response in op.responses.items():
        raw = _response_media_schema(response, json_only=False)
        description = response.get("description")
        result[code] = {
            "description": description if isinstance(description, str) else "",
            "schema": converter.convert(raw, "output") if raw is not None else None,
        }
    return result


_PROPERTY_REPLACEMENTS = (("<", "_lt"), (">", "_gt"), ("[", "_"), ("]", "_"))


def _property_name(raw: str) -> str:
    name = raw
    for old, new in _PROPERTY_REPLACEMENTS:
        name = name.replace(old, new)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    name = re.sub(r"_{2,}", "_", name).strip("_")
    return name[:MAX_NAME_CHARS] or "param"


def _suffixed(name: str, key: str, attempt: int) -> str:
    seed = key if attempt == 0 else f"{key}#{attempt}"
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:_SUFFIX_CHARS]
    stem = name[: MAX_NAME_CHARS - _SUFFIX_CHARS - 1].rstrip("_-") or "tool"
    return f"{stem}_{digest}"


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():
        boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if boundary > limit // 2:
            cut = cut[:boundary]
    return cut.rstrip(" \t\n.,;:") + "…"


# --------------------------------------------------------------------------- schema conversion


_STRING_KEYWORDS = ("title", "description", "format", "contentMediaType", "contentEncoding")
_NUMBER_KEYWORDS = ("minimum", "maximum")
_COUNT_KEYWORDS = (
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
    "maxContains",
    "minContains",
)
_BOOL_KEYWORDS = ("uniqueItems", "readOnly", "writeOnly", "deprecated")
_SUBSCHEMA_KEYWORDS = (
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_SUBSCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "dependentSchemas")
_REF_OVERLAY_KEYS = frozenset({"description", "title", "summary"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class SchemaConverter:
    """OpenAPI schema objects (with local ``$ref``s) -> self-contained JSON Schema 2020-12.

    One converter per document: it caches converted ``$ref`` targets whose closure has
    no cycle and did not hit the size budget, so shared components are converted once
    per mode however many tools use them.
    """

    def __init__(self, document: dict[str, Any]):
        self.document = document
        # (ref, mode) -> (fully inlined result, weight, height): no cycle, no budget hit
        self.inline_cache: dict[tuple[str, str], tuple[Any, int, int]] = {}
        # (ref, mode) -> ($defs entry, refs it points to): nested refs all as $defs refs
        self.def_cache: dict[tuple[str, str], tuple[Any, tuple[str, ...]]] = {}
        self._def_names: dict[str, str] = {}
        self._roots: dict[tuple[Any, ...], Any] = {}
        self._patterns: dict[str, bool] = {}

    def convert(self, schema: Any, mode: str) -> Any:
        """Convert one root schema; ``mode`` is ``"input"`` or ``"output"``.

        Root conversions are context-free, so they are memoised: by ref for the common
        ``{"$ref": ...}`` root (Box's 296 operations return a handful of schemas), by
        object identity otherwise (the document outlives the converter).
        """
        if isinstance(schema, dict) and len(schema) == 1 and isinstance(schema.get("$ref"), str):
            key: tuple[Any, ...] = ("ref", schema["$ref"], mode)
        else:
            key = ("id", id(schema), mode)
        if key not in self._roots:
            session = self.session(mode)
            self._roots[key] = session.finish(session.convert(schema))
        return self._roots[key]

    def session(self, mode: str) -> _Session:
        """Several schemas that end up in one root (one ``$defs``), e.g. all tool arguments."""
        return _Session(self, mode)

    def def_name(self, ref: str) -> str:
        """``$defs`` key for a ref, the same in every tool: ``#/components/schemas/Pet`` -> ``Pet``.

        Names that had to be sanitised, and refs that are not a component schema, get a
        hash of the ref appended so two refs never share a name whatever order they
        are met in.
        """
        if ref not in self._def_names:
            last = jsonpointer.unescape(unquote(ref.rstrip("/").rsplit("/", 1)[-1]))
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", last) or "def"
            canonical = re.fullmatch(r"#/(components/schemas|definitions)/[^/]+", ref) and name == last
            if not canonical:
                name = f"{name[:48]}_{hashlib.sha256(ref.encode('utf-8')).hexdigest()[:_SUFFIX_CHARS]}"
            self._def_names[ref] = name
        return self._def_names[ref]

    def pattern_ok(self, pattern: str) -> bool:
        if pattern not in self._patterns:
            try:
                re.compile(pattern)
                self._patterns[pattern] = True
            except (re.error, RecursionError, OverflowError):
                self._patterns[pattern] = False
        return self._patterns[pattern]


class _Session:
    """State of one root schema being built: cycle stack, size budget, ``$defs`` needed."""

    def __init__(self, converter: SchemaConverter, mode: str):
        self.converter = converter
        self.mode = mode
        self.excluded_flag = "readOnly" if mode == "input" else "writeOnly"
        self.stack: list[str] = []
        self.weight = 0
        self.deepest = 0  # deepest schema level reached (for reusing cached results safely)
        self.tainted = False  # a $defs reference (or truncation) happened since the flag was reset
        self.shallow = False  # converting a $defs entry: every nested ref stays a ref
        self.defs: dict[str, Any] = {}
        self.queued: set[str] = set()
        self.pending: list[str] = []
        self.referenced: list[str] = []

    # -- roots

    def convert(self, schema: Any) -> Any:
        return self._node(schema, 0)

    def finish(self, root: Any) -> Any:
        """Convert the ``$defs`` the roots needed (which may need more) and attach them.

        A ``$defs`` entry keeps all its nested refs as refs ("shallow"), so it is the
        same in every tool and is converted once per document and mode.
        """
        while self.pending:
            ref = self.pending.pop(0)
            key = (ref, self.mode)
            if key not in self.converter.def_cache:
                self.shallow, self.stack, self.referenced = True, [ref], []
                target = self._target(ref)
                result = self._node(target, 0) if target is not None else {}
                self.converter.def_cache[key] = (result, tuple(self.referenced))
                self.shallow, self.stack = False, []
            result, referenced = self.converter.def_cache[key]
            self.defs[self.converter.def_name(ref)] = result
            for nested in referenced:
                self._queue(nested)
        if not self.defs:
            return root
        base = root if isinstance(root, dict) else ({} if root is True else {"not": {}})
        return {**base, "$defs": dict(sorted(self.defs.items()))}

    # -- nodes

    def _node(self, schema: Any, depth: int) -> Any:
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            return {}
        if depth > _MAX_SCHEMA_DEPTH:
            self.tainted = True  # truncated: the result depends on where it was met
            return {}
        if depth > self.deepest:
            self.deepest = depth
        if isinstance(schema.get("$ref"), str):
            return self._ref(schema, depth)
        self.weight += _weight(schema)
        return self._keywords(schema, depth)

    def _ref(self, node: dict[str, Any], depth: int) -> Any:
        ref = node["$ref"]
        siblings = {k: v for k, v in node.items() if k != "$ref" and not str(k).startswith("x-")}
        if siblings and not set(siblings) <= _REF_OVERLAY_KEYS:
            return self._node({"allOf": [{"$ref": ref}], **siblings}, depth)
        result = self._inline_or_def(ref, depth)
        overlay = {k: siblings[k] for k in ("description", "title") if isinstance(siblings.get(k), str)}
        if "summary" in siblings and "description" not in overlay and isinstance(siblings["summary"], str):
            overlay["description"] = siblings["summary"]
        if overlay and isinstance(result, dict):
            return {**result, **overlay}
        return result

    def _inline_or_def(self, ref: str, depth: int) -> Any:
        """Inline ``ref`` unless it is on the cycle stack or the root's budget is spent.

        A cached result is reused only when recomputing it here would give the same
        thing (it fits the remaining budget and the depth limit), so a tool's schema
        never depends on which tools were built before it.
        """
        if self._target(ref) is None:
            return {}
        if self.shallow or ref in self.stack or self.weight >= MAX_INLINE_CHARS:
            return self._def_ref(ref)
        cached = self.converter.inline_cache.get((ref, self.mode))
        if cached is not None:
            result, weight, height = cached
            if self.weight + weight <= MAX_INLINE_CHARS and depth + height <= _MAX_SCHEMA_DEPTH:
                self.weight += weight
                self.deepest = max(self.deepest, depth + height)
                return result
        outer_tainted, outer_deepest = self.tainted, self.deepest
        self.tainted, self.deepest = False, depth
        start = self.weight
        self.stack.append(ref)
        try:
            result = self._node(self._target(ref), depth)
        finally:
            self.stack.pop()
        if not self.tainted:
            self.converter.inline_cache[(ref, self.mode)] = (result, self.weight - start, self.deepest - depth)
        self.tainted = self.tainted or outer_tainted
        self.deepest = max(self.deepest, outer_deepest)
        return result

    def _def_ref(self, ref: str) -> dict[str, str]:
        self.tainted = True
        self.referenced.append(ref)
        self._queue(ref)
        return {"$ref": f"#/$defs/{self.converter.def_name(ref)}"}

    def _queue(self, ref: str) -> None:
        if ref not in self.queued:
            self.queued.add(ref)
            self.pending.append(ref)

    def _target(self, ref: str) -> Any:
        """The object a local ``#/...`` ref names, else ``None`` (``#``, the whole document, is no schema)."""
        if not ref.startswith("#/"):
            return None
        try:
            return jsonpointer.resolve_ref(self.converter.document, ref)
        except jsonpointer.PointerError:
            return None

    # -- keywords

    def _keywords(self, schema: dict[str, Any], depth: int) -> Any:
        out: dict[str, Any] = {}
        child = depth + 1
        for key, value in schema.items():
            if key == "type":
                kind = _clean_type(value)
                if kind is not None:
                    out["type"] = kind
            elif key in _STRING_KEYWORDS and isinstance(value, str):
                out[key] = value
            elif key == "pattern" and isinstance(value, str) and self.converter.pattern_ok(value):
                out[key] = value
            elif key in _NUMBER_KEYWORDS and _is_number(value):
                out[key] = value
            elif key in _COUNT_KEYWORDS and _is_number(value) and value >= 0 and value == int(value):
                out[key] = int(value)
            elif key == "multipleOf" and _is_number(value) and value > 0:
                out[key] = value
            elif key in _BOOL_KEYWORDS and isinstance(value, bool):
                out[key] = value
            elif key in ("enum", "examples") and isinstance(value, list):
                out[key] = value
            elif key in ("default", "const"):
                out[key] = value
            elif key == "example" and "examples" not in schema:
                out["examples"] = [value]
            elif key == "required" and isinstance(value, list):
                out[key] = list(dict.fromkeys(v for v in value if isinstance(v, str)))
            elif key == "dependentRequired" and isinstance(value, dict):
                out[key] = {
                    k: list(dict.fromkeys(x for x in v if isinstance(x, str)))
                    for k, v in value.items()
                    if isinstance(v, list)
                }
            elif key == "items":
                if isinstance(value, list):
                    out["prefixItems"] = [self._node(s, child) for s in value]
                else:
                    out[key] = self._node(value, child)
            elif key in _SUBSCHEMA_KEYWORDS:
                out[key] = self._node(value, child)
            elif key in _SUBSCHEMA_LIST_KEYWORDS and isinstance(value, list) and value:
                out[key] = [self._node(s, child) for s in value]
            elif key in _SUBSCHEMA_MAP_KEYWORDS and isinstance(value, dict):
                out[key] = self._properties(value, child, key == "properties")
        _exclusive_bounds(schema, out)
        if isinstance(schema.get("properties"), dict):
            _required_from_properties(schema, out)
        if schema.get("nullable") is True:
            out = _make_nullable(out)
        return out

    def _properties(self, props: dict[str, Any], depth: int, filter_flags: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, sub in props.items():
            if filter_flags and self._is_excluded(sub):
                continue
            result[str(name)] = self._node(sub, depth)
        return result

    def _is_excluded(self, prop: Any) -> bool:
        """``readOnly`` (input) / ``writeOnly`` (output) on the property or its ``$ref`` target."""
        hops = 0
        while isinstance(prop, dict) and hops < 8:
            if prop.get(self.excluded_flag) is True:
                return True
            if not isinstance(prop.get("$ref"), str):
                return False
            prop, hops = self._target(prop["$ref"]), hops + 1
        return False


def _weight(schema: dict[str, Any]) -> int:
    """Rough JSON size of one schema object without its sub-schemas (cheap to compute)."""
    weight = 24
    for key in ("description", "title", "pattern"):
        value = schema.get(key)
        if isinstance(value, str):
            weight += len(value)
    for key in ("enum", "examples"):
        value = schema.get(key)
        if isinstance(value, list):
            weight += 12 * len(value)
    return weight + (40 if "example" in schema else 0)


def _clean_type(value: Any) -> Any:
    if isinstance(value, str):
        return value if value in _SIMPLE_TYPES else None
    if isinstance(value, list):
        kinds = list(dict.fromkeys(v for v in value if v in _SIMPLE_TYPES))
        return kinds or None
    return None


def _exclusive_bounds(schema: dict[str, Any], out: dict[str, Any]) -> None:
    """OpenAPI 3.0 / Draft 4 boolean ``exclusiveMaximum`` -> 2020-12 numeric form."""
    for bound, exclusive in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
        value = schema.get(exclusive)
        if value is True and bound in out:
            out[exclusive] = out.pop(bound)
        elif _is_number(value):
            out[exclusive] = value


def _required_from_properties(schema: dict[str, Any], out: dict[str, Any]) -> None:
    """Keep ``required`` consistent with the properties kept, and accept the common
    Swagger mistake ``properties: {x: {required: true}}``."""
    kept = out.get("properties", {})
    required = list(out.get("required", []))
    for name, prop in schema["properties"].items():
        if isinstance(prop, dict) and prop.get("required") is True and name not in required:
            required.append(str(name))
    dropped = set(schema["properties"]) - set(kept)
    required = [name for name in required if name not in dropped]
    if required:
        out["required"] = required
    else:
        out.pop("required", None)


def _make_nullable(out: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 ``nullable: true`` -> ``"null"`` added to ``type`` (and ``enum``)."""
    if not out:
        return out
    kind = out.get("type")
    if kind is None:
        return {"anyOf": [out, {"type": "null"}]}
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if "null" not in kinds:
        kinds.append("null")
    result = {**out, "type": kinds}
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        result["enum"] = [*out["enum"], None]
    return result
