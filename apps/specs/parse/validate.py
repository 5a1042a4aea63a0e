"""openapi-spec-validator's two phases (meta-schema, semantic), never fetching a remote ``$ref``,
bounded by the document's size in ``validation="auto"`` mode (see ``apps.specs.parse``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from apps.core import jsonpointer
from apps.specs.domain import SpecWarning
from apps.specs.parse.common import mb, short

# validation="auto" runs openapi-spec-validator fully up to this size (~0.2 s worst case).
AUTO_VALIDATION_MAX_BYTES = 256 * 1024
DEFAULT_MAX_WARNINGS = 100


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


def validate(doc: dict[str, Any], version: str, size: int, mode: str, max_warnings: int) -> list[SpecWarning]:
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
        warnings.append(SpecWarning(f"openapi-spec-validator stopped early: {short(str(exc))}"))
    skipped = [name for name, ran in (("meta-schema", run_schema), ("semantic", run_semantic)) if not ran]
    if mode == "auto" and skipped:
        warnings.append(
            SpecWarning(
                f"validation incomplete: openapi-spec-validator's {' and '.join(skipped)} checks were "
                f"skipped for this {mb(size)} MB document to keep imports fast; "
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
    pointer = "".join(f"/{jsonpointer.escape(token)}" for token in path)
    return SpecWarning(short(getattr(error, "message", None) or str(error)), pointer)


def merge_warnings(validator: list[SpecWarning], own: list[SpecWarning]) -> list[SpecWarning]:
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
