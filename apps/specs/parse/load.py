"""Bytes -> JSON-shaped tree, refusing hostile input before it costs anything.

* size is checked before anything is decoded;
* JSON nesting depth is measured with a bracket pre-scan (strings stripped by a
  linear regex) *before* ``json.loads`` so a 10,000-deep document is refused in
  milliseconds without recursion;
* YAML is first streamed through libyaml's event parser (no tree is built) to
  count aliases, refuse recursive aliases, bound the depth *after* alias
  expansion and bound the expanded node count.  Counting aliases alone does not
  stop "billion laughs": the classic 9-level bomb needs only 72 aliases;
* YAML keys and scalars are made JSON-shaped (``200:`` is an int key in YAML, dates stay text);
* the top level must name a supported version (``detect_version``) and hold ``paths``.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import yaml

from apps.core import jsonpointer
from apps.specs.domain import SpecError
from apps.specs.parse.common import kind, mb, short

# Aliases may add at most this many nodes beyond what the text itself contains.
MAX_ALIAS_EXPANSION = 1_000_000


def check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise SpecError(f"document is {mb(len(data))} MB; the limit is {mb(max_bytes)} MB")
    if not data or data.isspace():  # no copy, unlike strip()
        raise SpecError("the document is empty")


def parse_bytes(data: bytes, *, filename: str, max_depth: int, max_aliases: int) -> Any:
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
    return f"invalid YAML: {short(problem)}"


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
                _normalise_child(node, key, value, f"{pointer}/{jsonpointer.escape(key)}", stack)
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


# --------------------------------------------------------------------------- top-level structure


_SUPPORTED = "MCPForge accepts swagger 2.0 and openapi 3.0.x / 3.1.x"
_OPENAPI_VERSION = re.compile(r"^3\.[01](\.\d+)?$")


def detect_version(doc: dict[str, Any]) -> str:
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


def require_paths(doc: dict[str, Any]) -> None:
    if "paths" not in doc:
        raise SpecError(
            "the document has no 'paths' object: there are no operations to turn into tools", pointer="/paths"
        )
    if not isinstance(doc["paths"], dict):
        raise SpecError(f"'paths' must be a mapping, not {kind(doc['paths'])}", pointer="/paths")
