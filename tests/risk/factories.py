"""Hand-built ToolDefs for the risk tests: the unit tests must not depend on the parser."""

from __future__ import annotations

from typing import Any

from apps.specs.domain import Parameter, ToolDef


def make_tool(
    method: str = "GET",
    path: str = "/items",
    *,
    name: str | None = None,
    operation_id: str = "",
    summary: str = "",
    description: str = "",
    tags: list[str] | None = None,
    params: list[Parameter] | None = None,
    body: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    responses: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> ToolDef:
    """A ToolDef shaped like toolgen's: params and an object body spread into ``input_schema``."""
    params = list(params or [])
    properties: dict[str, Any] = {}
    arg_map: dict[str, dict[str, str]] = {}
    for param in params:
        properties[param.name] = param.schema or {"type": "string"}
        arg_map[param.name] = {"in": param.location, "name": param.name}
    if body is not None:
        if isinstance(body.get("properties"), dict):
            for key, schema in body["properties"].items():
                properties[key] = schema
                arg_map[key] = {"in": "body", "name": key}
        else:
            properties["body"] = body
            arg_map["body"] = {"in": "body", "name": ""}
    if responses is None:
        responses = {"200": {"description": "OK", "schema": response}}
    output = None
    for code in sorted(responses):
        if code.startswith("2") and isinstance(responses[code], dict) and responses[code].get("schema"):
            output = responses[code]["schema"]
            break
    tool_name = name or operation_id or f"{method.lower()}_{path.strip('/').replace('/', '_') or 'root'}"
    return ToolDef(
        name=tool_name,
        operation_key=f"{method.upper()} {path}",
        method=method.upper(),
        path=path,
        operation_id=operation_id,
        description=description or summary,
        input_schema={"type": "object", "properties": properties, "additionalProperties": False},
        output_schema=output,
        tags=list(tags or []),
        summary=summary,
        arg_map=arg_map,
        body_content_type="application/json" if body is not None else None,
        security=[{"bearer": []}] if security is None else security,
        responses=responses,
        extensions=dict(extensions or {}),
        parameters=params,
        request_schema=body,
    )


def obj(**properties: Any) -> dict[str, Any]:
    """``{"type": "object", "properties": {...}}`` with string shorthands: obj(email="string")."""
    return {
        "type": "object",
        "properties": {k: ({"type": v} if isinstance(v, str) else v) for k, v in properties.items()},
    }


def query(name: str, schema: dict[str, Any] | None = None, *, description: str = "") -> Parameter:
    return Parameter(name=name, location="query", description=description, schema=schema or {"type": "string"})
