"""apps.inventory.quality: one aggregated finding per code, on crafted and real tool sets."""

from __future__ import annotations

from apps.inventory.quality import quality_findings, sprawl_groups
from apps.inventory.toolgen import build_tools, wrap_output_schema
from apps.specs.domain import Finding, Parameter, ToolDef
from tests.specs.helpers import load_spec

pytestmark = []

DESCRIBED = "Does something useful with the records of this account."


def tool(
    name: str,
    *,
    method: str = "GET",
    path: str | None = None,
    description: str = DESCRIBED,
    params: list[Parameter] | None = None,
    output: dict | None = None,
    input_schema: dict | None = None,
    deprecated: bool = False,
) -> ToolDef:
    params = params or []
    return ToolDef(
        name=name,
        operation_key=f"{method} {path or '/' + name}",
        method=method,
        path=path or f"/{name}",
        operation_id=name,
        description=description,
        input_schema=input_schema
        or {
            "type": "object",
            "properties": {p.name: {"type": "string", "description": p.description} for p in params},
            "additionalProperties": False,
        },
        output_schema=output,
        deprecated=deprecated,
        parameters=params,
    )


def query(name: str, description: str = "a described parameter") -> Parameter:
    return Parameter(name=name, location="query", description=description, schema={"type": "string"})


def by_code(findings: list[Finding]) -> dict[str, Finding]:
    codes = [f.code for f in findings]
    assert len(codes) == len(set(codes)), "one finding per code"
    assert all(f.category == "quality" for f in findings)
    assert all(f.severity in ("info", "low", "medium", "high", "critical") for f in findings)
    assert all(f.message and f.remediation for f in findings)
    return {f.code: f for f in findings}


def test_clean_tools_have_no_findings():
    tools = [
        tool("createCustomer", method="POST", path="/customers"),
        tool("getCustomer", path="/customers/{id}", output={"type": "object", "properties": {}}),
    ]
    assert quality_findings(tools) == []


def test_sprawl_groups_versioned_legacy_and_deprecated_twins():
    tools = [
        tool("createCustomer", method="POST"),
        tool("createCustomerV2", method="POST"),
        tool("createCustomerLegacy", method="POST"),
        tool("create_customer_v3", method="POST"),
        tool("getOrder"),
        tool("getOrderOld", deprecated=True),
        tool("listInvoices", path="/v1/invoices"),
        tool("listAllInvoices", path="/v2/invoices"),
        tool("deleteThing", method="DELETE"),
        tool("listPets"),
        tool("list_pets"),  # same base, but no version marker: not sprawl
    ]
    assert sprawl_groups(tools) == [
        ["createCustomer", "createCustomerV2", "createCustomerLegacy", "create_customer_v3"],
        ["getOrder", "getOrderOld"],
        ["listInvoices", "listAllInvoices"],
    ]
    finding = by_code(quality_findings(tools))["quality.tool_sprawl"]
    assert finding.severity == "medium"
    assert finding.tools == (
        "createCustomer",
        "createCustomerV2",
        "createCustomerLegacy",
        "create_customer_v3",
        "getOrder",
        "getOrderOld",
        "listInvoices",
        "listAllInvoices",
    )
    assert "createCustomer / createCustomerV2 / createCustomerLegacy" in finding.message


def test_missing_and_poor_descriptions():
    tools = [
        tool("empty", description=""),
        tool("deprecatedEmpty", description="DEPRECATED", deprecated=True),
        tool("getPets", description="getPets"),
        tool("get_pets_2", description="Get pets 2"),
        tool("oneWord", description="Pets"),
        tool("fine"),
    ]
    findings = by_code(quality_findings(tools))
    assert findings["quality.missing_description"].tools == ("empty", "deprecatedEmpty")
    assert findings["quality.missing_description"].severity == "medium"
    assert findings["quality.poor_description"].tools == ("getPets", "get_pets_2", "oneWord")
    assert findings["quality.deprecated_tools"].tools == ("deprecatedEmpty",)


def test_pagination_and_filtering_on_list_endpoints():
    array = {"type": "array", "items": {"type": "object", "properties": {}}}
    envelope = {"type": "object", "properties": {"data": array}}
    tools = [
        tool("listPets", params=[query("status")]),  # named list*: no pagination
        tool("get_users", path="/users", output=wrap_output_schema(array)),  # array result, no params
        tool("get_orders", path="/orders", output=envelope, params=[query("limit"), query("cursor")]),
        tool("searchThings", params=[query("page_size"), query("q")]),  # paginated and filtered
        tool("getPet", path="/pets/{id}", output={"type": "object", "properties": {}}),  # not a list
        tool("createPet", method="POST", path="/pets", output=wrap_output_schema(array)),  # not a GET
    ]
    findings = by_code(quality_findings(tools))
    assert findings["quality.no_pagination"].tools == ("listPets", "get_users")
    assert findings["quality.no_filtering"].tools == ("get_users", "get_orders")


def test_tool_count_limits():
    many = [tool(f"op{i}") for i in range(41)]
    findings = by_code(quality_findings(many))
    assert findings["quality.too_many_tools"].severity == "medium"
    assert "quality.tool_limit_exceeded" not in findings
    findings = by_code(quality_findings([tool(f"op{i}") for i in range(129)]))
    assert findings["quality.tool_limit_exceeded"].severity == "high"
    assert findings["quality.tool_limit_exceeded"].tools == ()
    assert "quality.too_many_tools" not in findings
    assert by_code(quality_findings([tool(f"op{i}") for i in range(40)])) == {}


def test_generic_schemas_parameter_descriptions_and_huge_schemas():
    free_form = {"type": "object", "properties": {"payload": {"type": "object"}}, "additionalProperties": False}
    untyped = {"type": "object", "properties": {"value": {"description": "anything"}}, "additionalProperties": False}
    open_map = {
        "type": "object",
        "properties": {
            "meta": {"type": "object", "additionalProperties": True, "properties": {"a": {"type": "string"}}}
        },
    }
    huge = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "x" * 100} for i in range(100)},
        "additionalProperties": False,
    }
    tools = [
        tool("freeForm", method="POST", input_schema=free_form),
        tool("untyped", method="POST", input_schema=untyped),
        tool("openMap", method="POST", input_schema=open_map),
        tool("noParamDoc", params=[query("q", description="")]),
        tool("huge", method="POST", input_schema=huge),
    ]
    findings = by_code(quality_findings(tools))
    assert findings["quality.generic_schema"].tools == ("freeForm", "untyped", "openMap")
    assert findings["quality.missing_param_description"].tools == ("noParamDoc",)
    assert findings["quality.huge_schema"].tools == ("huge",)


def test_real_box_findings_are_aggregated():
    tools = build_tools(load_spec("box.json"))
    findings = by_code(quality_findings(tools))
    assert len(findings) <= 13
    assert findings["quality.tool_limit_exceeded"].message.startswith("296 tools")
    assert findings["quality.token_budget"].severity == "medium"
    names = {t.name for t in tools}
    assert all(set(f.tools) <= names for f in findings.values())


def test_petstore_v3_findings():
    findings = by_code(quality_findings(build_tools(load_spec("petstore-v3.yaml"))))
    assert findings["quality.no_pagination"].tools == ("findPetsByStatus", "findPetsByTags")
    assert "quality.tool_limit_exceeded" not in findings


def test_header_and_cookie_names_http_cannot_carry():
    tools = [
        tool("spaced", params=[Parameter("X Trace", "header", description="d"), Parameter("ok", "query")]),
        tool("cookieEq", params=[Parameter("a=b", "cookie", description="d")]),
        tool("fine", params=[Parameter("X-Trace", "header", description="d"), Parameter("sid", "cookie")]),
        tool("owned", params=[Parameter("Host", "header", description="d")]),   # not an argument at all
        tool("queryIsFree", params=[Parameter("a b", "query", description="d")]),
    ]
    finding = by_code(quality_findings(tools))["quality.unsendable_parameter"]
    assert finding.tools == ("spaced", "cookieEq") and finding.severity == "medium"
    assert "header 'X Trace' in spaced, cookie 'a=b' in cookieEq" in finding.message
    assert "quality.unsendable_parameter" not in by_code(quality_findings(tools[2:]))


def test_unsupported_pattern_names_the_parameter_unescaped():
    """A parameter named with '/' or '~' is named as written, not as its escaped pointer token."""
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"a/b~c": {"type": "string", "pattern": "^(a)\\1$"}}}
    finding = by_code(quality_findings([tool("getThing", input_schema=schema)]))["quality.unsupported_pattern"]
    assert "getThing: a/b~c at inputSchema/properties/a~1b~0c/pattern" in finding.message
