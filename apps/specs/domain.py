"""Plain data shared by the pure analysis modules (no Django import).

The pipeline is: raw bytes -> ``parse.load_document`` -> ``ParsedSpec`` ->
``apps.inventory.toolgen.build_tools`` -> ``list[ToolDef]`` ->
``apps.risk.classify`` -> ``Classification`` per tool -> ``apps.risk.score``.
Every stage is a plain function over these dataclasses so the whole analysis
runs without a database (the ``scan`` CLI and the benchmarks rely on that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SpecError(Exception):
    """The document cannot be used. ``pointer`` names where (JSON pointer), ``line`` if known."""

    def __init__(self, message: str, *, pointer: str = "", line: int | None = None):
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        self.line = line

    def __str__(self) -> str:
        where = []
        if self.pointer:
            where.append(f"at {self.pointer}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


@dataclass(frozen=True)
class SpecWarning:
    """A spec violation that does not prevent understanding the document."""

    message: str
    pointer: str = ""


@dataclass
class Parameter:
    name: str
    location: str  # path | query | header | cookie
    required: bool = False
    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict)
    deprecated: bool = False
    style: str = ""  # as declared ("" = the location's default); Swagger 2 collectionFormat converted
    explode: bool | None = None  # as declared (None = the style's default)
    media_type: str = ""  # a parameter described by ``content`` (its value is sent as that media type)


@dataclass
class Operation:
    """One HTTP operation of the (3.x-normalised) document, refs still unresolved."""

    method: str  # lower case: get, post, ...
    path: str
    operation_id: str = ""
    summary: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    deprecated: bool = False
    parameters: list[Parameter] = field(default_factory=list)
    request_body: dict[str, Any] | None = None  # the requestBody object (content map etc.)
    responses: dict[str, Any] = field(default_factory=dict)  # status -> response object
    security: list[dict[str, list[str]]] | None = None  # None = inherits the document's
    extensions: dict[str, Any] = field(default_factory=dict)  # x-* keys of the operation


@dataclass
class ParsedSpec:
    """A validated, 3.x-shaped OpenAPI document and what was learned while loading it."""

    document: dict[str, Any]  # the 3.x-normalised document (2.0 converted)
    source_version: str  # "2.0", "3.0.3", "3.1.0", ...
    title: str
    version: str  # info.version
    operations: list[Operation]
    servers: list[str] = field(default_factory=list)
    security_schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    security: list[dict[str, list[str]]] = field(default_factory=list)  # document-level
    warnings: list[SpecWarning] = field(default_factory=list)
    sha256: str = ""


@dataclass
class ToolDef:
    """One MCP tool generated from one operation: what an agent will see, plus its origin."""

    name: str
    operation_key: str  # stable identity of the operation: "METHOD /path"
    method: str  # upper case
    path: str
    operation_id: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    deprecated: bool = False
    # how each inputSchema property maps back onto the HTTP request:
    # property name -> {"in": "path"|"query"|"header"|"cookie"|"body", "name": original name}
    # the request body, when not an object spread into properties, is property "body".
    arg_map: dict[str, dict[str, str]] = field(default_factory=dict)
    body_content_type: str | None = None
    security: list[dict[str, list[str]]] = field(default_factory=list)  # effective requirements
    responses: dict[str, Any] = field(default_factory=dict)  # status -> {"description", "schema"}
    extensions: dict[str, Any] = field(default_factory=dict)
    parameters: list[Parameter] = field(default_factory=list)
    request_schema: dict[str, Any] | None = None  # resolved request body schema, if any


@dataclass(frozen=True)
class Finding:
    """A problem found in a tool or project. Codes are stable; severities: info..critical."""

    code: str
    severity: str  # info | low | medium | high | critical
    message: str
    remediation: str
    tools: tuple[str, ...] = ()  # tool names affected; empty = project-wide
    category: str = "quality"  # quality | security | data_validation | governance
