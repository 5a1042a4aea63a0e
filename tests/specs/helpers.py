"""Shared test helpers: where the real-world specs live, and tiny document builders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from apps.specs.domain import ParsedSpec
from apps.specs.parse import load_document

# /work/main/tests/specs/helpers.py -> parents[2] is the repo root; the specs live beside it.
_DEFAULT_SPECS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
SPECS_DIR = Path(os.environ.get("MCPFORGE_SPECS_DIR") or _DEFAULT_SPECS_DIR)

# Operation counts checked by hand against each document (every method under every path).
EXPECTED_OPERATIONS = {
    "adyen-checkout-v71.json": 28,
    "box.json": 296,
    "petstore-expanded-v2.json": 4,
    "petstore-v3.yaml": 19,
    "tictactoe-v3.1.yaml": 3,
    "twilio-api-v2010.json": 197,
}


def spec_bytes(name: str) -> bytes:
    return (SPECS_DIR / name).read_bytes()


def load_spec(name: str, **kwargs: Any) -> ParsedSpec:
    return load_document(spec_bytes(name), filename=name, **kwargs)


def openapi(paths: dict[str, Any], version: str = "3.0.3", **extra: Any) -> bytes:
    """A minimal valid OpenAPI 3.x document as JSON bytes."""
    document: dict[str, Any] = {"openapi": version, "info": {"title": "Test", "version": "1"}, "paths": paths}
    document.update(extra)
    return json.dumps(document).encode()


def ok(schema: dict[str, Any] | None = None, description: str = "ok") -> dict[str, Any]:
    """A ``responses`` map with one 200 JSON response."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return {"200": response}


DATA_DIR = Path(__file__).resolve().parent / "data"


def _pointer_parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]
    node = doc
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node, tokens[-1]


def apply_json_patch(doc: Any, operations: list[dict[str, Any]]) -> Any:
    """The add / remove / replace / move operations of RFC 6902 (enough for the test data)."""
    for op in operations:
        parent, key = _pointer_parent(doc, op["path"])
        if op["op"] == "move":
            source_parent, source_key = _pointer_parent(doc, op["from"])
            value = source_parent.pop(source_key)
            parent[key] = value
        elif op["op"] == "remove":
            del parent[int(key) if isinstance(parent, list) else key]
        elif op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                parent.append(op["value"]) if key == "-" else parent.insert(int(key), op["value"])
            else:
                parent[key] = op["value"]
        else:
            raise ValueError(op["op"])
    return doc


def broken_adyen_bytes() -> bytes:
    """The real Adyen Checkout v71 document with the defects of data/adyen-checkout-v71-defects.json."""
    doc = json.loads(spec_bytes("adyen-checkout-v71.json"))
    patch = json.loads((DATA_DIR / "adyen-checkout-v71-defects.json").read_text())
    return json.dumps(apply_json_patch(doc, patch), indent=2).encode()
