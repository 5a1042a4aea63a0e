"""The offline scan result as a SARIF 2.1.0 log, for code-scanning tools (no Django import).

One rule per finding code; one result per finding *and affected tool*, located at the
line of that operation's method key in the spec (``paths: /pets: get:``), so a code-scanning
UI shows each finding on the operation it is about. Project-wide findings and import
warnings point at the line of their JSON pointer (or its nearest existing parent).

Lines come from PyYAML's composer (the C one when available), which records the position
of every node; JSON documents are YAML too, except for a few string escapes (surrogate pairs
such as ``\\ud83d\\ude00``) that PyYAML refuses: such a JSON text is composed again with each
string literal re-encoded (same line, same key). A text that still does not compose yields
results without a line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from apps.core import jsonpointer
from apps.specs.domain import SpecWarning, ToolDef

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "MCPForge scan"
IMPORT_WARNING_RULE = "import-warning"
#: finding severity -> SARIF result level
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
#: GitHub code scanning reads ``properties.security-severity`` (0.0-10.0) on rules.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
_Composer: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A JSON string literal ("unrolled loop": linear); literals never span lines in JSON.
_JSON_STRING = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')


def to_sarif(
    result: dict[str, Any],
    tools: Sequence[ToolDef],
    *,
    artifact_uri: str,
    uri_base_id: str | None,
    text: str,
    warnings: Iterable[SpecWarning] = (),
) -> dict[str, Any]:
    """``result`` is ``apps.risk.report.scan_result``'s dict; ``text`` the spec's source text."""
    lines = PointerLines(text)
    by_name = {tool.name: tool for tool in tools}
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []

    def location(pointer: str) -> dict[str, Any]:
        physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri, "index": 0}}
        if uri_base_id:
            physical["artifactLocation"]["uriBaseId"] = uri_base_id
        line = lines.line(pointer)
        if line is not None:
            physical["region"] = {"startLine": line}
        return {"physicalLocation": physical}

    for finding in result["findings"]:
        code, severity = finding["code"], finding["severity"]
        if code not in rule_index:
            rule_index[code] = len(rules)
            rules.append(_rule(code, severity, finding["remediation"]))
        level = LEVELS.get(severity, "warning")
        named = [by_name[name] for name in finding["tools"] if name in by_name]
        if not named:
            results.append(_result(code, rule_index[code], level, finding["message"], location("")))
        for tool in named:
            message = f"{tool.name} ({tool.method} {tool.path}): {finding['message']}"
            results.append(_result(code, rule_index[code], level, message, location(operation_pointer(tool))))
    warnings = list(warnings)
    if warnings:
        rule_index[IMPORT_WARNING_RULE] = len(rules)
        rules.append(
            {
                "id": IMPORT_WARNING_RULE,
                "name": "ImportWarning",
                "shortDescription": {"text": "The spec has a defect MCPForge worked around while importing it"},
                "fullDescription": {
                    "text": "Dangling $refs, duplicate operationIds, path parameters that do not match the "
                    "path template, invalid examples and validator findings: the import continues, the "
                    "affected part is made permissive or dropped, never given invented constraints."
                },
                "help": {"text": "Fix the spec at the reported JSON pointer and scan again."},
                "defaultConfiguration": {"level": "note"},
            }
        )
        for warning in warnings:
            message = f"{warning.message} (at {warning.pointer})" if warning.pointer else warning.message
            results.append(
                _result(
                    IMPORT_WARNING_RULE, rule_index[IMPORT_WARNING_RULE], "note", message, location(warning.pointer)
                )
            )
    artifact: dict[str, Any] = {"location": {"uri": artifact_uri}}
    if uri_base_id:
        artifact["location"]["uriBaseId"] = uri_base_id
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": TOOL_NAME, "rules": rules}},
                "artifacts": [artifact],
                "results": results,
                "properties": {"securityScore": result["score"]},
            }
        ],
    }


def operation_pointer(tool: ToolDef) -> str:
    return f"/paths/{jsonpointer.escape(tool.path)}/{tool.method.lower()}"


def _rule(code: str, severity: str, remediation: str) -> dict[str, Any]:
    title = code.replace("_", " ").replace(".", ": ")
    return {
        "id": code,
        "name": "".join(part.capitalize() for part in code.replace(".", "_").split("_")),
        "shortDescription": {"text": title[:1].upper() + title[1:]},
        "help": {"text": remediation or title},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {"security-severity": SECURITY_SEVERITY.get(severity, "5.5"), "tags": ["security"]},
    }


def _result(rule_id: str, index: int, level: str, message: str, location: dict[str, Any]) -> dict[str, Any]:
    return {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": level,
        "message": {"text": message},
        "locations": [location],
    }


class PointerLines:
    """JSON pointer -> 1-based line of that member's key in the source text (nearest parent if absent)."""

    def __init__(self, text: str):
        self.root = _compose(text)
        if self.root is None and text.lstrip()[:1] == "{":
            self.root = _compose(_JSON_STRING.sub(_reencode, text))

    def line(self, pointer: str) -> int | None:
        if self.root is None:
            return None
        node: yaml.Node = self.root
        line = node.start_mark.line + 1
        if not pointer:
            return line
        for token in jsonpointer.split("/" + pointer.lstrip("/")):
            if isinstance(node, yaml.MappingNode):
                found = next(((k, v) for k, v in node.value if str(k.value) == token), None)
                if found is None:
                    break
                node, line = found[1], found[0].start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and token.isdigit() and int(token) < len(node.value):
                node = node.value[int(token)]
                line = node.start_mark.line + 1
            else:
                break
        return line


def _compose(text: str) -> yaml.Node | None:
    try:
        loader = _Composer(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, ValueError):
        return None


def _reencode(match: re.Match[str]) -> str:
    """One JSON string literal as a YAML-safe double-quoted scalar of the same value."""
    try:
        return json.dumps(json.loads(match.group()), ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
    except (ValueError, UnicodeError):
        return '""'
