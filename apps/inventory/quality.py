"""Quality findings on a generated tool set: what makes an MCP server hard for an agent to use.

One ``Finding`` per code (never one per tool): a 300-tool spec yields a handful of
lines, each listing the affected tools in ``finding.tools`` (document order).  Codes
are stable identifiers that the UI, exports and suppressions rely on:

=================================== ======== ===============================================
code                                severity when
=================================== ======== ===============================================
quality.tool_limit_exceeded         high     more than 128 tools (OpenAI / VS Code hard cap)
quality.too_many_tools              medium   more than 40 tools (Cursor-class clients)
quality.token_budget                low/med  tools/list costs > 20k (low) / > 50k (medium) tokens
quality.tool_sprawl                 medium   versioned / legacy / deprecated twins
quality.missing_description         medium   empty description
quality.poor_description            low      description equal to the name, or one word
quality.no_pagination               medium   list endpoint without limit/page/cursor/... parameter
quality.no_filtering                low      list endpoint with no filtering parameter
quality.generic_schema              low      free-form objects, untyped properties
quality.missing_param_description   low      parameters without a description
quality.huge_schema                 medium   inputSchema JSON larger than 8 KB
quality.huge_output_schema          low      outputSchema JSON larger than 32 KB
quality.deprecated_tools            info     deprecated operations exposed as tools
quality.unsendable_parameter        medium   header/cookie parameter named with characters HTTP refuses
quality.unsupported_pattern         high     a schema pattern RE2 cannot run: calls needing it are refused
=================================== ======== ===============================================
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from apps.core import jsonpointer
from apps.core.http_names import HTTP_NAME_CHARACTERS, HTTP_TOKEN
from apps.core.spec_patterns import pattern_problem
from apps.inventory.tokens import LISTING_TOKEN_BUDGET, definition_tokens
from apps.inventory.toolgen import IGNORED_HEADER_PARAMS, OUTPUT_WRAP_KEY, is_wrapped, json_size, tool_definition
from apps.specs.domain import Finding, ToolDef

__all__ = [
    "HARD_TOOL_LIMIT",
    "HUGE_INPUT_SCHEMA_BYTES",
    "HUGE_OUTPUT_SCHEMA_BYTES",
    "SOFT_TOOL_LIMIT",
    "quality_findings",
    "sprawl_groups",
]

SOFT_TOOL_LIMIT = 40
HARD_TOOL_LIMIT = 128
HUGE_INPUT_SCHEMA_BYTES = 8 * 1024
HUGE_OUTPUT_SCHEMA_BYTES = 32 * 1024
TOKEN_BUDGET_LOW = LISTING_TOKEN_BUDGET
TOKEN_BUDGET_MEDIUM = 50_000
_MAX_NAMES_IN_MESSAGE = 8

_MARKER_TOKEN = re.compile(r"^(v\d+|version\d*|legacy|deprecated|old|beta|alpha|preview|experimental|classic)$")
_VERSION_SEGMENT = re.compile(r"^(v\d+(\.\d+)*|\d{4}-\d{2}-\d{2}|legacy|beta|alpha|preview)$", re.I)
_PAGINATION = frozenset(
    {
        "limit",
        "page",
        "cursor",
        "offset",
        "perpage",
        "pagesize",
        "pagenumber",
        "pagetoken",
        "nextpagetoken",
        "nexttoken",
        "startingafter",
        "endingbefore",
        "maxresults",
        "maxitems",
        "top",
        "skip",
        "after",
        "before",
        "marker",
        "usemarker",
        "continuationtoken",
        "pagecursor",
        "pagelimit",
        "pageoffset",
        "first",
        "last",
        "size",
        "start",
        "from",
        "since",
        "count",
    }
)
_NOT_FILTERS = frozenset(
    {
        "sort",
        "sortby",
        "order",
        "orderby",
        "direction",
        "fields",
        "expand",
        "include",
        "select",
        "format",
        "pretty",
        "locale",
        "lang",
        "language",
    }
)
_LIST_VERBS = frozenset({"list", "search", "query", "find", "browse", "enumerate"})


def quality_findings(tools: list[ToolDef]) -> list[Finding]:
    """All quality findings for one tool set, in a stable order (see module docstring)."""
    sizes: dict[int, int] = {}  # id(schema) -> compact JSON characters, shared by size checks
    findings: list[Finding] = [*_tool_count(tools), *_token_budget(tools, sizes)]
    for check in (_sprawl, _descriptions, _pagination_and_filtering, _generic_schemas, _parameter_descriptions):
        findings.extend(check(tools))
    findings.extend(_huge_schemas(tools, sizes))
    findings.extend(_deprecated(tools))
    findings.extend(_unsendable_parameters(tools))
    findings.extend(_unsupported_patterns(tools))
    return findings


# --------------------------------------------------------------------------- checks


def _tool_count(tools: list[ToolDef]) -> Iterator[Finding]:
    count = len(tools)
    if count > HARD_TOOL_LIMIT:
        yield Finding(
            code="quality.tool_limit_exceeded",
            severity="high",
            message=f"{count} tools: OpenAI and VS Code refuse more than {HARD_TOOL_LIMIT} tools per request, "
            f"and Cursor-class clients degrade above {SOFT_TOOL_LIMIT}",
            remediation="Split the API into several MCP servers by domain or tag, or enable only the "
            "operations agents need.",
        )
    elif count > SOFT_TOOL_LIMIT:
        yield Finding(
            code="quality.too_many_tools",
            severity="medium",
            message=f"{count} tools: Cursor-class clients handle at most about {SOFT_TOOL_LIMIT} tools well",
            remediation="Disable rarely used operations or split the server by tag.",
        )


def _token_budget(tools: list[ToolDef], sizes: dict[int, int]) -> Iterator[Finding]:
    """Counted with the real tokenizer (``apps.inventory.tokens``) on the full definitions;
    names the heaviest tools, which are where compaction or disabling pays most."""
    costs = [(definition_tokens(tool_definition(tool)), tool.name) for tool in tools]
    tokens = sum(cost for cost, _ in costs)
    if tokens > TOKEN_BUDGET_LOW:
        heaviest = sorted(costs, key=lambda item: (-item[0], item[1]))[:5]
        shown = ", ".join(f"{name} ({cost:,})" for cost, name in heaviest)
        yield Finding(
            code="quality.token_budget",
            severity="medium" if tokens > TOKEN_BUDGET_MEDIUM else "low",
            message=f"tools/list costs an agent {tokens:,} tokens of context on every conversation "
            f"(budget {TOKEN_BUDGET_LOW:,}); heaviest: {shown}",
            remediation="Keep compact tool definitions on for the environment (shared sub-schemas, trimmed "
            "descriptions, deep nesting summarised), switch large APIs to search-first mode, and disable "
            "or split the heaviest tools.",
            tools=tuple(name for _, name in heaviest),
        )


def _sprawl(tools: list[ToolDef]) -> Iterator[Finding]:
    groups = sprawl_groups(tools)
    if not groups:
        return
    shown = "; ".join(" / ".join(group) for group in groups[:_MAX_NAMES_IN_MESSAGE])
    more = f" and {len(groups) - _MAX_NAMES_IN_MESSAGE} more groups" if len(groups) > _MAX_NAMES_IN_MESSAGE else ""
    yield Finding(
        code="quality.tool_sprawl",
        severity="medium",
        message=f"{len(groups)} group(s) of versioned, legacy or deprecated twins confuse tool choice: {shown}{more}",
        remediation="Expose one current version of each operation and disable the legacy/versioned twins.",
        tools=tuple(name for group in groups for name in group),
    )


def sprawl_groups(tools: list[ToolDef]) -> list[list[str]]:
    """Groups (document order) of tools that are versions of one another.

    Two signals: names equal once version/legacy markers are removed
    (``createCustomer``, ``createCustomerV2``, ``createCustomerLegacy``), and the same
    method on paths equal once version segments are removed (``/v1/x`` and ``/v2/x``).
    A name group counts only if a member carries a marker or is deprecated.
    """
    parent: dict[str, str] = {t.name: t.name for t in tools}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def union_all(members: list[str]) -> None:
        for other in members[1:]:
            parent[find(other)] = find(members[0])

    by_name: dict[tuple[str, ...], list[ToolDef]] = {}
    by_path: dict[tuple[str, str], list[str]] = {}
    for tool in tools:
        tokens = _name_tokens(tool.name)
        base = tuple(t for t in tokens if not _MARKER_TOKEN.match(t))
        if base:
            by_name.setdefault(base, []).append(tool)
        segments = [s for s in tool.path.split("/") if s]
        if any(_VERSION_SEGMENT.match(s) for s in segments):
            stripped = "/".join(s for s in segments if not _VERSION_SEGMENT.match(s))
            by_path.setdefault((tool.method, stripped), []).append(tool.name)
    for members in by_name.values():
        marked = any(t.deprecated or any(_MARKER_TOKEN.match(x) for x in _name_tokens(t.name)) for t in members)
        if len(members) > 1 and marked:
            union_all([t.name for t in members])
    for names in by_path.values():
        if len(names) > 1:
            union_all(names)
    groups: dict[str, list[str]] = {}
    for tool in tools:
        groups.setdefault(find(tool.name), []).append(tool.name)
    return [group for group in groups.values() if len(group) > 1]


def _name_tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [t.lower() for t in re.split(r"[^A-Za-z0-9]+", spaced) if t]


def _descriptions(tools: list[ToolDef]) -> Iterator[Finding]:
    missing: list[str] = []
    poor: list[str] = []
    for tool in tools:
        text = tool.description.removeprefix("DEPRECATED:").strip()
        if tool.description.strip() == "DEPRECATED":
            text = ""
        if not text:
            missing.append(tool.name)
        elif _same_words(text, tool.name) or _same_words(text, tool.operation_id) or len(text.split()) == 1:
            poor.append(tool.name)
    if missing:
        yield Finding(
            code="quality.missing_description",
            severity="medium",
            message=f"{len(missing)} tool(s) have no description: agents choose tools by their description",
            remediation="Add a summary and description to these operations (or override them in MCPForge).",
            tools=tuple(missing),
        )
    if poor:
        yield Finding(
            code="quality.poor_description",
            severity="low",
            message=f"{len(poor)} tool(s) have a one-word description or one that repeats the tool name",
            remediation="Describe what the operation does, when to use it and what it returns.",
            tools=tuple(poor),
        )


def _same_words(text: str, name: str) -> bool:
    return bool(name) and "".join(_name_tokens(text)) == "".join(_name_tokens(name))


def _pagination_and_filtering(tools: list[ToolDef]) -> Iterator[Finding]:
    no_paging: list[str] = []
    no_filters: list[str] = []
    for tool in tools:
        if not _is_list_endpoint(tool):
            continue
        query = [_normalise_param(p.name) for p in tool.parameters if p.location == "query"]
        if not any(name in _PAGINATION for name in query):
            no_paging.append(tool.name)
        if not any(name not in _PAGINATION and name not in _NOT_FILTERS for name in query):
            no_filters.append(tool.name)
    if no_paging:
        yield Finding(
            code="quality.no_pagination",
            severity="medium",
            message=f"{len(no_paging)} list endpoint(s) have no pagination parameter: one call can flood "
            "the agent's context with every record",
            remediation="Add limit/cursor (or page/page_size) parameters, or cap the result size in the gateway.",
            tools=tuple(no_paging),
        )
    if no_filters:
        yield Finding(
            code="quality.no_filtering",
            severity="low",
            message=f"{len(no_filters)} list endpoint(s) have no filtering parameter: agents must page "
            "through everything to find one record",
            remediation="Add query parameters that filter by the fields agents search on.",
            tools=tuple(no_filters),
        )


def _normalise_param(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _is_list_endpoint(tool: ToolDef) -> bool:
    """GET returning an array, or a GET named list*/search* (or on a collection path) whose
    result object carries an array (``{"data": [...]}``, ``{"entries": [...]}``)."""
    if tool.method != "GET":
        return False
    schema = tool.output_schema
    if is_wrapped(schema):
        schema = schema["properties"][OUTPUT_WRAP_KEY]
    if _is_array(schema):
        return True
    tokens = _name_tokens(tool.name)
    last = [s for s in tool.path.split("/") if s][-1:] or [""]
    collection = not last[0].startswith("{")
    named_list = bool(tokens) and tokens[0] in _LIST_VERBS
    has_array = isinstance(schema, dict) and any(_is_array(prop) for prop in (schema.get("properties") or {}).values())
    return named_list or (collection and has_array)


def _is_array(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)


def _generic_schemas(tools: list[ToolDef]) -> Iterator[Finding]:
    affected = [tool.name for tool in tools if _has_generic_schema(tool.input_schema)]
    if affected:
        yield Finding(
            code="quality.generic_schema",
            severity="low",
            message=f"{len(affected)} tool(s) take free-form objects or untyped values: agents have to guess "
            "what to send",
            remediation="Give request bodies and parameters explicit types and properties; avoid "
            "additionalProperties: true.",
            tools=tuple(affected),
        )


def _has_generic_schema(root: dict[str, Any]) -> bool:
    """Free-form object (no properties, additionalProperties not false), explicit
    ``additionalProperties: true``, or a property schema with no type information."""
    stack: list[Any] = list((root.get("properties") or {}).values()) + list((root.get("$defs") or {}).values())
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("additionalProperties") is True:
            return True
        typed = any(k in node for k in ("type", "$ref", "enum", "const", "allOf", "anyOf", "oneOf", "not"))
        if not typed:
            return True
        is_object = node.get("type") == "object"
        if (
            is_object
            and not node.get("properties")
            and not node.get("patternProperties")
            and node.get("additionalProperties", True) is True
        ):
            return True
        stack.extend((node.get("properties") or {}).values())
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                stack.append(node[key])
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            stack.extend(node.get(key) or [])
    return False


def _parameter_descriptions(tools: list[ToolDef]) -> Iterator[Finding]:
    affected = [
        tool.name
        for tool in tools
        if any(
            not p.description and not (p.schema or {}).get("description")
            for p in tool.parameters
            if not (p.location == "header" and p.name.lower() in IGNORED_HEADER_PARAMS)
        )
    ]
    if affected:
        yield Finding(
            code="quality.missing_param_description",
            severity="low",
            message=f"{len(affected)} tool(s) have parameters without a description",
            remediation="Describe each parameter: format, allowed values and what it changes.",
            tools=tuple(affected),
        )


def _huge_schemas(tools: list[ToolDef], sizes: dict[int, int]) -> Iterator[Finding]:
    """Sizes are characters of compact JSON (bytes for ASCII schemas)."""
    huge_in = [t.name for t in tools if json_size(t.input_schema, sizes) > HUGE_INPUT_SCHEMA_BYTES]
    huge_out = [
        t.name
        for t in tools
        if t.output_schema is not None and json_size(t.output_schema, sizes) > HUGE_OUTPUT_SCHEMA_BYTES
    ]
    if huge_in:
        yield Finding(
            code="quality.huge_schema",
            severity="medium",
            message=f"{len(huge_in)} tool(s) have an inputSchema over {HUGE_INPUT_SCHEMA_BYTES // 1024} KB: "
            "costly in context and error-prone to fill",
            remediation="Expose a narrower operation, hide optional fields agents never set, or shorten "
            "nested descriptions.",
            tools=tuple(huge_in),
        )
    if huge_out:
        yield Finding(
            code="quality.huge_output_schema",
            severity="low",
            message=f"{len(huge_out)} tool(s) have an outputSchema over {HUGE_OUTPUT_SCHEMA_BYTES // 1024} KB",
            remediation="Return a smaller representation (fields/expand parameters) for agent use.",
            tools=tuple(huge_out),
        )


def _deprecated(tools: list[ToolDef]) -> Iterator[Finding]:
    affected = [t.name for t in tools if t.deprecated]
    if affected:
        yield Finding(
            code="quality.deprecated_tools",
            severity="info",
            message=f"{len(affected)} deprecated operation(s) are exposed as tools",
            remediation="Disable deprecated operations unless agents still need them.",
            tools=tuple(affected),
        )


def _unsendable_parameters(tools: list[ToolDef]) -> Iterator[Finding]:
    """Header and cookie names must be HTTP tokens; the gateway refuses a call that passes such
    a parameter (``not_configured``) rather than send a malformed request."""
    bad: dict[str, list[str]] = {}
    for tool in tools:
        for p in tool.parameters:
            ignored = p.location == "header" and p.name.lower() in IGNORED_HEADER_PARAMS
            if p.location in ("header", "cookie") and not ignored and not HTTP_TOKEN.fullmatch(p.name):
                bad.setdefault(tool.name, []).append(f"{p.location} {p.name!r}")
    if bad:
        examples = ", ".join(f"{names[0]} in {tool}" for tool, names in list(bad.items())[:3])
        yield Finding(
            code="quality.unsendable_parameter",
            severity="medium",
            message=f"{len(bad)} tool(s) have header or cookie parameters whose names HTTP cannot carry ({examples}); "
            "calls that pass them are refused",
            remediation=f"Rename them in the spec using {HTTP_NAME_CHARACTERS} only.",
            tools=tuple(bad),
        )


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
               "unevaluatedItems", "unevaluatedProperties")


def _pointer(parts: tuple[str, ...]) -> str:
    return jsonpointer.join(parts)


def _patterns(schema: Any, where: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """``(JSON pointer, pattern)`` of every ``pattern`` and ``patternProperties`` key in a schema."""
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("pattern"), str):
        yield _pointer((*where, "pattern")), schema["pattern"]
    for keyword in _SCHEMA_MAPS:
        children = schema.get(keyword)
        if isinstance(children, dict):
            for key, child in children.items():
                if keyword == "patternProperties":
                    yield _pointer((*where, keyword, key)), key
                yield from _patterns(child, (*where, keyword, key))
    for keyword in _SCHEMA_LISTS:
        children = schema.get(keyword)
        if isinstance(children, list):
            for index, child in enumerate(children):
                yield from _patterns(child, (*where, keyword, str(index)))
    for keyword in _SCHEMA_ONE:
        yield from _patterns(schema.get(keyword), (*where, keyword))


def _unsupported_patterns(tools: list[ToolDef]) -> Iterator[Finding]:
    """The gateway runs schema patterns on RE2 (linear time, never Python's backtracking ``re``,
    on agent input); a pattern RE2 cannot compile (backreferences, lookaround) makes it refuse
    every call that would need it, so the import says which tool, parameter and pointer."""
    bad: dict[str, list[str]] = {}
    for tool in tools:
        for pointer, pattern in _patterns(tool.input_schema):
            if pattern_problem(pattern) is not None:
                parts = jsonpointer.split(pointer)
                parameter = parts[1] if len(parts) > 1 and parts[0] == "properties" else "(schema)"
                bad.setdefault(tool.name, []).append(f"{parameter} at inputSchema{pointer} ({pattern[:60]!r})")
    if bad:
        examples = "; ".join(f"{tool}: {places[0]}" for tool, places in list(bad.items())[:_MAX_NAMES_IN_MESSAGE])
        yield Finding(
            code="quality.unsupported_pattern",
            severity="high",
            message=f"{len(bad)} tool(s) have schema patterns the gateway's linear-time regex engine (RE2) cannot run "
            f"({examples}); calls that pass a value the pattern must check are refused",
            remediation="Rewrite the patterns in RE2 syntax (no backreferences or lookaround) and re-import.",
            tools=tuple(bad),
        )
