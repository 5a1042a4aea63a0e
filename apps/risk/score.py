"""Security findings and the 0-100 Security Score.

Two steps, both pure:

* ``security_findings(tools, classifications, spec_info, governance)`` turns the spec, the
  classifications and (when known) the governance configuration into ``Finding`` objects
  with stable codes.
* ``compute_score(findings, classifications)`` turns *any* findings - these plus the
  inventory's quality findings - into a ``ScoreResult`` whose every point is a line in
  ``deductions``.  The formula is ``FORMULA_MARKDOWN``, shown verbatim in the docs and
  the PDF report.

Offline scans (``governance=None``) model the spec *exposed as-is* through a plain
OpenAPI-to-MCP bridge: every tool enabled, no approval policy, no access restriction.
That is what a team gets before MCPForge governs anything, so the offline score tells
them how much governance the spec needs.  Environment facts that cannot be known offline
(are upstream credentials configured, and how old are they?) are not guessed: those
findings only appear with ``GovernanceFacts``; the spec-level counterpart
``upstream_auth_undocumented`` (the spec declares no way to authenticate) is checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.core.auth_schemes import describe_scheme
from apps.specs.domain import Finding, ParsedSpec, ToolDef

from . import rules
from .classify import Classification
from .poisoning import PoisoningScanner, document_hosts
from .schemawalk import iter_fields, schema_types

# ---------------------------------------------------------------------------
# Stable finding codes
# ---------------------------------------------------------------------------

CRITICAL_WITHOUT_APPROVAL = "critical_tool_without_approval"
BILLING_WITHOUT_MULTI_APPROVAL = "billing_tool_without_multi_approval"
ADMIN_TOOL_ENABLED = "administrative_tool_enabled"
CREDENTIALS_NOT_CONFIGURED = "upstream_credentials_not_configured"
AUTH_UNDOCUMENTED = "upstream_auth_undocumented"
AUTH_UNUSABLE = "upstream_auth_unusable"
CREDENTIALS_STALE = "upstream_credentials_stale"
PII_UNRESTRICTED = "pii_read_without_restricted_access"
WRITE_WITHOUT_SECURITY = "write_operation_without_security"
READ_WITHOUT_SECURITY = "read_operation_without_security"
CREDENTIALS_IN_QUERY = "credentials_in_query"
PLAIN_HTTP = "plain_http_server"
ADMIN_PATH_SHARED_AUTH = "admin_path_shares_auth"
SSRF_PARAMETER = "ssrf_prone_parameter"
NO_RATE_LIMIT = "missing_rate_limit_response"
DESCRIPTION_POISONING = "description_poisoning"
SUSPICIOUS_DESCRIPTION = "description_suspicious_text"
UNBOUNDED_ARRAY = "unbounded_array_in_request"
UNBOUNDED_STRING = "unbounded_string_in_request"

SEVERITIES = ("info", "low", "medium", "high", "critical")
CREDENTIAL_MAX_AGE_DAYS = 90

# ---------------------------------------------------------------------------
# Scoring constants (documented in FORMULA_MARKDOWN; keep both in sync)
# ---------------------------------------------------------------------------

BUCKET_MAX: dict[str, int] = {"security": 70, "data_validation": 30}
CATEGORY_BUCKET: dict[str, str] = {
    "security": "security",
    "governance": "security",
    "data_validation": "data_validation",
    "quality": "data_validation",
}
SEVERITY_POINTS: dict[str, float] = {"critical": 10, "high": 6, "medium": 3, "low": 1, "info": 0}
RISK_MULTIPLIER: dict[str, float] = {"critical": 1.5, "high": 1.25, "medium": 1.0, "low": 0.75}
CATEGORY_WEIGHT: dict[str, float] = {"security": 1.0, "governance": 1.0, "data_validation": 1.0, "quality": 0.5}
CODE_CAP: dict[str, float] = {
    DESCRIPTION_POISONING: 25,
    CRITICAL_WITHOUT_APPROVAL: 18,
    WRITE_WITHOUT_SECURITY: 15,
    BILLING_WITHOUT_MULTI_APPROVAL: 12,
    ADMIN_TOOL_ENABLED: 10,
    CREDENTIALS_NOT_CONFIGURED: 10,
    CREDENTIALS_IN_QUERY: 10,
    PLAIN_HTTP: 10,
    PII_UNRESTRICTED: 8,
    READ_WITHOUT_SECURITY: 8,
    UNBOUNDED_ARRAY: 8,
    AUTH_UNDOCUMENTED: 6,
    ADMIN_PATH_SHARED_AUTH: 6,
    SSRF_PARAMETER: 6,
    UNBOUNDED_STRING: 6,
    CREDENTIALS_STALE: 4,
    NO_RATE_LIMIT: 3,
    SUSPICIOUS_DESCRIPTION: 3,
}
DEFAULT_CODE_CAP: dict[str, float] = {"security": 10, "governance": 10, "data_validation": 6, "quality": 3}
QUALITY_TOTAL_CAP = 10

FORMULA_MARKDOWN = """\
### How the Security Score is computed

The score (0-100) is the sum of two buckets, in the spirit of 42Crunch's audit score:

| Bucket | Points | Finding categories |
|---|---|---|
| Security | 70 | `security`, `governance` |
| Data validation | 30 | `data_validation`, `quality` |

Each bucket starts full and loses points for findings:

1. **Points of one finding** = `S[severity] x R[riskiest affected tool] x B(n) x W[category]`
   * `S`: critical 10, high 6, medium 3, low 1, info 0.
   * `R`: risk level of the riskiest tool the finding names - critical 1.5, high 1.25,
     medium 1.0, low 0.75; a project-wide finding (no tools) counts 1.0.
   * `B(n) = 1 + log2(n)` for a finding naming `n` tools (1 for project-wide): ten
     affected tools weigh about 4.3 times one, not ten times.
   * `W`: 1.0 for security, governance and data-validation findings; 0.5 for quality findings.
2. **Cap per code**: the points of all findings with the same code are added and capped, so
   no single problem can use up a bucket:

   | Code | Cap | Code | Cap |
   |---|---|---|---|
   | `description_poisoning` | 25 | `read_operation_without_security` | 8 |
   | `critical_tool_without_approval` | 18 | `unbounded_array_in_request` | 8 |
   | `write_operation_without_security` | 15 | `upstream_auth_undocumented` | 6 |
   | `billing_tool_without_multi_approval` | 12 | `admin_path_shares_auth` | 6 |
   | `administrative_tool_enabled` | 10 | `ssrf_prone_parameter` | 6 |
   | `upstream_credentials_not_configured` | 10 | `unbounded_string_in_request` | 6 |
   | `credentials_in_query` | 10 | `upstream_credentials_stale` | 4 |
   | `plain_http_server` | 10 | `missing_rate_limit_response` | 3 |
   | `pii_read_without_restricted_access` | 8 | `description_suspicious_text` | 3 |

   Other codes: 10 (security, governance), 6 (data validation), 3 (quality).  All quality
   deductions together are capped at 10.
3. **Bucket score** = bucket points - sum of its capped deductions, never below 0.
4. **Score** = round(security bucket + data-validation bucket).

Every deduction is listed with its code, severity, tools and points, so the score can be
checked line by line.  Offline scans assume the spec is exposed as-is (every tool enabled,
no approval policy, no restricted access); environment facts that cannot be known offline
(configured credentials and their age) are only scored when governance data is supplied.
"""


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


@dataclass
class EnvironmentFacts:
    """What the Django layer knows about one environment (dev, staging, production...)."""

    name: str
    enabled_tools: set[str] = field(default_factory=set)
    approval_policies: dict[str, str] = field(default_factory=dict)  # tool -> none | single | multi
    credentials_configured: bool = False
    credential_age_days: int | None = None
    restricted_tools: set[str] = field(default_factory=set)  # tools limited to specific roles/principals

    def approval(self, tool: str) -> str:
        kind = self.approval_policies.get(tool, "none")
        return kind if kind in ("none", "single", "multi") else "none"


@dataclass
class GovernanceFacts:
    """Governance configuration of a project, one ``EnvironmentFacts`` per environment."""

    environments: list[EnvironmentFacts] = field(default_factory=list)


@dataclass
class SpecInfo:
    """The document-level facts the findings need (built from a ``ParsedSpec``)."""

    title: str = ""
    servers: list[str] = field(default_factory=list)
    security_schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    security: list[dict[str, list[str]]] = field(default_factory=list)
    known_hosts: set[str] = field(default_factory=set)  # hosts the spec author declared

    @classmethod
    def from_parsed(cls, parsed: ParsedSpec) -> SpecInfo:
        servers = [s for s in (parsed.servers or []) if isinstance(s, str)]
        document = parsed.document if isinstance(parsed.document, Mapping) else None
        return cls(
            title=str(parsed.title or ""),
            servers=servers,
            security_schemes=dict(parsed.security_schemes or {}),
            security=list(parsed.security or []),
            known_hosts=document_hosts(document, servers),
        )


def _as_spec_info(spec_info: SpecInfo | ParsedSpec | None) -> SpecInfo:
    if isinstance(spec_info, SpecInfo):
        return spec_info
    if isinstance(spec_info, ParsedSpec):
        return SpecInfo.from_parsed(spec_info)
    return SpecInfo()


@dataclass
class ScoreResult:
    score: int
    security_score: float
    data_validation_score: float
    deductions: list[dict[str, Any]]  # {"code", "severity", "tools", "points"}
    formula: str = FORMULA_MARKDOWN


# ---------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------


def _names(tools: Iterable[str], limit: int = 5) -> str:
    tools = sorted(tools)
    shown = ", ".join(tools[:limit])
    return shown + (f" and {len(tools) - limit} more" if len(tools) > limit else "")


def _finding(
    code: str, severity: str, message: str, remediation: str, tools: Iterable[str] = (), category: str = "security"
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        message=message,
        remediation=remediation,
        tools=tuple(sorted(set(tools))),
        category=category,
    )


class _Exposure:
    """Which tools are reachable, with which approval and access, per environment."""

    def __init__(self, names: list[str], governance: GovernanceFacts | None):
        self.offline = governance is None
        if governance is None:
            self.envs = [EnvironmentFacts(name="(offline scan)", enabled_tools=set(names))]
        else:
            self.envs = list(governance.environments)

    def enabled(self) -> Iterable[tuple[EnvironmentFacts, set[str]]]:
        for env in self.envs:
            yield env, set(env.enabled_tools)


def _governance_findings(
    tools: list[ToolDef], cls: Mapping[str, Classification], governance: GovernanceFacts | None
) -> list[Finding]:
    exposure = _Exposure([t.name for t in tools], governance)
    where = "" if exposure.offline else " in {}"
    crit: dict[str, set[str]] = {}
    billing: dict[str, set[str]] = {}
    admin_bare: dict[str, set[str]] = {}
    admin_approved: dict[str, set[str]] = {}
    pii: dict[str, set[str]] = {}
    pii_sensitive: dict[str, set[str]] = {}
    for env, enabled in exposure.enabled():
        for name in sorted(enabled):
            c = cls.get(name)
            if c is None:
                continue
            approval = env.approval(name)
            if c.has(rules.CRITICAL) and approval == "none":
                crit.setdefault(name, set()).add(env.name)
            if c.side_effect and c.has(rules.BILLING) and approval != "multi":
                billing.setdefault(name, set()).add(env.name)
            if c.category == rules.ADMINISTRATIVE:
                (admin_bare if approval == "none" else admin_approved).setdefault(name, set()).add(env.name)
            response_kinds = {p["kind"] for p in c.pii if p.get("where") == "response"}
            if not c.side_effect and response_kinds and name not in env.restricted_tools:
                target = pii_sensitive if response_kinds & rules.SENSITIVE_PII_KINDS else pii
                target.setdefault(name, set()).add(env.name)

    def envs_of(group: dict[str, set[str]]) -> str:
        if exposure.offline:
            return ""
        return where.format(", ".join(sorted(set().union(*group.values()))))

    out: list[Finding] = []
    if crit:
        out.append(
            _finding(
                CRITICAL_WITHOUT_APPROVAL,
                "critical",
                f"{len(crit)} critical (destructive, irreversible or money-moving) tool(s) can run without "
                f"an approval policy{envs_of(crit)}: {_names(crit)}.",
                "Require at least a single-step human approval for every critical tool, or keep it disabled.",
                crit,
                "governance",
            )
        )
    if billing:
        out.append(
            _finding(
                BILLING_WITHOUT_MULTI_APPROVAL,
                "high",
                f"{len(billing)} billing tool(s) that change state lack a multi-step approval{envs_of(billing)}: "
                f"{_names(billing)}.",
                "Attach a multi-step (two-person) approval policy to tools that move or commit money.",
                billing,
                "governance",
            )
        )
    if admin_bare:
        out.append(
            _finding(
                ADMIN_TOOL_ENABLED,
                "high",
                f"{len(admin_bare)} administrative tool(s) are enabled without approval{envs_of(admin_bare)}: "
                f"{_names(admin_bare)}.",
                "Disable administrative tools (users, roles, credentials, org settings, legal holds) unless "
                "an agent truly needs them; otherwise require approval.",
                admin_bare,
                "governance",
            )
        )
    if admin_approved:
        out.append(
            _finding(
                ADMIN_TOOL_ENABLED,
                "low",
                f"{len(admin_approved)} administrative tool(s) are enabled behind an approval policy"
                f"{envs_of(admin_approved)}: {_names(admin_approved)}.",
                "Review periodically that agents still need these administrative tools.",
                admin_approved,
                "governance",
            )
        )
    for group, severity in ((pii_sensitive, "high"), (pii, "medium")):
        if group:
            kind = (
                "sensitive personal data (cards, bank, national ids, credentials...)"
                if severity == "high"
                else "personal data"
            )
            out.append(
                _finding(
                    PII_UNRESTRICTED,
                    severity,
                    f"{len(group)} read-only tool(s) return {kind} without restricted access{envs_of(group)}: "
                    f"{_names(group)}.",
                    "Restrict these tools to the roles that need the data, or filter the fields from the output.",
                    group,
                    "governance",
                )
            )
    if governance is not None:
        out += _environment_findings(governance)
    return out


def _environment_findings(governance: GovernanceFacts) -> list[Finding]:
    missing: list[str] = []
    stale: list[str] = []
    for env in governance.environments:
        if not env.enabled_tools:
            continue
        if not env.credentials_configured:
            missing.append(env.name)
        elif env.credential_age_days is not None and env.credential_age_days > CREDENTIAL_MAX_AGE_DAYS:
            stale.append(f"{env.name} ({env.credential_age_days} days)")
    out: list[Finding] = []
    if missing:
        out.append(
            _finding(
                CREDENTIALS_NOT_CONFIGURED,
                "high",
                f"Upstream credentials are not configured for environment(s) with enabled tools: {', '.join(missing)}.",
                "Store the upstream API credentials in the environment's vault entry; tools cannot be called safely "
                "with ad-hoc credentials.",
                (),
                "governance",
            )
        )
    if stale:
        out.append(
            _finding(
                CREDENTIALS_STALE,
                "medium",
                f"Upstream credentials older than {CREDENTIAL_MAX_AGE_DAYS} days: {', '.join(stale)}.",
                "Rotate the upstream credentials and record the rotation date.",
                (),
                "governance",
            )
        )
    return out


def _requirement_sets(tool: ToolDef) -> list[frozenset[tuple[str, frozenset[str]]]]:
    out: list[frozenset[tuple[str, frozenset[str]]]] = []
    for req in tool.security if isinstance(tool.security, list) else []:
        if isinstance(req, Mapping):
            out.append(
                frozenset(
                    (str(k), frozenset(str(s) for s in v) if isinstance(v, list) else frozenset())
                    for k, v in req.items()
                )
            )
    return out


def _unauthenticated(tool: ToolDef) -> bool:
    """No requirement, or an empty alternative ({}) that makes authentication optional."""
    reqs = _requirement_sets(tool)
    return not reqs or any(len(r) == 0 for r in reqs)


_SECRET_PARAM_WORDS = frozenset(
    {
        "apikey",
        "api_key",
        "key",
        "token",
        "access_token",
        "auth_token",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "auth",
        "authorization",
        "signature",
        "sig",
        "session",
        "sessionid",
        "session_id",
        "private_token",
        "bearer",
        "jwt",
        "refresh_token",
        "id_token",
        "code_verifier",
    }
)


def _is_secret_param(name: str) -> bool:
    low = name.lower().replace("-", "_")
    if low in _SECRET_PARAM_WORDS:
        return True
    words = rules.split_words(name)
    joined = "_".join(words)
    return joined in _SECRET_PARAM_WORDS or (
        len(words) >= 2
        and words[-1] in ("token", "secret", "password")
        and words[-2] not in ("page", "next", "continuation", "sync", "cursor", "pagination")
    )


def _admin_path(tool: ToolDef) -> bool:
    segments = [s.lower() for s in str(tool.path or "").split("/") if s and "{" not in s]
    admin_words = {"admin", "admins", "administration", "administrator", "superuser", "internal", "backoffice"}
    return any(set(rules.split_words(s)) & admin_words or s in admin_words for s in segments)


def _spec_findings(tools: list[ToolDef], cls: Mapping[str, Classification], info: SpecInfo) -> list[Finding]:
    out: list[Finding] = []
    # -- authentication ------------------------------------------------------------------
    unauth_write = [
        t.name for t in tools if _unauthenticated(t) and cls.get(t.name, None) is not None and cls[t.name].side_effect
    ]
    unauth_read = [
        t.name
        for t in tools
        if _unauthenticated(t) and cls.get(t.name, None) is not None and not cls[t.name].side_effect
    ]
    if unauth_write:
        out.append(
            _finding(
                WRITE_WITHOUT_SECURITY,
                "high",
                f"{len(unauth_write)} state-changing operation(s) declare no security requirement: "
                f"{_names(unauth_write)}.",
                "Declare a security requirement on every operation that changes state; MCPForge will refuse "
                "to call them without upstream credentials.",
                unauth_write,
            )
        )
    if unauth_read:
        out.append(
            _finding(
                READ_WITHOUT_SECURITY,
                "medium",
                f"{len(unauth_read)} read operation(s) declare no security requirement: {_names(unauth_read)}.",
                "Declare the security requirement (or document that the data is public).",
                unauth_read,
            )
        )
    if not info.security_schemes and tools and all(_unauthenticated(t) for t in tools):
        out.append(
            _finding(
                AUTH_UNDOCUMENTED,
                "medium",
                "The spec declares no security scheme, so it does not document how to authenticate upstream.",
                "Add components.securitySchemes and security requirements describing the upstream credentials.",
                (),
                "security",
            )
        )
    # -- schemes the gateway cannot send -------------------------------------------------------
    unusable = {}
    for name, scheme in info.security_schemes.items():
        if isinstance(scheme, Mapping) and not (described := describe_scheme(str(name), scheme)).supported:
            unusable[str(name)] = described.note or f"Scheme '{name}' is not supported."
    if unusable:
        # a tool is stuck when every alternative it offers needs one of them (none is anonymous)
        stuck = [
            t.name
            for t in tools
            if (reqs := _requirement_sets(t))
            and all(any(scheme in unusable for scheme, _ in req) for req in reqs)
        ]
        if stuck:
            out.append(
                _finding(
                    AUTH_UNUSABLE,
                    "medium",
                    f"The gateway cannot send the credentials of {len(unusable)} security scheme(s) "
                    f"({' '.join(unusable[n] for n in sorted(unusable)[:2])}), so {len(stuck)} tool(s) that need "
                    f"them cannot be called: {_names(stuck)}.",
                    "Describe the credential where an HTTP request can carry it (an API key in a valid header name "
                    "the gateway does not set itself, a query parameter or a cookie; HTTP bearer or basic; OAuth2).",
                    stuck,
                )
            )
    # -- credentials in URLs ----------------------------------------------------------------
    query_schemes = {
        name
        for name, scheme in info.security_schemes.items()
        if isinstance(scheme, Mapping) and scheme.get("type") == "apiKey" and scheme.get("in") == "query"
    }
    in_query: dict[str, list[str]] = {}
    for tool in tools:
        for req in _requirement_sets(tool):
            for scheme, _ in req:
                if scheme in query_schemes:
                    in_query.setdefault(tool.name, []).append(f"security scheme '{scheme}'")
        for param in tool.parameters if isinstance(tool.parameters, list) else []:
            location = getattr(param, "location", "")
            if location in ("query", "path") and _is_secret_param(str(getattr(param, "name", ""))):
                in_query.setdefault(tool.name, []).append(f"{location} parameter '{param.name}'")
    if in_query:
        detail = sorted({d for ds in in_query.values() for d in ds})
        out.append(
            _finding(
                CREDENTIALS_IN_QUERY,
                "high",
                f"Credentials travel in the URL ({', '.join(detail[:4])}) for {len(in_query)} tool(s): "
                f"{_names(in_query)}.  URLs end up in logs, proxies and browser history.",
                "Move API keys and tokens to a header (Authorization or a custom header) and passwords to the body.",
                in_query,
            )
        )
    # -- transport --------------------------------------------------------------------------
    plain = [
        s
        for s in info.servers
        if isinstance(s, str)
        and s.lower().startswith("http://")
        and not any(h in s.lower() for h in ("localhost", "127.0.0.1", "[::1]"))
    ]
    if plain:
        out.append(
            _finding(
                PLAIN_HTTP,
                "high",
                f"Server(s) use plain HTTP: {', '.join(plain[:3])}.  Credentials and data would travel unencrypted.",
                "Serve the API over HTTPS only and update the servers list.",
                (),
            )
        )
    # -- admin paths sharing auth -----------------------------------------------------------
    admin_tools = [t for t in tools if _admin_path(t)]
    normal_reqs = {r for t in tools if not _admin_path(t) for r in _requirement_sets(t) if r}
    shared = [t.name for t in admin_tools if _requirement_sets(t) and set(_requirement_sets(t)) <= normal_reqs]
    if shared:
        out.append(
            _finding(
                ADMIN_PATH_SHARED_AUTH,
                "medium",
                f"{len(shared)} /admin operation(s) accept exactly the credentials and scopes of ordinary "
                f"operations: {_names(shared)}.",
                "Protect admin paths with a separate scheme or a dedicated admin scope.",
                shared,
            )
        )
    # -- SSRF -------------------------------------------------------------------------------
    ssrf: dict[str, list[str]] = {}
    for tool in tools:
        props = tool.input_schema.get("properties") if isinstance(tool.input_schema, Mapping) else None
        if isinstance(props, Mapping):
            for name, schema in props.items():
                if rules.is_url_param(str(name), schema if isinstance(schema, dict) else None):
                    ssrf.setdefault(tool.name, []).append(str(name))
    if ssrf:
        params = sorted({p for ps in ssrf.values() for p in ps})
        out.append(
            _finding(
                SSRF_PARAMETER,
                "medium",
                f"{len(ssrf)} tool(s) take URLs the upstream will fetch or call back ({', '.join(params[:5])}"
                f"{'...' if len(params) > 5 else ''}): {_names(ssrf)}.  An agent can be steered to internal hosts "
                "or attacker-controlled endpoints.",
                "Constrain URL arguments with an allowlist (MCPForge argument policy) or pattern in the spec.",
                ssrf,
            )
        )
    # -- rate limits ------------------------------------------------------------------------
    no_429 = [
        t.name
        for t in tools
        if not any(
            str(code) in ("429", "4XX", "4xx") for code in (t.responses if isinstance(t.responses, Mapping) else {})
        )
    ]
    if no_429:
        out.append(
            _finding(
                NO_RATE_LIMIT,
                "low",
                f"{len(no_429)} of {len(tools)} operation(s) document no 429 (rate limit) response: {_names(no_429)}.",
                "Document 429 responses (with Retry-After) so agents and the gateway can back off.",
                no_429,
            )
        )
    return out


def _poisoning_findings(
    tools: list[ToolDef], info: SpecInfo, scanned: Mapping[str, list[tuple[str, bool]]] | None = None
) -> list[Finding]:
    scanner = PoisoningScanner(
        tool_names=[t.name for t in tools], known_hosts=info.known_hosts or set(document_hosts(None, info.servers))
    )
    out: list[Finding] = []
    weak: dict[str, list[str]] = {}
    for tool in tools:
        found = scanned.get(tool.name, []) if scanned is not None else scanner.scan_tool_detailed(tool)
        strong = [r for r, is_strong in found if is_strong]
        if strong:
            out.append(
                _finding(
                    DESCRIPTION_POISONING,
                    "high",
                    f"Tool '{tool.name}' carries text aimed at the model: {'; '.join(strong[:3])}"
                    f"{' ...' if len(strong) > 3 else ''}.",
                    "Remove the instructions from the spec (or override the description in MCPForge) and find out "
                    "who changed the document.",
                    (tool.name,),
                )
            )
        elif found:
            weak[tool.name] = [r for r, _ in found]
    if weak:
        sample = next(iter(weak.values()))[0]
        out.append(
            _finding(
                SUSPICIOUS_DESCRIPTION,
                "low",
                f"{len(weak)} tool description(s) contain encoded blobs or links to hosts outside the API "
                f"(e.g. {sample}): {_names(weak)}.",
                "Check the links and blobs are legitimate documentation; override the description if not.",
                weak,
            )
        )
    return out


_BOUNDED_FORMATS = frozenset(
    {"date", "date-time", "time", "uuid", "email", "ipv4", "ipv6", "hostname", "duration", "int32", "int64"}
)


def _request_bounds(tool: ToolDef) -> tuple[list[str], list[str]]:
    """Unbounded arrays and strings the agent can send (input schema, nested up to depth 4)."""
    arrays: list[str] = []
    strings: list[str] = []
    schema = tool.input_schema if isinstance(tool.input_schema, Mapping) else None
    if not schema:
        return arrays, strings
    for visit in iter_fields(schema, max_depth=4, max_nodes=800):
        node = visit.schema
        types = schema_types(node)
        if "array" in types and "maxItems" not in node:
            arrays.append(visit.path)
        elif types == {"string"} or types == {"string", "null"}:
            bounded = (
                any(k in node for k in ("maxLength", "enum", "const", "pattern"))
                or node.get("format") in _BOUNDED_FORMATS
                or node.get("contentEncoding")
                or node.get("format") == "binary"
            )
            if not bounded:
                strings.append(visit.path)
    return arrays, strings


def _validation_findings(tools: list[ToolDef]) -> list[Finding]:
    arrays: dict[str, list[str]] = {}
    strings: dict[str, list[str]] = {}
    for tool in tools:
        a, s = _request_bounds(tool)
        if a:
            arrays[tool.name] = a
        if s:
            strings[tool.name] = s
    out: list[Finding] = []
    if arrays:
        example = next(iter(arrays.items()))
        out.append(
            _finding(
                UNBOUNDED_ARRAY,
                "medium",
                f"{len(arrays)} tool(s) accept arrays without maxItems "
                f"(e.g. {example[0]}: {', '.join(example[1][:3])}).",
                "Add maxItems to request arrays so an agent cannot send unbounded batches.",
                arrays,
                "data_validation",
            )
        )
    if strings:
        example = next(iter(strings.items()))
        out.append(
            _finding(
                UNBOUNDED_STRING,
                "low",
                f"{len(strings)} tool(s) accept strings without maxLength, pattern, enum or format (e.g. "
                f"{example[0]}: {', '.join(example[1][:3])}).",
                "Add maxLength (or a pattern/enum) to request strings.",
                strings,
                "data_validation",
            )
        )
    return out


def security_findings(
    tools: Sequence[ToolDef],
    classifications: Mapping[str, Classification],
    spec_info: SpecInfo | ParsedSpec | None,
    governance: GovernanceFacts | None = None,
    poisoning: Mapping[str, list[tuple[str, bool]]] | None = None,
) -> list[Finding]:
    """Every security, governance and data-validation finding for a spec's tools.

    ``governance=None`` is an offline scan (see module docstring for what is assumed).
    ``poisoning``: an already computed ``poisoning.scan_tools_detailed`` result, so a caller
    that also stores per-tool reasons scans the text once.
    """
    tools = list(tools)
    info = _as_spec_info(spec_info)
    findings = _governance_findings(tools, classifications, governance)
    findings += _spec_findings(tools, classifications, info)
    findings += _poisoning_findings(tools, info, poisoning)
    findings += _validation_findings(tools)
    return sort_findings(findings)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by code."""
    return sorted(findings, key=lambda f: (-_severity_rank(f.severity), f.code, f.tools))


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


# ---------------------------------------------------------------------------
# Score
# ---------------------------------------------------------------------------


def finding_points(finding: Finding, classifications: Mapping[str, Classification]) -> float:
    """Uncapped points of one finding: S[severity] x R[riskiest tool] x B(n) x W[category]."""
    severity = SEVERITY_POINTS.get(finding.severity, 0.0)
    levels = [classifications[t].risk_level for t in finding.tools if t in classifications]
    risk = max((RISK_MULTIPLIER.get(level, 1.0) for level in levels), default=1.0)
    n = max(1, len(finding.tools))
    breadth = 1.0 + math.log2(n)
    weight = CATEGORY_WEIGHT.get(finding.category, 1.0)
    return severity * risk * breadth * weight


def compute_score(findings: Iterable[Finding], classifications: Mapping[str, Classification]) -> ScoreResult:
    """Score findings per ``FORMULA_MARKDOWN``; ``deductions`` lists each code's capped points."""
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    deductions: list[dict[str, Any]] = []
    spent = {bucket: 0.0 for bucket in BUCKET_MAX}
    quality_spent = 0.0
    for code, group in by_code.items():
        category = group[0].category if group[0].category in CATEGORY_BUCKET else "quality"
        bucket = CATEGORY_BUCKET[category]
        cap = CODE_CAP.get(code, DEFAULT_CODE_CAP[category])
        points = min(cap, sum(finding_points(f, classifications) for f in group))
        if category == "quality":
            points = min(points, max(0.0, QUALITY_TOTAL_CAP - quality_spent))
            quality_spent += points
        spent[bucket] += points
        severity = max((f.severity for f in group), key=_severity_rank)
        tools = sorted({t for f in group for t in f.tools})
        deductions.append({"code": code, "severity": severity, "tools": tools, "points": round(points, 2)})
    deductions.sort(key=lambda d: (-d["points"], d["code"]))
    security = max(0.0, BUCKET_MAX["security"] - spent["security"])
    validation = max(0.0, BUCKET_MAX["data_validation"] - spent["data_validation"])
    return ScoreResult(
        score=int(round(security + validation)),
        security_score=round(security, 2),
        data_validation_score=round(validation, 2),
        deductions=deductions,
    )
