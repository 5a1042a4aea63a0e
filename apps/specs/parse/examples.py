"""Schema examples that contradict their own schema are dropped, with a warning: tools copy them
into the schemas agents read, and a wrong example teaches a wrong call."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from apps.core import jsonpointer
from apps.specs.domain import SpecWarning
from apps.specs.parse.common import DATA_KEYS, short
from apps.specs.parse.refs import resolve_pointer, structural_children

_SCHEMA_CHILD = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_SCHEMA_CHILD_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_SCHEMA_CHILD_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
_SPEC_URI = "urn:mcpforge:spec"


def drop_invalid_examples(doc: dict[str, Any], warnings: list[SpecWarning]) -> None:
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
        where = "".join(f"/{jsonpointer.escape(t)}" for t in error.absolute_path)
        return f"{short(error.message)}{f' at {where}' if where else ''}"

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
            yield ValidationError(f"{short(repr(instance))} does not match {short(repr(value))}")

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
            stack.extend(v for k, v in node.items() if k not in DATA_KEYS and isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return False


def _reachable_schemas(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """``(schema object, its JSON pointer)`` for every schema an operation can reach, each once."""
    seen: set[str] = set()
    stack: list[tuple[Any, str, str]] = [
        (item, f"/paths/{jsonpointer.escape(path)}", "path")
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
                        (sub, f"{pointer}/{key}/{jsonpointer.escape(name)}", "schema")
                        for name, sub in node[key].items()
                    )
            continue
        for key, child, child_kind, _owner in structural_children(node, kind, ""):
            stack.append((child, f"{pointer}/{key}", child_kind))
