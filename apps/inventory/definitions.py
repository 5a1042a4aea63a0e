"""A tool's *definition*: everything the gateway shows an agent about a tool and uses to call
the upstream, as plain data, and its hash. Pure: no Django import.

Governance pins the definition an admin enabled in an environment (``ToolSetting.pinned_*``);
a re-import whose definition hashes differently is held for review instead of going live.
The hash is SHA-256 of canonical JSON (sorted keys, no whitespace, UTF-8), so the same
definition always hashes the same whatever the row or version it came from.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["DEFINITION_FIELDS", "REVIEW_SECTIONS", "canonical_json", "definition_hash", "definition_of",
           "changed_sections"]

# What tools/list shows (name, description, schemas, annotations) and what the upstream
# request is built from (method, path, argument map, body content type, security).
DEFINITION_FIELDS = ("name", "description", "input_schema", "output_schema", "annotations", "method", "path",
                     "arg_map", "body_content_type", "security")

# How the review page groups the fields (section -> fields).
REVIEW_SECTIONS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "description": ("description",),
    "input_schema": ("input_schema",),
    "output_schema": ("output_schema",),
    "annotations": ("annotations",),
    "method/path": ("method", "path"),
    "upstream mapping": ("arg_map", "body_content_type", "security"),
}


def definition_of(tool: Any) -> dict[str, Any]:
    """The definition of a ``Tool`` row (or anything with those attributes)."""
    return {
        "name": tool.name,
        "description": tool.description or "",
        "input_schema": tool.input_schema or {},
        "output_schema": tool.output_schema or None,
        "annotations": tool.annotations or {},
        "method": (tool.method or "").upper(),
        "path": tool.path or "",
        "arg_map": tool.arg_map or {},
        "body_content_type": tool.body_content_type or "",
        "security": tool.security or [],
    }


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def definition_hash(definition: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``definition``."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def changed_sections(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """The ``REVIEW_SECTIONS`` whose fields differ between two definitions, in display order."""
    old, new = old or {}, new or {}
    return [section for section, fields in REVIEW_SECTIONS.items()
            if any(canonical_json(old.get(f)) != canonical_json(new.get(f)) for f in fields)]


def pretty_json(value: Any) -> str:
    """Readable, stable JSON for a side-by-side diff (sorted keys, two-space indent)."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
