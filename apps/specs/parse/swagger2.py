"""Swagger 2.0 -> OpenAPI 3.0.3, so the rest of the import reads one shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from apps.core import jsonpointer
from apps.specs.parse.common import HTTP_METHODS, text

_V2_REF_PREFIXES = (
    ("#/definitions/", "#/components/schemas/"),
    ("#/parameters/", "#/components/parameters/"),
    ("#/responses/", "#/components/responses/"),
)
_V2_SCHEMA_KEYWORDS = (
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
)
_V2_COLLECTION_STYLES = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
    "tsv": ("tabDelimited", False),  # no OpenAPI 3 style: the gateway joins with a tab (Swagger 2's rule)
}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_V2_OAUTH_FLOWS = {
    "implicit": ("implicit", ("authorizationUrl",)),
    "password": ("password", ("tokenUrl",)),
    "application": ("clientCredentials", ("tokenUrl",)),
    "accessCode": ("authorizationCode", ("authorizationUrl", "tokenUrl")),
}


def convert_swagger2(doc: dict[str, Any]) -> dict[str, Any]:
    """Return an OpenAPI 3.0.3 document equivalent to a Swagger 2.0 one (the input is not modified).

    Parameter ``$ref``s are inlined (a 2.0 body parameter becomes a requestBody, which
    3.0 cannot reference from ``parameters``); path-level parameters are merged into
    each operation, operation-level winning by ``(name, in)``.
    """
    consumes = _string_list(doc.get("consumes")) or ["application/json"]
    produces = _string_list(doc.get("produces")) or ["application/json"]
    out: dict[str, Any] = {"openapi": "3.0.3", "info": _rewrite_refs(doc.get("info") or {})}
    for key in ("tags", "externalDocs", "security"):
        if key in doc:
            out[key] = _rewrite_refs(doc[key])
    out.update({k: v for k, v in doc.items() if str(k).startswith("x-")})
    servers = _v2_servers(doc)
    if servers:
        out["servers"] = servers
    root_params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    out["paths"] = {
        path: _v2_path_item(item, doc, root_params, consumes, produces) if isinstance(item, dict) else item
        for path, item in doc["paths"].items()
    }
    components = _v2_components(doc, root_params, produces)
    if components:
        out["components"] = components
    return out


def _v2_servers(doc: dict[str, Any]) -> list[dict[str, str]]:
    host = doc.get("host") if isinstance(doc.get("host"), str) else ""
    base = doc.get("basePath") if isinstance(doc.get("basePath"), str) else ""
    if not host:
        return [{"url": base}] if base else []
    schemes = [s for s in _string_list(doc.get("schemes")) if s in ("http", "https", "ws", "wss")] or ["https"]
    return [{"url": f"{scheme}://{host}{base}"} for scheme in schemes]


def _v2_components(doc: dict[str, Any], root_params: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    definitions = doc.get("definitions")
    if isinstance(definitions, dict):
        components["schemas"] = {name: _v2_schema(schema) for name, schema in definitions.items()}
    params = {
        name: _v2_parameter(param)
        for name, param in root_params.items()
        if isinstance(param, dict) and param.get("in") not in ("body", "formData")
    }
    if params:
        components["parameters"] = params
    responses = doc.get("responses")
    if isinstance(responses, dict):
        components["responses"] = {name: _v2_response(resp, produces) for name, resp in responses.items()}
    schemes = doc.get("securityDefinitions")
    if isinstance(schemes, dict):
        components["securitySchemes"] = {
            name: _v2_security_scheme(s) for name, s in schemes.items() if isinstance(s, dict)
        }
    return components


def _v2_security_scheme(scheme: dict[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    out: dict[str, Any] = {k: v for k, v in scheme.items() if k == "description" or str(k).startswith("x-")}
    if kind == "basic":
        out.update(type="http", scheme="basic")
    elif kind == "apiKey":
        out.update(type="apiKey", name=scheme.get("name", ""), **{"in": scheme.get("in", "header")})
    elif kind == "oauth2":
        flow_name, url_keys = _V2_OAUTH_FLOWS.get(scheme.get("flow", ""), ("implicit", ("authorizationUrl",)))
        flow: dict[str, Any] = {key: scheme.get(key, "") for key in url_keys}
        flow["scopes"] = scheme.get("scopes") if isinstance(scheme.get("scopes"), dict) else {}
        out.update(type="oauth2", flows={flow_name: flow})
    else:
        out.update({k: v for k, v in scheme.items() if k != "description"})
    return out


def _v2_path_item(
    item: dict[str, Any],
    doc: dict[str, Any],
    root_params: dict[str, Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shared = item.get("parameters") if isinstance(item.get("parameters"), list) else []
    for key, value in item.items():
        if key in HTTP_METHODS and isinstance(value, dict):
            out[key] = _v2_operation(value, shared, doc, root_params, consumes, produces)
        elif key != "parameters":
            out[key] = _rewrite_refs(value)
    return out


def _v2_operation(
    op: dict[str, Any],
    shared: list[Any],
    doc: dict[str, Any],
    root_params: dict[str, Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    op_consumes = _string_list(op.get("consumes")) or consumes
    op_produces = _string_list(op.get("produces")) or produces
    out: dict[str, Any] = {}
    for key, value in op.items():
        if key in ("parameters", "responses", "consumes", "produces", "schemes"):
            continue
        out[key] = _rewrite_refs(value)
    own = op.get("parameters") if isinstance(op.get("parameters"), list) else []
    params = _merge_parameters(
        [_v2_inline_param(p, root_params) for p in shared],
        [_v2_inline_param(p, root_params) for p in own],
    )
    plain = [_v2_parameter(p) for p in params if p.get("in") not in ("body", "formData")]
    if plain:
        out["parameters"] = plain
    body = _v2_request_body(params, op_consumes)
    if body is not None:
        out["requestBody"] = body
    responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
    out["responses"] = {str(code): _v2_response(resp, op_produces) for code, resp in responses.items()}
    return out


def _v2_inline_param(param: Any, root_params: dict[str, Any]) -> dict[str, Any]:
    if isinstance(param, dict) and isinstance(param.get("$ref"), str):
        ref = param["$ref"]
        name = ref.rsplit("/", 1)[-1]
        target = root_params.get(jsonpointer.unescape(unquote(name)))
        if ref.startswith("#/parameters/") and isinstance(target, dict):
            return target
    return param if isinstance(param, dict) else {}


def _merge_parameters(shared: list[dict[str, Any]], own: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Path-level parameters first, replaced in place by operation-level ones with the same key."""
    own_keys = {(p.get("name"), p.get("in")) for p in own}
    return [p for p in shared if (p.get("name"), p.get("in")) not in own_keys] + own


def _v2_parameter(param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return _rewrite_refs(param)
    out: dict[str, Any] = {
        k: param[k] for k in ("name", "in", "description", "required", "allowEmptyValue") if k in param
    }
    if param.get("in") == "path":
        out["required"] = True
    out.update({k: v for k, v in param.items() if str(k).startswith("x-")})
    if param.get("x-deprecated"):
        out["deprecated"] = True
    out["schema"] = _v2_primitive_schema(param)
    style = _V2_COLLECTION_STYLES.get(param.get("collectionFormat", ""))
    if param.get("type") == "array" and style and param.get("in") == "query":
        out["style"], out["explode"] = style
    elif param.get("type") == "array" and param.get("in") == "query":
        out["style"], out["explode"] = "form", False
    return out


def _v2_primitive_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for key in _V2_SCHEMA_KEYWORDS:
        if key in param:
            schema[key] = (
                _v2_primitive_schema(param[key]) if key == "items" and isinstance(param[key], dict) else param[key]
            )
    if schema.get("type") == "file":
        schema["type"], schema["format"] = "string", "binary"
    if param.get("x-nullable"):
        schema["nullable"] = True
    return schema


def _v2_request_body(params: list[dict[str, Any]], consumes: list[str]) -> dict[str, Any] | None:
    body = next((p for p in params if p.get("in") == "body"), None)
    if body is not None:
        media_types = [m for m in consumes if m not in _FORM_TYPES] or consumes
        schema = _v2_schema(body.get("schema") if isinstance(body.get("schema"), dict) else {})
        out: dict[str, Any] = {"content": {m: {"schema": schema} for m in media_types}}
        if body.get("description"):
            out["description"] = body["description"]
        if body.get("required"):
            out["required"] = True
        if body.get("name"):
            out["x-body-name"] = body["name"]
        return out
    form = [p for p in params if p.get("in") == "formData"]
    if not form:
        return None
    has_file = any(p.get("type") == "file" for p in form)
    media_types = [m for m in consumes if m in _FORM_TYPES] or (
        ["multipart/form-data"] if has_file else ["application/x-www-form-urlencoded"]
    )
    properties: dict[str, Any] = {}
    for p in form:
        prop = _v2_primitive_schema(p)
        if p.get("description"):
            prop["description"] = p["description"]
        properties[str(p.get("name", ""))] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [str(p.get("name")) for p in form if p.get("required")]
    if required:
        schema["required"] = required
    return {"content": {m: {"schema": schema} for m in media_types}, "required": bool(required)}


def _v2_response(resp: Any, produces: list[str]) -> Any:
    if not isinstance(resp, dict) or "$ref" in resp:
        return _rewrite_refs(resp)
    out: dict[str, Any] = {"description": text(resp.get("description"))}
    out.update({k: v for k, v in resp.items() if str(k).startswith("x-")})
    headers = resp.get("headers")
    if isinstance(headers, dict):
        out["headers"] = {
            name: {
                **({"description": h["description"]} if h.get("description") else {}),
                "schema": _v2_primitive_schema(h),
            }
            for name, h in headers.items()
            if isinstance(h, dict)
        }
    if isinstance(resp.get("schema"), dict):
        schema = _v2_schema(resp["schema"])
        examples = resp.get("examples") if isinstance(resp.get("examples"), dict) else {}
        out["content"] = {}
        for media_type in produces:
            entry: dict[str, Any] = {"schema": schema}
            if media_type in examples:
                entry["example"] = examples[media_type]
            out["content"][media_type] = entry
    return out


def _v2_schema(schema: Any) -> Any:
    """2.0 schema -> 3.0 schema: refs rewritten, ``type: file``, ``x-nullable`` and string
    ``discriminator`` converted.  Data keywords (example, default, enum) are copied untouched."""
    if isinstance(schema, list):
        return [_v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = _rewrite_ref(value)
        elif key in ("example", "default", "enum") or str(key).startswith("x-"):
            out[key] = value
        elif key in ("properties", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _v2_schema(sub) for name, sub in value.items()}
        elif key == "discriminator" and isinstance(value, str):
            out[key] = {"propertyName": value}
        else:
            out[key] = _v2_schema(value)
    if out.get("type") == "file":
        out["type"], out["format"] = "string", "binary"
    if schema.get("x-nullable") is True:
        out["nullable"] = True
    return out


def _rewrite_ref(ref: str) -> str:
    for old, new in _V2_REF_PREFIXES:
        if ref.startswith(old):
            return new + ref[len(old) :]
    return ref


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite_ref(v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _string_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
