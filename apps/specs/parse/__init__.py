"""Raw OpenAPI bytes -> ``ParsedSpec``: safe decoding, version checks, 2.0 -> 3.x, validation.

``load_document`` runs the steps, one module each, in this order:

* ``load``: bytes -> JSON-shaped tree, treating the upload as hostile (size before decoding,
  JSON depth by a bracket pre-scan, YAML aliases and expanded size by libyaml's event stream,
  YAML keys and scalars normalised), then the version and ``paths`` checks;
* ``refs``: every ``$ref`` an operation needs, only ever inside the document.
  openapi-spec-validator's resolver would otherwise ``urlopen`` any ``http(s)://`` or ``file:``
  ref it meets (even for schemes it has no handler for), so ``validate`` gives the validator a
  handler table that refuses every scheme;
* ``validate``: openapi-spec-validator's meta-schema and semantic phases;
* ``swagger2``: Swagger 2.0 -> OpenAPI 3.0.3;
* ``examples``: schema examples that contradict their schema are dropped;
* ``extract``: operations, parameters, security, servers -> the domain objects.

JSON pointers and local refs are read by ``apps.core.jsonpointer``; ``common`` holds the few
helpers the steps share.

Validation is split in three layers, cheapest first:

1. MCPForge's own structural checks (always): version, ``paths``, operations,
   parameters, and every ``$ref`` an operation needs.  Only these raise
   ``SpecError``; everything else is a ``SpecWarning``.  Real specs ship broken,
   so these checks tolerate what a tool can be built without (``refs.check_refs``):
   a dangling ``$ref`` in a schema becomes a schema accepting any value, an
   operation whose parameter, body or path item ``$ref`` dangles is skipped, and
   only a document with no operation left is refused.  Path parameters are
   matched to the template and schema examples checked against their schema
   (``examples.drop_invalid_examples``), with a warning for each repair.
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

import hashlib

from apps.core.jsonpointer import escape as escape_pointer
from apps.specs.domain import ParsedSpec, SpecError, SpecWarning
from apps.specs.parse.common import HTTP_METHODS, kind, text
from apps.specs.parse.examples import drop_invalid_examples
from apps.specs.parse.extract import extract_operations, normalise_security, security_schemes, server_urls
from apps.specs.parse.load import MAX_ALIAS_EXPANSION, check_size, detect_version, parse_bytes, require_paths
from apps.specs.parse.refs import LocalRefs, check_refs, resolve_pointer
from apps.specs.parse.swagger2 import convert_swagger2
from apps.specs.parse.validate import AUTO_VALIDATION_MAX_BYTES, DEFAULT_MAX_WARNINGS, merge_warnings, validate

__all__ = [
    "AUTO_VALIDATION_MAX_BYTES",
    "HTTP_METHODS",
    "MAX_ALIAS_EXPANSION",
    "convert_swagger2",
    "escape_pointer",
    "load_document",
    "resolve_pointer",
]


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
    check_size(data, max_bytes)
    doc = parse_bytes(data, filename=filename, max_depth=max_depth, max_aliases=max_aliases)
    if not isinstance(doc, dict):
        raise SpecError(f"the document must be a mapping (JSON object) at the top level, not {kind(doc)}", pointer="/")
    source_version = detect_version(doc)
    require_paths(doc)
    warnings: list[SpecWarning] = []
    unbuildable = check_refs(doc, data, warnings)
    validator_warnings = validate(doc, source_version, len(data), validation, max_warnings)
    if source_version == "2.0":
        doc = convert_swagger2(doc)
    drop_invalid_examples(doc, warnings)
    refs = LocalRefs(doc)
    operations = extract_operations(doc, refs, warnings, unbuildable)
    if not operations and unbuildable:
        message, where = next(iter(unbuildable.values()))
        raise SpecError(f"no operation can be turned into a tool: {message}", pointer=where)
    if not operations:
        warnings.append(SpecWarning("the document defines no operations: no tools will be generated", "/paths"))
    info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
    return ParsedSpec(
        document=doc,
        source_version=source_version,
        title=text(info.get("title")),
        version=text(info.get("version")),
        operations=operations,
        servers=server_urls(doc),
        security_schemes=security_schemes(doc, refs),
        security=normalise_security(doc.get("security"), "/security", warnings) or [],
        warnings=merge_warnings(validator_warnings, warnings),
        sha256=hashlib.sha256(data).hexdigest(),
    )
