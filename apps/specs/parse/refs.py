"""``$ref`` handling: only ever inside the document (``apps.core.jsonpointer`` resolves), every
ref an operation needs checked, dangling ones repaired or their operations skipped, chains and
loops followed a bounded number of hops."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from apps.core import jsonpointer
from apps.specs.domain import SpecError, SpecWarning
from apps.specs.parse.common import DATA_KEYS, HTTP_METHODS, short

MAX_REF_HOPS = 64

# Objects whose keys are names, not keywords: a key such as "default" or "example" in them is a
# name, so the ``$ref``s below it are followed (see ``common.DATA_KEYS``).
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


def resolve_pointer(doc: Any, ref: str) -> Any:
    """Resolve a local ``#/a/b`` reference inside ``doc``; ``KeyError`` with a reason if absent.

    Tokens are percent-decoded first (a ``$ref`` is a URI) and then ``~1``/``~0``
    unescaped, in that order, as RFC 6901 section 6 requires (``apps.core.jsonpointer``).
    A ``$ref`` to the whole document (``#``) is refused: no OpenAPI object is the document.
    """
    if not ref.startswith("#/"):
        raise jsonpointer.PointerError(f"'{ref}' is not a local JSON pointer")
    return jsonpointer.resolve_ref(doc, ref)


# Possessive ``\s*+`` so the look-ahead cannot be satisfied by backtracking into the spaces.
_EXTERNAL_REF_HINT = re.compile(rb"""\$ref['"]?\s*+:\s*+(?!['"]?#)""")


_MISSING = object()
#: Where a dangling ``$ref`` leaves no honest tool: the object names parameters (their name and
#: location are unknown) or the body (its media type is unknown), so the operation is skipped.
_UNBUILDABLE = {"path": "path item", "operation": "operation", "parameter": "parameter", "requestBody": "request body"}


def check_refs(doc: dict[str, Any], raw: bytes, warnings: list[SpecWarning]) -> dict[str, tuple[str, str]]:
    """Check every ``$ref`` reachable from an operation; repair or report the dangling ones.

    External refs reachable from an operation raise ``SpecError`` (never fetched); unreachable
    ones only warn. A dangling local ref is *tolerated* where the tool can still be built:

    * in a schema it becomes a permissive schema (the ``$ref`` removed, a description saying so)
      and a warning names its JSON pointer;
    * a response, header, example or link becomes ``{"description": ...}`` (no schema);
    * a path item, parameter or request body cannot be replaced honestly: the operations it
      belongs to are returned as ``{operation or path item pointer: (message, pointer of the $ref)}``
      and skipped by ``extract_operations`` with a warning.

    Walks the path items structurally (so the kind of object each ``$ref`` stands for is known)
    and, transitively, every target they reference (each schema target once).
    """
    unbuildable: dict[str, tuple[str, str]] = {}
    followed: set[str] = set()
    chains: dict[str, tuple[Any, str, str | None]] = {}  # each chain followed once, however many sites
    stack: list[tuple[Any, str, str, str]] = [
        (item, f"/paths/{jsonpointer.escape(path)}", "path", f"/paths/{jsonpointer.escape(path)}")
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
                message = f"$ref '{short(node['$ref'])}' cannot be resolved: {problem}"
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
        for key, child, child_kind, child_owner in structural_children(node, kind, owner):
            stack.append((child, f"{pointer}/{key}", child_kind, child_owner))
    if _EXTERNAL_REF_HINT.search(raw):
        for ref, where in iter_refs(doc, ""):
            if not ref.startswith("#"):
                warnings.append(
                    SpecWarning(
                        f"external $ref '{short(ref)}' is not followed (MCPForge never fetches remote "
                        "documents); it is not used by any operation",
                        where,
                    )
                )
    return unbuildable


def structural_children(node: dict[str, Any], kind: str, owner: str) -> Iterator[tuple[str, Any, str, str]]:
    """``(escaped pointer suffix, child, child kind, child owner)`` for the parts of an OpenAPI object that may
    hold ``$ref``s we follow (examples, links and callbacks are data or out of scope)."""

    def each(key: str, child_kind: str) -> Iterator[tuple[str, Any, str, str]]:
        value = node.get(key)
        if isinstance(value, dict):
            for name, child in value.items():
                if not str(name).startswith("x-"):
                    yield f"{key}/{jsonpointer.escape(name)}", child, child_kind, owner
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
                        key = f"encoding/{jsonpointer.escape(name)}/headers/{jsonpointer.escape(header)}"
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
                f"external $ref '{short(ref)}' at {where} is not allowed: MCPForge never fetches remote documents",
                pointer=where,
            )
        if ref in followed:
            continue
        try:
            target = resolve_pointer(doc, ref)
        except KeyError as exc:
            message = f"$ref '{short(ref)}' cannot be resolved: {exc.args[0]}"
            del holder["$ref"]
            note = f"Schema unknown (unresolvable $ref '{short(ref)}' in the spec): any value."
            own = holder.get("description")
            holder["description"] = f"{own}\n\n{note}" if isinstance(own, str) and own.strip() else note
            warnings.append(SpecWarning(f"{message}; replaced by a schema that accepts any value", where))
            continue
        followed.add(ref)
        stack.append((target, ref[1:], "schema", owner))


def _resolve_chain(doc: dict[str, Any], ref: str, where: str) -> tuple[Any, str, str | None]:
    """Follow ``ref`` (and refs it lands on) to an object: ``(target, last ref, problem or None)``."""
    for _ in range(MAX_REF_HOPS):
        if not ref.startswith("#"):
            raise SpecError(
                f"external $ref '{short(ref)}' at {where} is not allowed: MCPForge never fetches remote documents",
                pointer=where,
            )
        try:
            target = resolve_pointer(doc, ref)
        except KeyError as exc:
            return _MISSING, ref, f"{exc.args[0]}"
        if not (isinstance(target, dict) and isinstance(target.get("$ref"), str)):
            return target, ref, None
        ref, where = target["$ref"], f"{ref[1:]}/$ref"
    return _MISSING, ref, f"more than {MAX_REF_HOPS} chained $refs (a loop)"


def iter_refs(root: Any, pointer: str) -> Iterator[tuple[str, str]]:
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
                    is_name_map or (key not in DATA_KEYS and not str(key).startswith("x-"))
                ):
                    stack.append((value, f"{where}/{jsonpointer.escape(key)}", key in _NAME_MAPS and not is_name_map))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, dict | list):
                    stack.append((value, f"{where}/{index}", False))


class LocalRefs:
    """Follows local ``$ref`` chains (already checked by ``check_refs`` where it matters)."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc

    def resolve(self, node: Any) -> Any:
        """Return the object ``node`` refers to (``node`` itself if it is not a reference);
        unresolvable or looping chains return ``None``."""
        hops = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            hops += 1
            if hops > MAX_REF_HOPS:
                return None
            try:
                node = resolve_pointer(self.doc, node["$ref"])
            except KeyError:
                return None
        return node
