"""Defensive traversal of JSON schemas coming from untrusted OpenAPI documents.

Schemas reaching the risk modules may be inlined, may still hold ``$ref`` pointers
(``#/$defs/X``, ``#/definitions/X``, ``#/components/schemas/X``), may be cyclic
(Box: a folder contains items that are folders) and may be malformed (a ``properties``
that is a list, a ``type`` that is a number).  Everything here tolerates all of that:
refs are resolved against the schema's own root (or an optional document), cycles are
cut, depth and node counts are capped, and anything that is not a dict is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from apps.core import jsonpointer

MAX_DEPTH = 8
MAX_NODES = 4000
_COMBINATORS = ("allOf", "anyOf", "oneOf")


def resolve_pointer(ref: str, roots: tuple[Any, ...]) -> Any:
    """Resolve a local JSON pointer (``#/a/b``) against the first root that has it; ``None`` if none does."""
    if not isinstance(ref, str):
        return None
    try:
        tokens = jsonpointer.ref_tokens(ref)
    except jsonpointer.PointerError:
        return None
    for root in roots:
        try:
            node = jsonpointer.resolve(root, tokens)
        except jsonpointer.PointerError:
            continue
        if node is not None:
            return node
    return None


def deref(node: Any, roots: tuple[Any, ...], limit: int = 16) -> tuple[dict[str, Any] | None, str]:
    """Follow a chain of ``$ref`` from ``node``; returns (schema or None, name of the last ref)."""
    name = ""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        node = resolve_pointer(ref, roots)
        seen += 1
        if seen > limit:
            return None, name
    if isinstance(node, Mapping):
        return dict(node) if not isinstance(node, dict) else node, name
    return None, name


def schema_types(schema: Mapping[str, Any]) -> set[str]:
    """The declared ``type`` as a set (3.1 allows a list); empty when absent or malformed."""
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


@dataclass(frozen=True)
class FieldVisit:
    """One named property reached while walking: ``path`` like ``body.items[].name``."""

    path: str
    name: str
    schema: dict[str, Any]
    depth: int


def iter_fields(
    schema: Any,
    *,
    document: Any = None,
    prefix: str = "",
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Iterator[FieldVisit]:
    """Yield every named property below ``schema`` (properties of objects, through arrays).

    Array items are visited with ``[]`` appended to the path; the array itself is yielded
    as its property.  ``allOf/anyOf/oneOf`` branches contribute properties at the same path.
    """
    roots: tuple[Any, ...] = (schema,) if document is None else (schema, document)
    budget = [max_nodes]
    on_stack: set[int] = set()

    def visit(node: Any, path: str, depth: int) -> Iterator[FieldVisit]:
        if budget[0] <= 0 or depth > max_depth:
            return
        target, _ = deref(node, roots)
        if target is None or id(target) in on_stack:
            return
        budget[0] -= 1
        on_stack.add(id(target))
        try:
            for key in _COMBINATORS:
                branches = target.get(key)
                if isinstance(branches, list):
                    for branch in branches:
                        yield from visit(branch, path, depth)
            props = target.get("properties")
            if isinstance(props, Mapping):
                for name, sub in props.items():
                    sub_target, _ = deref(sub, roots)
                    if sub_target is None:
                        continue
                    sub_path = f"{path}.{name}" if path else str(name)
                    yield FieldVisit(sub_path, str(name), sub_target, depth)
                    yield from visit(sub_target, sub_path, depth + 1)
            items = target.get("items")
            if isinstance(items, Mapping):
                yield from visit(items, f"{path}[]", depth + 1)
            elif isinstance(items, list):
                for item in items:
                    yield from visit(item, f"{path}[]", depth + 1)
            extra = target.get("additionalProperties")
            if isinstance(extra, Mapping):
                yield from visit(extra, f"{path}.*" if path else "*", depth + 1)
        finally:
            on_stack.discard(id(target))

    yield from visit(schema, prefix, 0)
