"""A checked 3.x document -> the domain objects: operations with their parameters, request body,
responses and security, the servers and the security schemes."""

from __future__ import annotations

import re
from typing import Any

from apps.core import jsonpointer
from apps.specs.domain import Operation, Parameter, SpecWarning
from apps.specs.parse.common import HTTP_METHODS, kind, text
from apps.specs.parse.refs import LocalRefs

PARAMETER_LOCATIONS = ("path", "query", "header", "cookie")
_PATH_TEMPLATE = re.compile(r"\{([^{}/]+)\}")


def extract_operations(
    doc: dict[str, Any],
    refs: LocalRefs,
    warnings: list[SpecWarning],
    unbuildable: dict[str, tuple[str, str]] | None = None,
) -> list[Operation]:
    """``unbuildable``: operation or path item pointers whose tools cannot be built (see
    ``check_refs``); they are skipped with a warning at the pointer of the dangling ``$ref``."""
    unbuildable = unbuildable or {}
    operations: list[Operation] = []
    seen_ids: dict[str, tuple[str, str]] = {}  # lower-cased operationId -> (operationId, "METHOD /path")
    for path, raw_item in doc["paths"].items():
        path = str(path)
        if path.startswith("x-"):
            continue
        pointer = f"/paths/{jsonpointer.escape(path)}"
        if pointer in unbuildable:
            message, where = unbuildable[pointer]
            warnings.append(SpecWarning(f"{message}; no tool is generated for the operations of {path}", where))
            continue
        item = refs.resolve(raw_item)
        if not isinstance(item, dict):
            warnings.append(SpecWarning(f"path item is {kind(item)}, not a mapping: skipped", pointer))
            continue
        if not path.startswith("/"):
            warnings.append(SpecWarning("path does not start with '/'", pointer))
        shared = _parameters(item.get("parameters"), f"{pointer}/parameters", refs, warnings)
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            op_pointer = f"{pointer}/{method}"
            if not isinstance(op, dict):
                warnings.append(SpecWarning(f"operation is {kind(op)}, not a mapping: skipped", op_pointer))
                continue
            if op_pointer in unbuildable:
                message, where = unbuildable[op_pointer]
                warnings.append(SpecWarning(f"{message}; no tool is generated for {method.upper()} {path}", where))
                continue
            operation = _operation(path, method, op, shared, op_pointer, refs, warnings)
            if operation.operation_id:
                # tool names are unique regardless of case (clients and the gateway match them so)
                key = operation.operation_id.lower()
                if key in seen_ids:
                    other_id, other = seen_ids[key]
                    same = "is also used by" if other_id == operation.operation_id else f"clashes with '{other_id}' of"
                    warnings.append(
                        SpecWarning(
                            f"operationId '{operation.operation_id}' {same} {other}: the tool names are kept "
                            "distinct with a suffix derived from the method and path",
                            f"{op_pointer}/operationId",
                        )
                    )
                else:
                    seen_ids[key] = (operation.operation_id, f"{method.upper()} {path}")
            operations.append(operation)
    return operations


def _operation(
    path: str,
    method: str,
    op: dict[str, Any],
    shared: list[Parameter],
    pointer: str,
    refs: LocalRefs,
    warnings: list[SpecWarning],
) -> Operation:
    own = _parameters(op.get("parameters"), f"{pointer}/parameters", refs, warnings)
    own_keys = {(p.name, p.location) for p in own}
    parameters = [p for p in shared if (p.name, p.location) not in own_keys] + own
    parameters = _ensure_path_parameters(path, parameters, pointer, warnings)
    body = refs.resolve(op.get("requestBody")) if "requestBody" in op else None
    responses = op.get("responses") if isinstance(op.get("responses"), dict) else {}
    if "responses" in op and not isinstance(op.get("responses"), dict):
        warnings.append(SpecWarning("'responses' is not a mapping: ignored", f"{pointer}/responses"))
    tags = op.get("tags") if isinstance(op.get("tags"), list) else []
    return Operation(
        method=method,
        path=path,
        operation_id=text(op.get("operationId")).strip(),
        summary=text(op.get("summary")).strip(),
        description=text(op.get("description")).strip(),
        tags=[t for t in tags if isinstance(t, str)],
        deprecated=op.get("deprecated") is True,
        parameters=parameters,
        request_body=body if isinstance(body, dict) else None,
        responses=_responses(responses, refs),
        security=normalise_security(op.get("security"), f"{pointer}/security", warnings),
        extensions={k: v for k, v in op.items() if str(k).startswith("x-")},
    )


def _responses(responses: dict[str, Any], refs: LocalRefs) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for code, response in responses.items():
        resolved = refs.resolve(response)
        if not str(code).startswith("x-") and isinstance(resolved, dict):
            result[str(code)] = resolved
    return result


def _parameters(raw: Any, pointer: str, refs: LocalRefs, warnings: list[SpecWarning]) -> list[Parameter]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        warnings.append(SpecWarning("'parameters' is not a list: ignored", pointer))
        return []
    result: list[Parameter] = []
    for index, item in enumerate(raw):
        param = refs.resolve(item)
        where = f"{pointer}/{index}"
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or not param.get("name"):
            warnings.append(SpecWarning("parameter without a name: skipped", where))
            continue
        location = param.get("in")
        if location not in PARAMETER_LOCATIONS:
            warnings.append(
                SpecWarning(
                    f"parameter location {location!r} is not one of {', '.join(PARAMETER_LOCATIONS)}: skipped",
                    where,
                )
            )
            continue
        result.append(
            Parameter(
                name=param["name"],
                location=location,
                required=location == "path" or param.get("required") is True,
                description=text(param.get("description")).strip(),
                schema=_parameter_schema(param),
                deprecated=param.get("deprecated") is True,
                style=param["style"] if isinstance(param.get("style"), str) else "",
                explode=param["explode"] if isinstance(param.get("explode"), bool) else None,
                media_type=_parameter_media(param),
            )
        )
    return result


def _parameter_media(param: dict[str, Any]) -> str:
    """The media type of a parameter described by ``content`` instead of ``schema``."""
    content = param.get("content")
    if "schema" in param or not isinstance(content, dict) or not content:
        return ""
    return str(next(iter(content)))


def _parameter_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema = param.get("schema")
    if isinstance(schema, dict):
        return schema
    content = param.get("content")
    if isinstance(content, dict):
        for media in content.values():
            if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                return media["schema"]
    return {}


def _ensure_path_parameters(
    path: str, parameters: list[Parameter], pointer: str, warnings: list[SpecWarning]
) -> list[Parameter]:
    """Make the path parameters match the path template, with a warning for each mismatch.

    * ``{name}`` in the template but not declared: the URL cannot be built without a value, so
      the tool takes it as a required string with no other constraint (every path segment is
      text; nothing is claimed about its format).
    * declared ``in: path`` but absent from the template: it has nowhere to go in the URL, so
      it is dropped rather than offered to the agent as an argument that would be ignored.
    """
    template = _PATH_TEMPLATE.findall(path)
    kept: list[Parameter] = []
    for param in parameters:
        if param.location == "path" and param.name not in template:
            warnings.append(
                SpecWarning(
                    f"path parameter '{param.name}' does not appear in the path template {path}: dropped "
                    "(it cannot be sent)",
                    f"{pointer}/parameters",
                )
            )
            continue
        kept.append(param)
    declared = {p.name for p in kept if p.location == "path"}
    for name in template:
        if name not in declared:
            warnings.append(
                SpecWarning(
                    f"path parameter '{name}' is not declared: assumed to be a required string",
                    f"{pointer}/parameters",
                )
            )
            kept.append(Parameter(name=name, location="path", required=True, schema={"type": "string"}))
            declared.add(name)
    return kept


def normalise_security(raw: Any, pointer: str, warnings: list[SpecWarning]) -> list[dict[str, list[str]]] | None:
    """``None`` when absent (operation inherits); ``[{scheme: null}]`` is read as ``[{scheme: []}]``."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        warnings.append(SpecWarning("'security' is not a list: ignored", pointer))
        return None
    result: list[dict[str, list[str]]] = []
    for index, requirement in enumerate(raw):
        if not isinstance(requirement, dict):
            warnings.append(SpecWarning("security requirement is not a mapping: ignored", f"{pointer}/{index}"))
            continue
        clean: dict[str, list[str]] = {}
        for scheme, scopes in requirement.items():
            if not isinstance(scopes, list):
                warnings.append(
                    SpecWarning(
                        f"scopes of security scheme '{scheme}' should be a list, not {kind(scopes)}: "
                        "read as no scopes",
                        f"{pointer}/{index}/{jsonpointer.escape(scheme)}",
                    )
                )
                scopes = []
            clean[str(scheme)] = [str(s) for s in scopes]
        result.append(clean)
    return result


def server_urls(doc: dict[str, Any]) -> list[str]:
    servers = doc.get("servers")
    if not isinstance(servers, list):
        return []
    urls: list[str] = []
    for server in servers:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        variables = server.get("variables") if isinstance(server.get("variables"), dict) else {}
        for name, variable in variables.items():
            if isinstance(variable, dict) and "default" in variable:
                url = url.replace("{" + str(name) + "}", str(variable["default"]))
        urls.append(url)
    return urls


def security_schemes(doc: dict[str, Any], refs: LocalRefs) -> dict[str, dict[str, Any]]:
    components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
    schemes = components.get("securitySchemes") if isinstance(components.get("securitySchemes"), dict) else {}
    result: dict[str, dict[str, Any]] = {}
    for name, scheme in schemes.items():
        resolved = refs.resolve(scheme)
        if isinstance(resolved, dict):
            result[str(name)] = resolved
    return result
