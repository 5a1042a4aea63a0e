"""Trim a large OpenAPI document to chosen operations plus the components they reference.

    python tests/data/classify_eval/trim_spec.py SRC.json OUT.json KEYS.txt

KEYS.txt: one "METHOD /path" per line.  Used once to cut GitHub's 1,200-operation
description (from the npm package @octokit/openapi) down to the labelled operations;
``examples`` (payload samples) are dropped to keep the file small.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _drop_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_examples(v) for k, v in node.items() if k != "examples"}
    if isinstance(node, list):
        return [_drop_examples(v) for v in node]
    return node


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            out.add(ref)
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def trim(doc: dict[str, Any], keys: set[tuple[str, str]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        kept = {m: o for m, o in item.items() if (m.upper(), path) in keys}
        if kept:
            extra = {k: v for k, v in item.items() if k in ("parameters", "summary", "description")}
            paths[path] = {**extra, **kept}
    pending: set[str] = set()
    _refs(paths, pending)
    done: set[str] = set()
    components: dict[str, dict[str, Any]] = {}
    while pending:
        ref = pending.pop()
        if ref in done:
            continue
        done.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = doc["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        _refs(target, pending)
    components.pop("examples", None)  # example payloads: bulk without signal for classification
    if "securitySchemes" in doc.get("components", {}):
        components["securitySchemes"] = doc["components"]["securitySchemes"]
    out = {k: v for k, v in doc.items() if k not in ("paths", "components", "webhooks")}
    out["paths"] = _drop_examples(paths)
    out["components"] = {k: dict(sorted(v.items())) for k, v in sorted(components.items())}
    return out


def main() -> int:
    src, dst, keys_file = sys.argv[1:4]
    with open(src, encoding="utf-8") as fh:
        doc = json.load(fh)
    keys = set()
    with open(keys_file, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                method, path = line.split()[:2]
                keys.add((method.upper(), path))
    with open(dst, "w", encoding="utf-8") as fh:
        json.dump(trim(doc, keys), fh, separators=(",", ":"))
        fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
