"""Differences between two imports of one spec, as the governance review shows them.

Tools are matched by ``operation_key`` first; tools left over are matched by the key with
path-parameter names blanked (``GET /pets/{id}`` ~ ``GET /pets/{petId}``) and then by
tool name, so a renamed path parameter or a moved operation that kept its name shows
as *changed* ("method/path") rather than as one tool removed and another added.
Inputs are plain dicts (Django rows or ``tool_to_row``) so this module needs no ORM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.specs.domain import ToolDef

__all__ = ["COMPARED_FIELDS", "ToolChange", "ToolDiff", "diff_tools", "tool_to_row"]

# Fields compared, in the order they are reported.
COMPARED_FIELDS = ("method/path", "name", "description", "input_schema", "output_schema")
FIELD_LABELS = {"method/path": "method or path", "name": "name", "description": "description",
                "input_schema": "input schema", "output_schema": "output schema"}
_PATH_PARAM = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class ToolChange:
    """One tool present in both imports whose ``fields`` differ (a subset of ``COMPARED_FIELDS``)."""

    operation_key: str  # the new key
    previous_operation_key: str  # differs from operation_key when "method/path" changed
    name: str  # the new name
    fields: tuple[str, ...]
    old: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    new: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def field_labels(self) -> list[str]:
        """The changed fields in words, for pages ("input schema", not ``input_schema``)."""
        return [FIELD_LABELS.get(name, name.replace("_", " ")) for name in self.fields]


@dataclass
class ToolDiff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[ToolChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        """``"2 added, 1 removed, 3 changed"``."""
        return f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"


def tool_to_row(tool: ToolDef) -> dict[str, Any]:
    """The fields ``diff_tools`` compares, as the Django layer stores them. Works on anything with
    those attributes (a ``ToolDef`` or a stored ``Tool`` row)."""
    return {
        "name": tool.name,
        "operation_key": tool.operation_key,
        "method": tool.method,
        "path": tool.path,
        "description": tool.description,
        "input_schema": tool.input_schema,
        "output_schema": tool.output_schema,
    }


def diff_tools(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> ToolDiff:
    """Added (in ``new`` order), removed (in ``old`` order) and changed tools."""
    unmatched_old = list(old)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    unmatched_new: list[dict[str, Any]] = list(new)
    for key_of in (_key, _loose_key, _name):
        unmatched_new = _match(unmatched_new, unmatched_old, key_of, pairs)
    order = {id(row): index for index, row in enumerate(new)}
    pairs.sort(key=lambda pair: order[id(pair[1])])
    changed = [change for before, after in pairs if (change := _compare(before, after)) is not None]
    return ToolDiff(added=unmatched_new, removed=unmatched_old, changed=changed)


def _match(
    candidates: list[dict[str, Any]],
    pool: list[dict[str, Any]],
    key_of: Callable[[dict[str, Any]], str],
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Pair rows whose key is unique on both sides; return the candidates left over
    (``pool`` is updated in place)."""
    pool_keys: dict[str, list[dict[str, Any]]] = {}
    for row in pool:
        pool_keys.setdefault(key_of(row), []).append(row)
    candidate_counts: dict[str, int] = {}
    for row in candidates:
        candidate_counts[key_of(row)] = candidate_counts.get(key_of(row), 0) + 1
    left: list[dict[str, Any]] = []
    taken: set[int] = set()
    for row in candidates:
        key = key_of(row)
        matches = pool_keys.get(key, [])
        if key and len(matches) == 1 and candidate_counts[key] == 1:
            pairs.append((matches[0], row))
            taken.add(id(matches[0]))
        else:
            left.append(row)
    pool[:] = [row for row in pool if id(row) not in taken]
    return left


def _key(row: dict[str, Any]) -> str:
    return str(row.get("operation_key") or f"{str(row.get('method', '')).upper()} {row.get('path', '')}")


def _loose_key(row: dict[str, Any]) -> str:
    return _PATH_PARAM.sub("{}", _key(row))


def _name(row: dict[str, Any]) -> str:
    return str(row.get("name") or "")


def _compare(before: dict[str, Any], after: dict[str, Any]) -> ToolChange | None:
    differs = {
        "method/path": _key(before) != _key(after)
        or (before.get("method"), before.get("path")) != (after.get("method"), after.get("path")),
        "name": before.get("name") != after.get("name"),
        "description": (before.get("description") or "") != (after.get("description") or ""),
        "input_schema": before.get("input_schema") != after.get("input_schema"),
        "output_schema": before.get("output_schema") != after.get("output_schema"),
    }
    fields = tuple(name for name in COMPARED_FIELDS if differs[name])
    if not fields:
        return None
    return ToolChange(
        operation_key=_key(after),
        previous_operation_key=_key(before),
        name=_name(after),
        fields=fields,
        old=before,
        new=after,
    )
