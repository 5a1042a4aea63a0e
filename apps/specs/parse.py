"""Raw OpenAPI bytes -> ``ParsedSpec``: safe decoding, version checks, 2.0 -> 3.x, validation.

Everything here treats the uploaded document as hostile input:

* size is checked before anything is decoded;
* JSON nesting depth is measured with a bracket pre-scan (strings stripped by a
  linear regex) *before* ``json.loads`` so a 10,000-deep document is refused in
  milliseconds without recursion;
* YAML is first streamed through libyaml's event parser (no tree is built) to
  count aliases, refuse recursive aliases, bound the depth *after* alias
  expansion and bound the expanded node count.  Counting aliases alone does not
  stop "billion laughs": the classic 9-level bomb needs only 72 aliases;
* ``$ref`` is only ever followed inside the document.  openapi-spec-validator's
  resolver would otherwise ``urlopen`` any ``http(s)://`` or ``file:`` ref it
  meets (even for schemes it has no handler for), so the validator is given a
  handler table that refuses every scheme.

Validation is split in three layers, cheapest first:

1. MCPForge's own structural checks (always): version, ``paths``, operations,
   parameters, and every ``$ref`` an operation needs.  Only these raise
   ``SpecError``; everything else is a ``SpecWarning``.  Real specs ship broken,
   so these checks tolerate what a tool can be built without (``_check_refs``):
   a dangling ``$ref`` in a schema becomes a schema accepting any value, an
   operation whose parameter, body or path item ``$ref`` dangles is skipped, and
   only a document with no operation left is refused.  Path parameters are
   matched to the template and schema examples checked against their schema
   (``_drop_invalid_examples``), with a warning for each repair.
2. openapi-spec-validator's meta-schema check (``schema`` phase).
3. openapi-spec-validator's semantic checks (``semantic`` phase: duplicate
   operationIds, undeclared path parameters, defaults against schemas ...).

Layers 2 and 3 cost about 0.3 s/MB each with the pure-Python ``jsonschema``
backend (Box, 1.8 MB: 0.54 s + 0.53 s), far beyond an import budget of 0.5 s.
``validation="auto"`` therefore runs them only for documents up to
``AUTO_VALIDATION_MAX_BYTES``; the meta-schema phase also runs for larger
documents when the ``jsonschema-rs`` backend is installed (Box: ~15 ms).  When
a phase is skipped a single warning says so.  The phases are called directly
rather than through ``SpecValidator.iter_errors`` because that method is
wrapped in ``functools.lru_cache(maxsize=None)`` keyed on the validator
instance: every document ever validated would stay in memory for the life of
the worker.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any
from urllib.parse import unquote

import yaml

from apps.core import jsonpointer
from apps.specs.domain import Operation, Parameter, ParsedSpec, SpecError, SpecWarning

__all__ = [
    "AUTO_VALIDATION_MAX_BYTES",
    "HTTP_METHODS",
    "MAX_ALIAS_EXPANSION",
    "convert_swagger2",
    "escape_pointer",
    "load_document",
    "resolve_pointer",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAMETER_LOCATIONS = ("path", "query", "header", "cookie")
# Aliases may add at most this many nodes beyond what the text itself contains.
MAX_ALIAS_EXPANSION = 1_000_000
# validation="auto" runs openapi-spec-validator fully up to this size (~0.2 s worst case).
AUTO_VALIDATION_MAX_BYTES = 256 * 1024
DEFAULT_MAX_WARNINGS = 100
_MAX_REF_HOPS = 64
_MESSAGE_LIMIT = 300

# Keys whose values are data (or irrelevant to tools): a "$ref" inside is not a reference
# we must follow.  They are skipped unless the dict is a *name map* (e.g. a property
# literally called "default" under "properties").
_DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const", "links", "callbacks"})
_NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
        "schemas",
        "responses",
        "parameters",
        "requestBodies",
        "headers",
        "content",
        "encoding",
        "securitySchemes",
        "paths",
        "webhooks",
        "securityDefinitions",
        "pathItems",
    }
)


# --------------------------------------------------------------------------- public API


def load_document(
    data: bytes,
    *,
    filename: str = "",
    max_bytes: int = 25 * 1024 * 1024,
    max_depth: int = 200,
    max_aliases: int = 100,
    validation: str = "auto",
    max_warnings: int = DEFAULT_MAX_WARNINGS,
) -> ParsedSpec:
    """Parse, check, validate and normalise one OpenAPI document.

    ``validation`` is ``"auto"`` (see module docstring), ``"full"`` (both
    openapi-spec-validator phases whatever the size), ``"schema"`` (meta-schema
    phase only) or ``"off"`` (MCPForge's structural checks only).  At most
    ``max_warnings`` validator findings are collected; iteration stops there to
    save time.  Raises ``SpecError`` for unusable documents.
    """
    if validation not in ("auto", "full", "schema", "off"):
        raise ValueError(f"unknown validation mode {validation!r}")
    if isinstance(data, str):
        data = data.encode("utf-8")
    _check_size(data, max_bytes)
    doc = _parse_bytes(data, filename=filename, max_depth=max_depth, max_aliases=max_aliases)
    if not isinstance(doc, dict):
        raise SpecError(f"the document must be a mapping (JSON object) at the top level, not {_kind(doc)}", pointer="/")
    source_version = _detect_version(doc)
    _require_paths(doc)
    warnings: list[SpecWarning] = []
    unbuildable = _check_refs(doc, data, warnings)
    validator_warnings = _validate(doc, source_version, len(data), validation, max_warnings)
    if source_version == "2.0":
        doc = convert_swagger2(doc)
    _drop_invalid_examples(doc, warnings)
    refs = _LocalRefs(doc)
    operations = _extract_operations(doc, refs, warnings, unbuildable)
    if not operations and unbuildable:
        message, where = next(iter(unbuildable.values()))
        raise SpecError(f"no operation can be turned into a tool: {message}", pointer=where)
    if not operations:
        warnings.append(SpecWarning("the document defines no operations: no tools will be generated", "/paths"))
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    return ParsedSpec(
        document=doc,
        source_version=source_version,
        title=_text(info.get("title")),
        version=_text(info.get("version")),
        operations=operations,
        servers=_servers(doc),
        security_schemes=_security_schemes(doc, refs),
        security=_normalise_security(doc.get("security"), "/security", warnings) or [],
        warnings=_merge_warnings(validator_warnings, warnings),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def escape_pointer(token: Any) -> str:
    """Escape one JSON pointer reference token (RFC 6901)."""
    return jsonpointer.escape(token)


def resolve_pointer(doc: Any, ref: str) -> Any:
    """Resolve a local ``#/a/b`` reference inside ``doc``; ``KeyError`` with a reason if absent.

    Tokens are percent-decoded first (a ``$ref`` is a URI) and then ``~1``/``~0``
    unescaped, in that order, as RFC 6901 section 6 requires (``apps.core.jsonpointer``).
    A ``$ref`` to the whole document (``#``) is refused: no OpenAPI object is the document.
    """
    if not ref.startswith("#/"):
        raise jsonpointer.PointerError(f"'{ref}' is not a local JSON pointer")
    return jsonpointer.resolve_ref(doc, ref)


# --------------------------------------------------------------------------- bytes -> tree


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise SpecError(f"document is {_mb(len(data))} MB; the limit is {_mb(max_bytes)} MB")
    if not data or data.isspace():  # no copy, unlike strip()
        raise SpecError("the document is empty")


def _mb(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _parse_bytes(data: bytes, *, filename: str, max_depth: int, max_aliases: int) -> Any:
    """JSON or YAML by filename hint, else by content; a ``{``/``[`` document that is not JSON
    is retried as YAML (flow style) and, if that also fails, the JSON error is reported."""
    text = _decode(data)
    name = filename.lower()
    is_json_name = name.endswith(".json")
    is_yaml_name = name.endswith((".yaml", ".yml"))
    looks_json = text.lstrip()[:1] in ("{", "[")
    if is_json_name or (looks_json and not is_yaml_name):
        try:
            return _load_json(text, max_depth)
        except _JsonSyntaxError as json_error:
            if is_json_name:
                raise
            try:
                return _load_yaml(text, max_depth=max_depth, max_aliases=max_aliases)
            except SpecError:
                raise json_error from None
    return _load_yaml(text, max_depth=max_depth, max_aliases=max_aliases)


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SpecError(f"the document is not valid UTF-16 text (byte {exc.start})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"the document is not UTF-8 text (invalid byte at offset {exc.start})", line=line) from None


# "unrolled loop" string pattern: linear, and much faster than an alternation per character.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)
_NOT_BRACKETS = "".join(chr(c) for c in range(128) if chr(c) not in "[]{}")


def _json_depth(text: str) -> int:
    """Maximum bracket nesting outside strings, without parsing (linear, no recursion)."""
    brackets = _JSON_STRING.sub("", text)
    brackets = brackets.translate({ord(c): None for c in _NOT_BRACKETS})
    if not brackets:
        return 0
    deltas = (1 if c in "[{" else -1 for c in brackets if c in "[]{}")
    return max(accumulate(deltas), default=0)


def _json_depth_error_line(text: str, max_depth: int) -> int:
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme in "[{":
            depth += 1
            if depth > max_depth:
                return text.count("\n", 0, match.start()) + 1
        elif lexeme in "]}":
            depth -= 1
    return 1


class _JsonSyntaxError(SpecError):
    """Malformed JSON: a document that merely *looks* like JSON is then retried as YAML."""


def _load_json(text: str, max_depth: int) -> Any:
    if _json_depth(text) > max_depth:
        line = _json_depth_error_line(text, max_depth)
        raise SpecError(f"the document nesting is deeper than {max_depth} levels", line=line)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _JsonSyntaxError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    except RecursionError:  # pragma: no cover - the pre-scan bounds depth first
        raise SpecError(f"the document nesting is deeper than {max_depth} levels") from None


_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that keeps ISO dates as strings: an OpenAPI document is JSON data and
    ``datetime.date`` values (``example: 2020-01-01``) would not serialise."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


def _load_yaml(text: str, *, max_depth: int, max_aliases: int) -> Any:
    try:
        _scan_yaml_events(text, max_depth=max_depth, max_aliases=max_aliases)
        loader = _SpecLoader(text)
        try:
            doc = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise SpecError(_yaml_problem(problem, max_depth), line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SpecError(_yaml_problem(str(exc), max_depth)) from None
    return _normalise_yaml_tree(doc)


def _yaml_problem(problem: str, max_depth: int) -> str:
    # libyaml refuses deep flow collections itself, while scanning ahead of our event check
    if "nesting depth" in problem:
        return f"the document nesting is deeper than {max_depth} levels"
    return f"invalid YAML: {_short(problem)}"


def _scan_yaml_events(text: str, *, max_depth: int, max_aliases: int) -> None:
    """Stream libyaml events (bounded memory, no tree) and refuse hostile structure.

    Tracks, per anchor, the size and height of the anchored node so that the size
    and depth the document would have *after* alias expansion are known before
    anything is built.
    """
    loader = _BaseLoader(text)
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, height)
    stack: list[list[Any]] = []  # [anchor, nodes, height]
    open_anchors: set[str] = set()
    aliases = expansion = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            line = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) + 1 > max_depth:
                    raise SpecError(f"the document nesting is deeper than {max_depth} levels", line=line)
                stack.append([event.anchor, 1, 1])
                if event.anchor:
                    open_anchors.add(event.anchor)
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, nodes, height = stack.pop()
                if anchor:
                    anchors[anchor] = (nodes, height)
                    open_anchors.discard(anchor)
                _add_child(stack, nodes, height)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor:
                    anchors[event.anchor] = (1, 0)
                _add_child(stack, 1, 0)
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > max_aliases:
                    raise SpecError(
                        f"the document uses more than {max_aliases} YAML aliases (possible alias bomb)",
                        line=line,
                    )
                if event.anchor in open_anchors:
                    raise SpecError(f"recursive YAML alias '*{event.anchor}' is not allowed", line=line)
                nodes, height = anchors.get(event.anchor, (1, 0))
                expansion += nodes
                if expansion > MAX_ALIAS_EXPANSION:
                    raise SpecError(
                        f"YAML aliases expand the document by more than {MAX_ALIAS_EXPANSION:,} nodes "
                        "(billion-laughs style alias bomb)",
                        line=line,
                    )
                if len(stack) + height > max_depth:
                    raise SpecError(
                        f"the document nesting is deeper than {max_depth} levels once aliases are expanded",
                        line=line,
                    )
                _add_child(stack, nodes, height)
    finally:
        loader.dispose()


def _add_child(stack: list[list[Any]], nodes: int, height: int) -> None:
    if stack:
        frame = stack[-1]
        frame[1] += nodes
        frame[2] = max(frame[2], height + 1)


def _normalise_yaml_tree(doc: Any) -> Any:
    """Make a YAML tree JSON-shaped: string keys (``200:`` is an int in YAML), JSON scalars only."""
    if not isinstance(doc, dict | list):
        return _yaml_scalar(doc, "")
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, pointer = stack.pop()
        if id(node) in seen:  # shared by an alias: already normalised
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if any(not isinstance(key, str) for key in node):
                items = [(_yaml_key(key, pointer), value) for key, value in node.items()]
                node.clear()
                node.update(items)
            for key, value in node.items():
                _normalise_child(node, key, value, f"{pointer}/{escape_pointer(key)}", stack)
        else:
            for index, value in enumerate(node):
                _normalise_child(node, index, value, f"{pointer}/{index}", stack)
    return doc


def _normalise_child(parent: Any, key: Any, value: Any, pointer: str, stack: list[tuple[Any, str]]) -> None:
    if isinstance(value, dict | list):
        stack.append((value, pointer))
    else:
        parent[key] = _yaml_scalar(value, pointer)


def _yaml_key(key: Any, pointer: str) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float | str):
        return str(key)
    raise SpecError(f"unsupported YAML mapping key of type {type(key).__name__}", pointer=pointer or "/")


def _yaml_scalar(value: Any, pointer: str) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):  # explicit !!timestamp
        return value.isoformat()
    raise SpecError(f"unsupported YAML value of type {type(value).__name__}", pointer=pointer or "/")


# --------------------------------------------------------------------------- structure checks


_SUPPORTED = "MCPForge accepts swagger 2.0 and openapi 3.0.x / 3.1.x"
_OPENAPI_VERSION = re.compile(r"^3\.[01](\.\d+)?$")


def _detect_version(doc: dict[str, Any]) -> str:
    if "openapi" in doc:
        raw = doc["openapi"]
        version = str(raw).strip() if isinstance(raw, str | int | float) and not isinstance(raw, bool) else ""
        if not _OPENAPI_VERSION.match(version):
            raise SpecError(
                f"unsupported OpenAPI version {raw!r}: {_SUPPORTED}",
                pointer="/openapi",
            )
        if version.count(".") == 1:
            version += ".0"
        doc["openapi"] = version
        return version
    if "swagger" in doc:
        raw = doc["swagger"]
        if str(raw).strip() not in ("2.0", "2"):
            raise SpecError(
                f"unsupported Swagger version {raw!r}: {_SUPPORTED}",
                pointer="/swagger",
            )
        doc["swagger"] = "2.0"
        return "2.0"
    raise SpecError(
        "not an OpenAPI document: the top level has neither an 'openapi' (3.x) nor a 'swagger' (2.0) field",
        pointer="/",
    )


def _require_paths(doc: dict[str, Any]) -> None:
    if "paths" not in doc:
        raise SpecError(
            "the document has no 'paths' object: there are no operations to turn into tools", pointer="/paths"
        )
    if not isinstance(doc["paths"], dict):
        raise SpecError(f"'paths' must be a mapping, not {_kind(doc['paths'])}", pointer="/paths")


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"


# --------------------------------------------------------------------------- $ref checks


# Possessive ``\s*+`` so the look-ahead cannot be satisfied by backtracking into the spaces.
_EXTERNAL_REF_HINT = re.compile(rb"""\$ref['"]?\s*+:\s*+(?!['"]?#)""")


_MISSING = object()
#: Where a dangling ``$ref`` leaves no honest tool: the object names parameters (their name and
#: location are unknown) or the body (its media type is unknown), so the operation is skipped.
_UNBUILDABLE = {"path": "path item", "operation": "operation", "parameter": "parameter", "requestBody": "request body"}


def _check_refs(doc: dict[str, Any], raw: bytes, warnings: list[SpecWarning]) -> dict[str, tuple[str, str]]:
    """Check every ``$ref`` reachable from an operation; repair or report the dangling ones.

    External refs reachable from an operation raise ``SpecError`` (never fetched); unreachable
    ones only warn. A dangling local ref is *tolerated* where the tool can still be built:

    * in a schema it becomes a permissive schema (the ``$ref`` removed, a description saying so)
      and a warning names its JSON pointer;
    * a response, header, example or link becomes ``{"description": ...}`` (no schema);
    * a path item, parameter or request body cannot be replaced honestly: the operations it
      belongs to are returned as ``{operation or path item pointer: (message, pointer of the $ref)}``
      and skipped by ``_extract_operations`` with a warning.

    Walks the path items structurally (so the kind of object each ``$ref`` stands for is known)
    and, transitively, every target they reference (each schema target once).
    """
    unbuildable: dict[str, tuple[str, str]] = {}
    followed: set[str] = set()
    chains: dict[str, tuple[Any, str, str | None]] = {}  # each chain followed once, however many sites
    stack: list[tuple[Any, str, str, str]] = [
        (item, f"/paths/{escape_pointer(path)}", "path", f"/paths/{escape_pointer(path)}")
        for path, item in doc["paths"].items()
        if not str(path).startswith("x-")
    ]
    while stack:
        node, pointer, kind, owner = stack.pop()
        if kind == "schema":
            _check_schema_refs(doc, node, pointer, owner, followed, stack, warnings)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("$ref"), str):
            where = f"{pointer}/$ref"
            if node["$ref"] not in chains:
                chains[node["$ref"]] = _resolve_chain(doc, node["$ref"], where)
            target, final, problem = chains[node["$ref"]]
            if problem is not None:
                message = f"$ref '{_short(node['$ref'])}' cannot be resolved: {problem}"
                if kind in _UNBUILDABLE:
                    unbuildable.setdefault(owner, (message, where))
                else:
                    node.clear()
                    node["description"] = f"Unresolvable $ref removed at import: {message}"
                    warnings.append(SpecWarning(f"{message}; the {kind} is kept without a schema", where))
                continue
            if kind != "path":  # path items are walked once per referring path (owners differ)
                if final in followed:
                    continue
                followed.add(final)
            stack.append((target, final[1:], kind, owner))
            continue
        for key, child, child_kind, child_owner in _structural_children(node, kind, owner):
            stack.append((child, f"{pointer}/{key}", child_kind, child_owner))
    if _EXTERNAL_REF_HINT.search(raw):
        for ref, where in _iter_refs(doc, ""):
            if not ref.startswith("#"):
                warnings.append(
                    SpecWarning(
                        f"external $ref '{_short(ref)}' is not followed (MCPForge never fetches remote "
                        "documents); it is not used by any operation",
                        where,
                    )
                )
    return unbuildable


def _structural_children(node: dict[str, Any], kind: str, owner: str) -> Iterator[tuple[str, Any, str, str]]:
    """``(escaped pointer suffix, child, child kind, child owner)`` for the parts of an OpenAPI object that may
    hold ``$ref``s we follow (examples, links and callbacks are data or out of scope)."""

    def each(key: str, child_kind: str) -> Iterator[tuple[str, Any, str, str]]:
        value = node.get(key)
        if isinstance(value, dict):
            for name, child in value.items():
                if not str(name).startswith("x-"):
                    yield f"{key}/{escape_pointer(name)}", child, child_kind, owner
        elif isinstance(value, list):
            for index, child in enumerate(value):
                yield f"{key}/{index}", child, child_kind, owner

    if kind == "path":
        yield from each("parameters", "parameter")
        for method in HTTP_METHODS:
            if isinstance(node.get(method), dict):
                yield method, node[method], "operation", f"{owner}/{method}"
    elif kind == "operation":
        yield from each("parameters", "parameter")
        if "requestBody" in node:
            yield "requestBody", node["requestBody"], "requestBody", owner
        yield from each("responses", "response")
    elif kind in ("parameter", "header", "media", "response", "requestBody"):
        if "schema" in node:  # 2.0 responses and body parameters hold their schema directly
            yield "schema", node["schema"], "schema", owner
        yield from each("content", "media")
        if kind == "response":
            yield from each("headers", "header")
        if kind == "media" and isinstance(node.get("encoding"), dict):
            for name, encoding in node["encoding"].items():
                if isinstance(encoding, dict) and isinstance(encoding.get("headers"), dict):
                    for header, child in encoding["headers"].items():
                        key = f"encoding/{escape_pointer(name)}/headers/{escape_pointer(header)}"
                        yield key, child, "header", owner


def _check_schema_refs(
    doc: dict[str, Any],
    schema: Any,
    pointer: str,
    owner: str,
    followed: set[str],
    stack: list[tuple[Any, str, str, str]],
    warnings: list[SpecWarning],
) -> None:
    """Every ``$ref`` inside one schema: follow resolvable targets, make dangling ones permissive."""
    for holder, ref, where in list(_iter_ref_nodes(schema, pointer)):
        if not ref.startswith("#"):
            raise SpecError(
                f"external $ref '{_short(ref)}' at {where} is not allowed: MCPForge never fetches remote documents",
                pointer=where,
            )
        if ref in followed:
            continue
        try:
            target = resolve_pointer(doc, ref)
        except KeyError as exc:
            message = f"$ref '{_short(ref)}' cannot be resolved: {exc.args[0]}"
            del holder["$ref"]
            note = f"Schema unknown (unresolvable $ref '{_short(ref)}' in the spec): any value."
            own = holder.get("description")
            holder["description"] = f"{own}\n\n{note}" if isinstance(own, str) and own.strip() else note
            warnings.append(SpecWarning(f"{message}; replaced by a schema that accepts any value", where))
            continue
        followed.add(ref)
        stack.append((target, ref[1:], "schema", owner))


def _resolve_chain(doc: dict[str, Any], ref: str, where: str) -> tuple[Any, str, str | None]:
    """Follow ``ref`` (and refs it lands on) to an object: ``(target, last ref, problem or None)``."""
    for _ in range(_MAX_REF_HOPS):
        if not ref.startswith("#"):
            raise SpecError(
                f"external $ref '{_short(ref)}' at {where} is not allowed: MCPForge never fetches remote documents",
                pointer=where,
            )
        try:
            target = resolve_pointer(doc, ref)
        except KeyError as exc:
            return _MISSING, ref, f"{exc.args[0]}"
        if not (isinstance(target, dict) and isinstance(target.get("$ref"), str)):
            return target, ref, None
        ref, where = target["$ref"], f"{ref[1:]}/$ref"
    return _MISSING, ref, f"more than {_MAX_REF_HOPS} chained $refs (a loop)"


def _iter_refs(root: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Yield ``($ref value, pointer of the $ref)`` under ``root`` without entering data values."""
    for _holder, ref, where in _iter_ref_nodes(root, pointer):
        yield ref, where


def _iter_ref_nodes(root: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str, str]]:
    """``(object holding the $ref, its value, pointer of the $ref)`` under ``root``, data values skipped."""
    stack: list[tuple[Any, str, bool]] = [(root, pointer, False)]
    while stack:
        node, where, is_name_map = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield node, ref, f"{where}/$ref"
            for key, value in node.items():
                if isinstance(value, dict | list) and (
                    is_name_map or (key not in _DATA_KEYS and not str(key).startswith("x-"))
                ):
                    stack.append((value, f"{where}/{escape_pointer(key)}", key in _NAME_MAPS and not is_name_map))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, dict | list):
                    stack.append((value, f"{where}/{index}", False))


# --------------------------------------------------------------------------- examples


_SCHEMA_CHILD = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_SCHEMA_CHILD_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_SCHEMA_CHILD_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
_SPEC_URI = "urn:mcpforge:spec"


def _drop_invalid_examples(doc: dict[str, Any], warnings: list[SpecWarning]) -> None:
    """Remove schema ``example`` values (and 3.1 ``examples`` items) that do not validate against
    their own schema, with a warning: tools copy them into the schemas agents read, and a wrong
    example teaches a wrong call. Only schemas reachable from an operation are checked; the
    document is 3.x here (2.0 is converted first, so ``x-nullable`` is already ``nullable``)."""
    from jsonschema.exceptions import best_match
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4, DRAFT202012

    is_30 = str(doc.get("openapi", "")).startswith("3.0")
    validator_class = _example_validator("3.0" if is_30 else "3.1")
    resource = Resource.from_contents(doc, default_specification=DRAFT4 if is_30 else DRAFT202012)
    registry = Registry().with_resource(_SPEC_URI, resource)

    base = validator_class({}, registry=registry)

    def problem(schema: dict[str, Any], pointer: str, value: Any) -> str | None:
        # Most examples sit on small ref-free schemas: validating against the node itself skips the
        # registry lookup (Box: 1,728 examples in ~50 ms instead of ~340 ms).
        target = {"$ref": f"{_SPEC_URI}#{pointer}"} if _has_ref(schema) else schema
        try:
            validator = base.evolve(schema=target)
            if validator.is_valid(value):
                return None
            error = best_match(validator.iter_errors(value))
        except Exception:  # noqa: BLE001 - a schema the validator cannot use: keep the example
            return None
        if error is None:
            return None
        where = "".join(f"/{escape_pointer(t)}" for t in error.absolute_path)
        return f"{_short(error.message)}{f' at {where}' if where else ''}"

    for schema, pointer in _reachable_schemas(doc):
        if "example" in schema:
            reason = problem(schema, pointer, schema["example"])
            if reason:
                del schema["example"]
                warnings.append(
                    SpecWarning(f"example does not match its schema ({reason}): dropped", f"{pointer}/example")
                )
        if not is_30 and isinstance(schema.get("examples"), list):
            kept = []
            for index, value in enumerate(schema["examples"]):
                reason = problem(schema, pointer, value)
                if reason:
                    warnings.append(
                        SpecWarning(
                            f"example does not match its schema ({reason}): dropped", f"{pointer}/examples/{index}"
                        )
                    )
                else:
                    kept.append(value)
            if len(kept) != len(schema["examples"]):
                if kept:
                    schema["examples"] = kept
                else:
                    del schema["examples"]


@functools.cache
def _example_validator(version: str) -> Any:
    """openapi-schema-validator's class for ``version`` with the regex keywords on RE2.

    Schemas and examples are both uploaded text: Python's backtracking ``re`` would let
    ``pattern: '^(a+)+$'`` with ``example: 'aaaa…!'`` stall the worker. RE2 runs in linear time;
    a pattern RE2 cannot compile (look-arounds, back-references) is not checked, and a
    ``patternProperties`` + ``additionalProperties`` combination is not checked either (so an
    example is only ever dropped on evidence)."""
    from jsonschema import ValidationError, validators
    from openapi_schema_validator import OAS30Validator, OAS31Validator

    base = OAS30Validator if version == "3.0" else OAS31Validator
    plain_additional = base.VALIDATORS["additionalProperties"]

    def pattern(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        compiled = _re2(value)
        if validator.is_type(instance, "string") and compiled is not None and not compiled.search(instance):
            yield ValidationError(f"{_short(repr(instance))} does not match {_short(repr(value))}")

    def pattern_properties(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        if not validator.is_type(instance, "object") or not isinstance(value, dict):
            return
        for regex, subschema in value.items():
            compiled = _re2(regex)
            if compiled is None:
                continue
            for key, item in instance.items():
                if compiled.search(key):
                    yield from validator.descend(item, subschema, path=key, schema_path=regex)

    def additional_properties(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        if "patternProperties" not in schema:  # jsonschema's own code uses no regex then
            yield from plain_additional(validator, value, instance, schema)

    return validators.extend(
        base,
        {"pattern": pattern, "patternProperties": pattern_properties, "additionalProperties": additional_properties},
    )


@functools.lru_cache(maxsize=1024)
def _re2(pattern: Any) -> Any:
    import re2

    if not isinstance(pattern, str):
        return None
    options = re2.Options()
    options.log_errors = False  # unsupported syntax is expected here, not worth a line on stderr
    try:
        return re2.compile(pattern, options)
    except Exception:  # noqa: BLE001 - re2.error and friends: unsupported syntax is not checked
        return None


def _has_ref(schema: Any) -> bool:
    """Does a ``$ref`` occur in this schema (data keywords such as ``example`` not entered)?"""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "$ref" in node:
                return True
            stack.extend(v for k, v in node.items() if k not in _DATA_KEYS and isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return False


def _reachable_schemas(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """``(schema object, its JSON pointer)`` for every schema an operation can reach, each once."""
    seen: set[str] = set()
    stack: list[tuple[Any, str, str]] = [
        (item, f"/paths/{escape_pointer(path)}", "path")
        for path, item in doc["paths"].items()
        if not str(path).startswith("x-")
    ]
    while stack:
        node, pointer, kind = stack.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref not in seen:
                seen.add(ref)
                try:
                    stack.append((resolve_pointer(doc, ref), ref[1:], kind))
                except KeyError:
                    pass
            if kind != "schema" or len(node) == 1:
                continue
        if kind == "schema":
            yield node, pointer
            for key in _SCHEMA_CHILD:
                if isinstance(node.get(key), dict):
                    stack.append((node[key], f"{pointer}/{key}", "schema"))
            for key in _SCHEMA_CHILD_LISTS:
                if isinstance(node.get(key), list):
                    stack.extend((sub, f"{pointer}/{key}/{i}", "schema") for i, sub in enumerate(node[key]))
            for key in _SCHEMA_CHILD_MAPS:
                if isinstance(node.get(key), dict):
                    stack.extend(
                        (sub, f"{pointer}/{key}/{escape_pointer(name)}", "schema") for name, sub in node[key].items()
                    )
            continue
        for key, child, child_kind, _owner in _structural_children(node, kind, ""):
            stack.append((child, f"{pointer}/{key}", child_kind))


class _LocalRefs:
    """Follows local ``$ref`` chains (already checked by ``_check_refs`` where it matters)."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc

    def resolve(self, node: Any) -> Any:
        """Return the object ``node`` refers to (``node`` itself if it is not a reference);
        unresolvable or looping chains return ``None``."""
        hops = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            hops += 1
            if hops > _MAX_REF_HOPS:
                return None
            try:
                node = resolve_pointer(self.doc, node["$ref"])
            except KeyError:
                return None
        return node


# --------------------------------------------------------------------------- validation


class _RefuseAllSchemes(dict):
    """Resolver handler table for jsonschema-path that claims every scheme and fetches none.

    ``SchemaRetriever`` falls back to ``urlopen`` for schemes it has no handler for, so
    an ordinary dict of refusing handlers is not enough: this one contains every key.
    """

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return _refuse_fetch


def _refuse_fetch(uri: str) -> Any:
    raise ValueError(f"refusing to fetch '{uri}': MCPForge never fetches remote documents")


def _fast_schema_backend() -> bool:
    try:
        from openapi_spec_validator.schemas.backend import get_validator_backend
    except ImportError:  # pragma: no cover - older openapi-spec-validator
        return False
    return get_validator_backend() == "jsonschema-rs"


def _validate(doc: dict[str, Any], version: str, size: int, mode: str, max_warnings: int) -> list[SpecWarning]:
    if mode == "off":
        return []
    run_schema = mode in ("full", "schema") or size <= AUTO_VALIDATION_MAX_BYTES or _fast_schema_backend()
    run_semantic = mode == "full" or (mode == "auto" and size <= AUTO_VALIDATION_MAX_BYTES)
    warnings: list[SpecWarning] = []
    try:
        for error in _validator_errors(doc, version, run_schema, run_semantic):
            if len(warnings) >= max_warnings:
                warnings.append(
                    SpecWarning(
                        f"validation stopped after {max_warnings} findings; fix these and re-import to see more"
                    )
                )
                break
            warnings.append(_warning_from(error))
    except Exception as exc:  # noqa: BLE001 - a validator crash must not block an import we understood
        warnings.append(SpecWarning(f"openapi-spec-validator stopped early: {_short(str(exc))}"))
    skipped = [name for name, ran in (("meta-schema", run_schema), ("semantic", run_semantic)) if not ran]
    if mode == "auto" and skipped:
        warnings.append(
            SpecWarning(
                f"validation incomplete: openapi-spec-validator's {' and '.join(skipped)} checks were "
                f"skipped for this {_mb(size)} MB document to keep imports fast; "
                "MCPForge's structural checks ran"
            )
        )
    return warnings


def _validator_errors(doc: dict[str, Any], version: str, run_schema: bool, run_semantic: bool) -> Iterator[Any]:
    from openapi_spec_validator.validation import (
        OpenAPIV2SpecValidator,
        OpenAPIV30SpecValidator,
        OpenAPIV31SpecValidator,
    )

    if version == "2.0":
        validator_class: type = OpenAPIV2SpecValidator
    elif version.startswith("3.0"):
        validator_class = OpenAPIV30SpecValidator
    else:
        validator_class = OpenAPIV31SpecValidator

    class _NoFetchValidator(validator_class):  # type: ignore[misc, valid-type]
        resolver_handlers = _RefuseAllSchemes()

    validator = _NoFetchValidator(doc)
    if run_schema:
        yield from validator.schema_validator.iter_errors(doc)
    if run_semantic:
        yield from validator.root_validator(validator.schema_path)


def _warning_from(error: Any) -> SpecWarning:
    """Prefer the most specific sub-error of a ``oneOf``/``anyOf`` failure: its message names
    the real problem and its path is deeper than "not valid under any of the given schemas"."""
    context = getattr(error, "context", None)
    if context:
        from jsonschema.exceptions import best_match

        error = best_match(context) or error
    path = getattr(error, "absolute_path", None) or ()
    pointer = "".join(f"/{escape_pointer(token)}" for token in path)
    return SpecWarning(_short(getattr(error, "message", None) or str(error)), pointer)


def _merge_warnings(validator: list[SpecWarning], own: list[SpecWarning]) -> list[SpecWarning]:
    """MCPForge's own warnings first (they say what the import did: a schema made permissive, an
    operation skipped, a parameter dropped; pages list the first 50), then the validator's
    findings; an own warning is dropped when the validator already reported the same pointer
    (e.g. ``security: [{oauth2: null}]`` is found by both)."""
    reported = {w.pointer for w in validator if w.pointer}
    merged: list[SpecWarning] = []
    seen: set[tuple[str, str]] = set()
    for warning in [w for w in own if not w.pointer or w.pointer not in reported] + validator:
        if (warning.pointer, warning.message) not in seen:
            seen.add((warning.pointer, warning.message))
            merged.append(warning)
    return merged


# --------------------------------------------------------------------------- Swagger 2.0 -> 3.0


_V2_REF_PREFIXES = (
    ("#/definitions/", "#/components/schemas/"),
    ("#/parameters/", "#/components/parameters/"),
    ("#/responses/", "#/components/responses/"),
)
_V2_SCHEMA_KEYWORDS = (
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
)
_V2_COLLECTION_STYLES = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
    "tsv": ("tabDelimited", False),  # no OpenAPI 3 style: the gateway joins with a tab (Swagger 2's rule)
}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_V2_OAUTH_FLOWS = {
    "implicit": ("implicit", ("authorizationUrl",)),
    "password": ("password", ("tokenUrl",)),
    "application": ("clientCredentials", ("tokenUrl",)),
    "accessCode": ("authorizationCode", ("authorizationUrl", "tokenUrl")),
}


def convert_swagger2(doc: dict[str, Any]) -> dict[str, Any]:
    """Return an OpenAPI 3.0.3 document equivalent to a Swagger 2.0 one (the input is not modified).

    Parameter ``$ref``s are inlined (a 2.0 body parameter becomes a requestBody, which
    3.0 cannot reference from ``parameters``); path-level parameters are merged into
    each operation, operation-level winning by ``(name, in)``.
    """
    consumes = _string_list(doc.get("consumes")) or ["application/json"]
    produces = _string_list(doc.get("produces")) or ["application/json"]
    out: dict[str, Any] = {"openapi": "3.0.3", "info": _rewrite_refs(doc.get("info") or {})}
    for key in ("tags", "externalDocs", "security"):
        if key in doc:
            out[key] = _rewrite_refs(doc[key])
    out.update({k: v for k, v in doc.items() if str(k).startswith("x-")})
    servers = _v2_servers(doc)
    if servers:
        out["servers"] = servers
    root_params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    out["paths"] = {
        path: _v2_path_item(item, doc, root_params, consumes, produces) if isinstance(item, dict) else item
        for path, item in doc["paths"].items()
    }
    components = _v2_components(doc, root_params, produces)
    if components:
        out["components"] = components
    return out


def _v2_servers(doc: dict[str, Any]) -> list[dict[str, str]]:
    host = doc.get("host") if isinstance(doc.get("host"), str) else ""
    base = doc.get("basePath") if isinstance(doc.get("basePath"), str) else ""
    if not host:
        return [{"url": base}] if base else []
    schemes = [s for s in _string_list(doc.get("schemes")) if s in ("http", "https", "ws", "wss")] or ["https"]
    return [{"url": f"{scheme}://{host}{base}"} for scheme in schemes]


def _v2_components(doc: dict[str, Any], root_params: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    definitions = doc.get("definitions")
    if isinstance(definitions, dict):
        components["schemas"] = {name: _v2_schema(schema) for name, schema in definitions.items()}
    params = {
        name: _v2_parameter(param)
        for name, param in root_params.items()
        if isinstance(param, dict) and param.get("in") not in ("body", "formData")
    }
    if params:
        components["parameters"] = params
    responses = doc.get("responses")
    if isinstance(responses, dict):
        components["responses"] = {name: _v2_response(resp, produces) for name, resp in responses.items()}
    schemes = doc.get("securityDefinitions")
    if isinstance(schemes, dict):
        components["securitySchemes"] = {
            name: _v2_security_scheme(s) for name, s in schemes.items() if isinstance(s, dict)
        }
    return components


def _v2_security_scheme(scheme: dict[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    out: dict[str, Any] = {k: v for k, v in scheme.items() if k == "description" or str(k).startswith("x-")}
    if kind == "basic":
        out.update(type="http", scheme="basic")
    elif kind == "apiKey":
        out.update(type="apiKey", name=scheme.get("name", ""), **{"in": scheme.get("in", "header")})
    elif kind == "oauth2":
        flow_name, url_keys = _V2_OAUTH_FLOWS.get(scheme.get("flow", ""), ("implicit", ("authorizationUrl",)))
        flow: dict[str, Any] = {key: scheme.get(key, "") for key in url_keys}
        flow["scopes"] = scheme.get("scopes") if isinstance(scheme.get("scopes"), dict) else {}
        out.update(type="oauth2", flows={flow_name: flow})
    else:
        out.update({k: v for k, v in scheme.items() if k != "description"})
    return out


def _v2_path_item(
    item: dict[str, Any],
    doc: dict[str, Any],
    root_params: dict[str, Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shared = item.get("parameters") if isinstance(item.get("parameters"), list) else []
    for key, value in item.items():
        if key in HTTP_METHODS and isinstance(value, dict):
            out[key] = _v2_operation(value, shared, doc, root_params, consumes, produces)
        elif key != "parameters":
            out[key] = _rewrite_refs(value)
    return out


def _v2_operation(
    op: dict[str, Any],
    shared: list[Any],
    doc: dict[str, Any],
    root_params: dict[str, Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    op_consumes = _string_list(op.get("consumes")) or consumes
    op_produces = _string_list(op.get("produces")) or produces
    out: dict[str, Any] = {}
    for key, value in op.items():
        if key in ("parameters", "responses", "consumes", "produces", "schemes"):
            continue
        out[key] = _rewrite_refs(value)
    own = op.get("parameters") if isinstance(op.get("parameters"), list) else []
    params = _merge_parameters(
        [_v2_inline_param(p, root_params) for p in shared],
        [_v2_inline_param(p, root_params) for p in own],
    )
    plain = [_v2_parameter(p) for p in params if p.get("in") not in ("body", "formData")]
    if plain:
        out["parameters"] = plain
    body = _v2_request_body(params, op_consumes)
    if body is not None:
        out["requestBody"] = body
    responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
    out["responses"] = {str(code): _v2_response(resp, op_produces) for code, resp in responses.items()}
    return out


def _v2_inline_param(param: Any, root_params: dict[str, Any]) -> dict[str, Any]:
    if isinstance(param, dict) and isinstance(param.get("$ref"), str):
        ref = param["$ref"]
        name = ref.rsplit("/", 1)[-1]
        target = root_params.get(jsonpointer.unescape(unquote(name)))
        if ref.startswith("#/parameters/") and isinstance(target, dict):
            return target
    return param if isinstance(param, dict) else {}


def _merge_parameters(shared: list[dict[str, Any]], own: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Path-level parameters first, replaced in place by operation-level ones with the same key."""
    own_keys = {(p.get("name"), p.get("in")) for p in own}
    return [p for p in shared if (p.get("name"), p.get("in")) not in own_keys] + own


def _v2_parameter(param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return _rewrite_refs(param)
    out: dict[str, Any] = {
        k: param[k] for k in ("name", "in", "description", "required", "allowEmptyValue") if k in param
    }
    if param.get("in") == "path":
        out["required"] = True
    out.update({k: v for k, v in param.items() if str(k).startswith("x-")})
    if param.get("x-deprecated"):
        out["deprecated"] = True
    out["schema"] = _v2_primitive_schema(param)
    style = _V2_COLLECTION_STYLES.get(param.get("collectionFormat", ""))
    if param.get("type") == "array" and style and param.get("in") == "query":
        out["style"], out["explode"] = style
    elif param.get("type") == "array" and param.get("in") == "query":
        out["style"], out["explode"] = "form", False
    return out


def _v2_primitive_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for key in _V2_SCHEMA_KEYWORDS:
        if key in param:
            schema[key] = (
                _v2_primitive_schema(param[key]) if key == "items" and isinstance(param[key], dict) else param[key]
            )
    if schema.get("type") == "file":
        schema["type"], schema["format"] = "string", "binary"
    if param.get("x-nullable"):
        schema["nullable"] = True
    return schema


def _v2_request_body(params: list[dict[str, Any]], consumes: list[str]) -> dict[str, Any] | None:
    body = next((p for p in params if p.get("in") == "body"), None)
    if body is not None:
        media_types = [m for m in consumes if m not in _FORM_TYPES] or consumes
        schema = _v2_schema(body.get("schema") if isinstance(body.get("schema"), dict) else {})
        out: dict[str, Any] = {"content": {m: {"schema": schema} for m in media_types}}
        if body.get("description"):
            out["description"] = body["description"]
        if body.get("required"):
            out["required"] = True
        if body.get("name"):
            out["x-body-name"] = body["name"]
        return out
    form = [p for p in params if p.get("in") == "formData"]
    if not form:
        return None
    has_file = any(p.get("type") == "file" for p in form)
    media_types = [m for m in consumes if m in _FORM_TYPES] or (
        ["multipart/form-data"] if has_file else ["application/x-www-form-urlencoded"]
    )
    properties: dict[str, Any] = {}
    for p in form:
        prop = _v2_primitive_schema(p)
        if p.get("description"):
            prop["description"] = p["description"]
        properties[str(p.get("name", ""))] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [str(p.get("name")) for p in form if p.get("required")]
    if required:
        schema["required"] = required
    return {"content": {m: {"schema": schema} for m in media_types}, "required": bool(required)}


def _v2_response(resp: Any, produces: list[str]) -> Any:
    if not isinstance(resp, dict) or "$ref" in resp:
        return _rewrite_refs(resp)
    out: dict[str, Any] = {"description": _text(resp.get("description"))}
    out.update({k: v for k, v in resp.items() if str(k).startswith("x-")})
    headers = resp.get("headers")
    if isinstance(headers, dict):
        out["headers"] = {
            name: {
                **({"description": h["description"]} if h.get("description") else {}),
                "schema": _v2_primitive_schema(h),
            }
            for name, h in headers.items()
            if isinstance(h, dict)
        }
    if isinstance(resp.get("schema"), dict):
        schema = _v2_schema(resp["schema"])
        examples = resp.get("examples") if isinstance(resp.get("examples"), dict) else {}
        out["content"] = {}
        for media_type in produces:
            entry: dict[str, Any] = {"schema": schema}
            if media_type in examples:
                entry["example"] = examples[media_type]
            out["content"][media_type] = entry
    return out


def _v2_schema(schema: Any) -> Any:
    """2.0 schema -> 3.0 schema: refs rewritten, ``type: file``, ``x-nullable`` and string
    ``discriminator`` converted.  Data keywords (example, default, enum) are copied untouched."""
    if isinstance(schema, list):
        return [_v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = _rewrite_ref(value)
        elif key in ("example", "default", "enum") or str(key).startswith("x-"):
            out[key] = value
        elif key in ("properties", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _v2_schema(sub) for name, sub in value.items()}
        elif key == "discriminator" and isinstance(value, str):
            out[key] = {"propertyName": value}
        else:
            out[key] = _v2_schema(value)
    if out.get("type") == "file":
        out["type"], out["format"] = "string", "binary"
    if schema.get("x-nullable") is True:
        out["nullable"] = True
    return out


def _rewrite_ref(ref: str) -> str:
    for old, new in _V2_REF_PREFIXES:
        if ref.startswith(old):
            return new + ref[len(old) :]
    return ref


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite_ref(v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _string_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# --------------------------------------------------------------------------- 3.x extraction


_PATH_TEMPLATE = re.compile(r"\{([^{}/]+)\}")


def _extract_operations(
    doc: dict[str, Any],
    refs: _LocalRefs,
    warnings: list[SpecWarning],
    unbuildable: dict[str, tuple[str, str]] | None = None,
) -> list[Operation]:
    """``unbuildable``: operation or path item pointers whose tools cannot be built (see
    ``_check_refs``); they are skipped with a warning at the pointer of the dangling ``$ref``."""
    unbuildable = unbuildable or {}
    operations: list[Operation] = []
    seen_ids: dict[str, tuple[str, str]] = {}  # lower-cased operationId -> (operationId, "METHOD /path")
    for path, raw_item in doc["paths"].items():
        path = str(path)
        if path.startswith("x-"):
            continue
        pointer = f"/paths/{escape_pointer(path)}"
        if pointer in unbuildable:
            message, where = unbuildable[pointer]
            warnings.append(SpecWarning(f"{message}; no tool is generated for the operations of {path}", where))
            continue
        item = refs.resolve(raw_item)
        if not isinstance(item, dict):
            warnings.append(SpecWarning(f"path item is {_kind(item)}, not a mapping: skipped", pointer))
            continue
        if not path.startswith("/"):
            warnings.append(SpecWarning("path does not start with '/'", pointer))
        shared = _parameters(item.get("parameters"), f"{pointer}/parameters", refs, warnings)
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            op_pointer = f"{pointer}/{method}"
            if not isinstance(op, dict):
                warnings.append(SpecWarning(f"operation is {_kind(op)}, not a mapping: skipped", op_pointer))
                continue
            if op_pointer in unbuildable:
                message, where = unbuildable[op_pointer]
                warnings.append(SpecWarning(f"{message}; no tool is generated for {method.upper()} {path}", where))
                continue
            operation = _operation(path, method, op, shared, op_pointer, refs, warnings)
            if operation.operation_id:
                # tool names are unique regardless of case (clients and the gateway match them so)
                key = operation.operation_id.lower()
                if key in seen_ids:
                    other_id, other = seen_ids[key]
                    same = "is also used by" if other_id == operation.operation_id else f"clashes with '{other_id}' of"
                    warnings.append(
                        SpecWarning(
                            f"operationId '{operation.operation_id}' {same} {other}: the tool names are kept "
                            "distinct with a suffix derived from the method and path",
                            f"{op_pointer}/operationId",
                        )
                    )
                else:
                    seen_ids[key] = (operation.operation_id, f"{method.upper()} {path}")
            operations.append(operation)
    return operations


def _operation(
    path: str,
    method: str,
    op: dict[str, Any],
    shared: list[Parameter],
    pointer: str,
    refs: _LocalRefs,
    warnings: list[SpecWarning],
) -> Operation:
    own = _parameters(op.get("parameters"), f"{pointer}/parameters", refs, warnings)
    own_keys = {(p.name, p.location) for p in own}
    parameters = [p for p in shared if (p.name, p.location) not in own_keys] + own
    parameters = _ensure_path_parameters(path, parameters, pointer, warnings)
    body = refs.resolve(op.get("requestBody")) if "requestBody" in op else None
    responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
    if "responses" in op and not isinstance(op.get("responses"), dict):
        warnings.append(SpecWarning("'responses' is not a mapping: ignored", f"{pointer}/responses"))
    tags = op.get("tags") if isinstance(op.get("tags"), list) else []
    return Operation(
        method=method,
        path=path,
        operation_id=_text(op.get("operationId")).strip(),
        summary=_text(op.get("summary")).strip(),
        description=_text(op.get("description")).strip(),
        tags=[t for t in tags if isinstance(t, str)],
        deprecated=op.get("deprecated") is True,
        parameters=parameters,
        request_body=body if isinstance(body, dict) else None,
        responses=_responses(responses, refs),
        security=_normalise_security(op.get("security"), f"{pointer}/security", warnings),
        extensions={k: v for k, v in op.items() if str(k).startswith("x-")},
    )


def _responses(responses: dict[str, Any], refs: _LocalRefs) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for code, response in responses.items():
        resolved = refs.resolve(response)
        if not str(code).startswith("x-") and isinstance(resolved, dict):
            result[str(code)] = resolved
    return result


def _parameters(raw: Any, pointer: str, refs: _LocalRefs, warnings: list[SpecWarning]) -> list[Parameter]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        warnings.append(SpecWarning("'parameters' is not a list: ignored", pointer))
        return []
    result: list[Parameter] = []
    for index, item in enumerate(raw):
        param = refs.resolve(item)
        where = f"{pointer}/{index}"
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or not param.get("name"):
            warnings.append(SpecWarning("parameter without a name: skipped", where))
            continue
        location = param.get("in")
        if location not in PARAMETER_LOCATIONS:
            warnings.append(
                SpecWarning(
                    f"parameter location {location!r} is not one of {', '.join(PARAMETER_LOCATIONS)}: skipped",
                    where,
                )
            )
            continue
        result.append(
            Parameter(
                name=param["name"],
                location=location,
                required=location == "path" or param.get("required") is True,
                description=_text(param.get("description")).strip(),
                schema=_parameter_schema(param),
                deprecated=param.get("deprecated") is True,
                style=param["style"] if isinstance(param.get("style"), str) else "",
                explode=param["explode"] if isinstance(param.get("explode"), bool) else None,
                media_type=_parameter_media(param),
            )
        )
    return result


def _parameter_media(param: dict[str, Any]) -> str:
    """The media type of a parameter described by ``content`` instead of ``schema``."""
    content = param.get("content")
    if "schema" in param or not isinstance(content, dict) or not content:
        return ""
    return str(next(iter(content)))


def _parameter_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema = param.get("schema")
    if isinstance(schema, dict):
        return schema
    content = param.get("content")
    if isinstance(content, dict):
        for media in content.values():
            if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                return media["schema"]
    return {}


def _ensure_path_parameters(
    path: str, parameters: list[Parameter], pointer: str, warnings: list[SpecWarning]
) -> list[Parameter]:
    """Make the path parameters match the path template, with a warning for each mismatch.

    * ``{name}`` in the template but not declared: the URL cannot be built without a value, so
      the tool takes it as a required string with no other constraint (every path segment is
      text; nothing is claimed about its format).
    * declared ``in: path`` but absent from the template: it has nowhere to go in the URL, so
      it is dropped rather than offered to the agent as an argument that would be ignored.
    """
    template = _PATH_TEMPLATE.findall(path)
    kept: list[Parameter] = []
    for param in parameters:
        if param.location == "path" and param.name not in template:
            warnings.append(
                SpecWarning(
                    f"path parameter '{param.name}' does not appear in the path template {path}: dropped "
                    "(it cannot be sent)",
                    f"{pointer}/parameters",
                )
            )
            continue
        kept.append(param)
    declared = {p.name for p in kept if p.location == "path"}
    for name in template:
        if name not in declared:
            warnings.append(
                SpecWarning(
                    f"path parameter '{name}' is not declared: assumed to be a required string",
                    f"{pointer}/parameters",
                )
            )
            kept.append(Parameter(name=name, location="path", required=True, schema={"type": "string"}))
            declared.add(name)
    return kept


def _normalise_security(raw: Any, pointer: str, warnings: list[SpecWarning]) -> list[dict[str, list[str]]] | None:
    """``None`` when absent (operation inherits); ``[{scheme: null}]`` is read as ``[{scheme: []}]``."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        warnings.append(SpecWarning("'security' is not a list: ignored", pointer))
        return None
    result: list[dict[str, list[str]]] = []
    for index, requirement in enumerate(raw):
        if not isinstance(requirement, dict):
            warnings.append(SpecWarning("security requirement is not a mapping: ignored", f"{pointer}/{index}"))
            continue
        clean: dict[str, list[str]] = {}
        for scheme, scopes in requirement.items():
            if not isinstance(scopes, list):
                warnings.append(
                    SpecWarning(
                        f"scopes of security scheme '{scheme}' should be a list, not {_kind(scopes)}: "
                        "read as no scopes",
                        f"{pointer}/{index}/{escape_pointer(scheme)}",
                    )
                )
                scopes = []
            clean[str(scheme)] = [str(s) for s in scopes]
        result.append(clean)
    return result


def _servers(doc: dict[str, Any]) -> list[str]:
    servers = doc.get("servers")
    if not isinstance(servers, list):
        return []
    urls: list[str] = []
    for server in servers:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        variables = server.get("variables") if isinstance(server.get("variables"), dict) else {}
        for name, variable in variables.items():
            if isinstance(variable, dict) and "default" in variable:
                url = url.replace("{" + str(name) + "}", str(variable["default"]))
        urls.append(url)
    return urls


def _security_schemes(doc: dict[str, Any], refs: _LocalRefs) -> dict[str, dict[str, Any]]:
    components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
    schemes = components.get("securitySchemes") if isinstance(components.get("securitySchemes"), dict) else {}
    result: dict[str, dict[str, Any]] = {}
    for name, scheme in schemes.items():
        resolved = refs.resolve(scheme)
        if isinstance(resolved, dict):
            result[str(name)] = resolved
    return result
