"""Property tests: nothing an OpenAPI document can contain makes the risk modules crash."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.risk import rules
from apps.risk.classify import classify_tool, classify_tools
from apps.risk.pii import PiiScanner
from apps.risk.poisoning import scan_tool
from apps.risk.score import EnvironmentFacts, GovernanceFacts, SpecInfo, compute_score, security_findings
from apps.specs.domain import Parameter, ToolDef

WORDS = [
    "refund", "payments", "users", "delete", "search", "get", "list", "logout", "admin", "email", "name",
    "card", "capture", "legal_hold", "webhooks", "{id}", "{user_id}", "2010-04-01", "Accounts.json", "#add",
    "auth.revoke", "levels:trim", "", "ünïcødé", "\u202e", "x" * 70,
]  # fmt: skip
KEYS = [
    "type", "properties", "items", "$ref", "allOf", "anyOf", "oneOf", "enum", "format", "title", "description",
    "additionalProperties", "$defs", "maxItems", "maxLength", "const", "default", "examples", "required",
    "email", "phone", "first_name", "callback_url", "query", "amount", "currency", "action",
]  # fmt: skip
REFS = ["#/$defs/A", "#/$defs/missing", "#/components/schemas/X", "#", "#/properties/a", "http://x/y", "#/~1/~0"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["object", "array", "string", "boolean", "email", "phone-number", "uri", "date-time", "delete"]),
    st.sampled_from(REFS),
)  # fmt: skip

schemas = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5),
    ),
    max_leaves=25,
)

path_strategy = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=6).map(
    lambda parts: "/" + "/".join(parts)
)
text_strategy = st.one_of(
    st.text(max_size=40), st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join), st.sampled_from(WORDS)
)
method_strategy = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", ""]), st.text(max_size=6)
)
parameters = st.lists(
    st.builds(
        Parameter,
        name=st.one_of(st.sampled_from(["action", "api_key", "password", "redirect_uri", "id"]), st.text(max_size=8)),
        location=st.sampled_from(["query", "path", "header", "cookie", "body", "?"]),
        required=st.booleans(),
        description=text_strategy,
        schema=st.one_of(st.dictionaries(st.sampled_from(KEYS), schemas, max_size=4), st.just({})),
    ),
    max_size=3,
)


@st.composite
def tools(draw) -> ToolDef:
    input_schema = draw(st.one_of(schemas, st.dictionaries(st.sampled_from(KEYS), schemas, max_size=5)))
    if isinstance(input_schema, dict) and draw(st.booleans()):
        input_schema["$defs"] = {"A": draw(schemas)}
    responses = draw(
        st.one_of(
            st.dictionaries(
                st.one_of(st.sampled_from(["200", "201", "204", "2XX", "429", "default"]), st.text(max_size=3)),
                st.one_of(st.fixed_dictionaries({"description": text_strategy, "schema": schemas}), schemas),
                max_size=3,
            ),
            schemas,
        )
    )
    return ToolDef(
        name=draw(st.text(min_size=1, max_size=12)),
        operation_key="x",
        method=draw(method_strategy),
        path=draw(path_strategy),
        operation_id=draw(text_strategy),
        description=draw(text_strategy),
        input_schema=input_schema,
        output_schema=draw(st.one_of(st.none(), schemas)),
        tags=draw(st.one_of(st.lists(text_strategy, max_size=3), schemas)),
        summary=draw(text_strategy),
        arg_map=draw(st.one_of(st.just({}), schemas)),
        security=draw(st.one_of(st.just([]), st.just([{}]), st.just([{"k": []}]), schemas)),
        responses=responses,
        extensions=draw(
            st.one_of(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "x-mcp-readonly",
                            "x-openai-isConsequential",
                            "x-mcp-destructive",
                            "x-mcp-category",
                            "x-methodName",
                            "x-box-requires-admin",
                            "x-mcp-idempotent",
                        ]
                    ),
                    schemas,
                    max_size=3,
                ),
                schemas,
            )
        ),  # fmt: skip
        parameters=draw(st.one_of(parameters, schemas)),
        request_schema=draw(st.one_of(st.none(), schemas)),
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(tools())
def test_classifier_never_crashes_and_keeps_its_invariants(tool):
    c = classify_tool(tool)
    assert c.category in rules.CATEGORIES
    assert c.risk_level in rules.RISK_LEVELS
    assert 0 <= c.risk_score <= 100
    assert c.risk_level == rules.risk_level_for(c.risk_score)
    assert (c.category == "read_only") == (not c.side_effect)
    assert c.category not in c.tags
    if c.categories & rules.SENSITIVE_CATEGORIES:
        assert c.risk_level != "low"
    method = str(tool.method).strip().upper()
    if method not in ("GET", "HEAD", "OPTIONS", "TRACE", "POST"):
        assert c.side_effect
    if method == "DELETE":
        assert c.destructive
    assert set(c.annotations) == {"title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
    json.dumps(c.to_dict())


@SETTINGS
@given(schemas, st.sampled_from(["request", "response"]))
def test_pii_scanner_never_crashes(schema, where):
    for hit in PiiScanner().scan_schema(schema, where):
        assert hit.where == where and hit.path.startswith(where)


@SETTINGS
@given(tools(), st.lists(st.text(max_size=10), max_size=4))
def test_poisoning_scan_never_crashes(tool, names):
    reasons = scan_tool(tool, tool_names=names + [str(tool.name)], known_hosts=["api.example.com"])
    assert all(isinstance(r, str) and r for r in reasons)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tools(), max_size=5), st.booleans())
def test_findings_and_score_never_crash(tool_list, governed):
    unique = list({t.name: t for t in tool_list}.values())
    cls = classify_tools(unique)
    governance = None
    if governed:
        names = {t.name for t in unique}
        governance = GovernanceFacts([EnvironmentFacts("prod", names, {n: "single" for n in names})])
    findings = security_findings(unique, cls, SpecInfo(servers=["http://x.test"]), governance)
    result = compute_score(findings, cls)
    assert 0 <= result.score <= 100
    assert 0 <= result.security_score <= 70 and 0 <= result.data_validation_score <= 30
