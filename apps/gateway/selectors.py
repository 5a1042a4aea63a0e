"""Reads of the MCP gateway: who is calling which endpoint, and what they may see there.

Every function here runs in a gateway database thread (see server.py), once per MCP request.
Permissions are never decided here: ``apps.governance.selectors`` (callable_tools, decide,
approval_requirement, has_approval) is the single source of truth the policy simulator
also uses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import Lock
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from apps.accounts import tokens
from apps.accounts.models import ApiToken, Membership, Organization, Team
from apps.accounts.services import LAST_USED_RESOLUTION
from apps.core.errors import DomainError
from apps.core.request_context import RequestContext
from apps.governance import grants, rules
from apps.governance import selectors as governance
from apps.inventory import listing as listing_modes
from apps.inventory.listing import ToolsetView
from apps.inventory.models import Tool
from apps.projects.models import Environment, Project

from . import conf, results, snapshot
from .results import APPROVAL_KEY, BUILTIN_DESCRIBE_TOOL, BUILTIN_STATUS_TOOL

T = TypeVar("T")

# The structured result of a call held for approval (and of mcpforge_approval_status).
APPROVAL_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string", "description": "Approval request id"},
        "status": {
            "type": "string",
            "enum": ["pending", "approved", "executing", "rejected", "expired", "executed", "failed"],
        },
        "tool": {"type": "string"},
    },
    "required": ["request_id", "status"],
}

BUILTIN_STATUS_DEFINITION: dict[str, Any] = {
    "name": BUILTIN_STATUS_TOOL,
    "description": (
        "Check a tool call that MCPForge held for human approval: pass the request_id the held call "
        "returned. Answers pending, approved, rejected, expired, or executed with the upstream result."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {"request_id": {"type": "string", "description": "The id returned by the held call"}},
        "required": ["request_id"],
        "additionalProperties": False,
    },
    "outputSchema": APPROVAL_STATUS_SCHEMA,
    "annotations": {"title": "Approval status", "readOnlyHint": True, "destructiveHint": False,
                    "idempotentHint": True, "openWorldHint": False},
}


BUILTIN_DESCRIBE_DEFINITION: dict[str, Any] = {
    "name": BUILTIN_DESCRIBE_TOOL,
    "description": (
        "The full definition (complete inputSchema and outputSchema) of one tool listed here. Listed "
        "schemas are compact: where a field says 'call mcpforge_describe_tool for its fields', ask here."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {"name": {"type": "string", "description": "A tool name from tools/list"}},
        "required": ["name"],
        "additionalProperties": False,
    },
    "annotations": {"title": "Describe a tool", "readOnlyHint": True, "destructiveHint": False,
                    "idempotentHint": True, "openWorldHint": False},
}


class GatewayRefusal(Exception):
    """The HTTP request is refused before MCP handling (401/403/404).

    ``audit_token`` is set when a known token was refused (revoked, expired, membership gone):
    that attempt is worth an audit event in the token's organization."""

    def __init__(self, status: int, message: str, *, error: str = "", audit_token: ApiToken | None = None,
                 reason: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.audit_token = audit_token
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one MCP request and the endpoint it addressed.

    ``subject`` (role and teams, read live) is what governance decides on; ``snapshot_key``
    names the project's cached governance for the config version read with the token."""

    token: ApiToken
    role: str
    environment: Environment
    subject: grants.Subject
    snapshot_key: snapshot.SnapshotKey
    context: RequestContext = field(default_factory=RequestContext)
    # the toolset endpoint addressed (``…/toolsets/<slug>/``), None for the environment's own
    toolset: ToolsetView | None = None

    @property
    def user(self):
        return self.token.user

    @property
    def organization(self):
        return self.environment.organization

    @property
    def project(self):
        return self.environment.project

    @property
    def environment_ref(self) -> rules.EnvironmentRef:
        return governance.environment_ref(self.environment)

    def snapshot(self) -> snapshot.ProjectSnapshot:
        return snapshot.snapshots.get(self.snapshot_key)

    @property
    def listing(self) -> tuple[bool, str]:
        """(compact, mode) this endpoint serves: the toolset's switches, else the environment's,
        else ``MCP_COMPACT_TOOLS`` and a full listing (apps/inventory/listing.py)."""
        toolset = self.toolset
        return listing_modes.effective(
            global_compact=compact_listing(), env_compact=self.environment.compact_tools,
            env_mode=self.environment.listing_mode,
            toolset_compact=toolset.compact_tools if toolset else None,
            toolset_mode=toolset.listing_mode if toolset else listing_modes.INHERIT)

    @property
    def search_first(self) -> bool:
        return self.listing[1] == listing_modes.SEARCH_FIRST

    def in_toolset(self, name: str) -> bool:
        """Whether this endpoint may serve the tool ``name`` (always, outside a toolset)."""
        return self.toolset is None or name in self.toolset.tool_names


class _Columns:
    """The concrete columns of a model as ``alias."column"`` SQL and a row-to-instance loader
    (``Model.from_db``, as the ORM builds instances from a row)."""

    def __init__(self, model, alias: str, only: tuple[str, ...] | None = None):
        fields = [f for f in model._meta.concrete_fields if only is None or f.attname in only]
        if any(f.get_internal_type() == "JSONField" for f in fields):
            raise TypeError(f"{model.__name__}: JSON columns need the field converters; load them with the ORM")
        self.model, self.count = model, len(fields)
        self.names = [f.attname for f in fields]
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in fields)

    def load(self, row: tuple, start: int):
        return self.model.from_db("default", self.names, list(row[start:start + self.count]))


@dataclass(frozen=True)
class _CallerQuery:
    sql: str
    token: _Columns
    user: _Columns
    organization: _Columns
    project: _Columns
    environment: _Columns

    @property
    def fingerprinted_sql(self) -> str:
        """``sql`` with one more column: the organization's caller epoch (gateway migration
        0001), read in the same snapshot as the row. Same parameters as ``sql``."""
        return self.sql.replace(_EPOCH_SLOT, f", {_EPOCH_COLUMN}")

    def fingerprint(self, row: tuple) -> CallerFingerprint:
        """The ``CallerFingerprint`` of a row of ``fingerprinted_sql`` (of a found caller)."""
        at = self.token.count + self.user.count + self.organization.count
        return CallerFingerprint(organization_id=row[self.token.names.index("organization_id")],
                                 project_id=row[at + self.project.names.index("id")],
                                 epoch=row[-1], version=row[-2])


# The caller's epoch, as the last column of the fingerprinted caller query (a missing row is 0).
_EPOCH_SLOT = "/* epoch */"
_EPOCH_COLUMN = ("COALESCE((SELECT ce.epoch FROM gateway_callerepoch ce "
                       "WHERE ce.organization_id = t.organization_id), 0)")


@dataclass(frozen=True)
class CallerFingerprint:
    """What must be unchanged for a cached ``Caller`` to still be the caller: its organization's
    caller epoch (bumped by triggers on every change to tokens, users, memberships, teams,
    the organization, its projects and environments: gateway migration 0001) and its project's
    config version (governance migration 0002)."""

    organization_id: int
    project_id: int
    epoch: int
    version: int

    def unchanged_params(self) -> list[int]:
        """The parameters of ``CALLER_UNCHANGED_SOURCE`` for this fingerprint."""
        return [self.organization_id, self.project_id, self.epoch, self.version]


# A FROM source for ``apps.audit.services.append_where_sql``: one row if the epoch and the
# version of a ``CallerFingerprint`` are still current. Two primary-key reads, where re-running
# the caller query and comparing an md5 of its row cost about as much as the audit append.
CALLER_UNCHANGED_SOURCE = (
    "(SELECT COALESCE((SELECT ce.epoch FROM gateway_callerepoch ce WHERE ce.organization_id = %s), 0) AS epoch, "
    "COALESCE((SELECT cv.version FROM governance_configversion cv WHERE cv.project_id = %s), 0) AS version) f "
    "WHERE f.epoch = %s AND f.version = %s"
)


_CALLER_QUERY: _CallerQuery | None = None


def caller_query() -> _CallerQuery:
    """One statement: the token by digest with its user, the user's role and team ids in the
    token's organization, the addressed environment with its project and organization (only
    within the token's organization), and the project's config version. Parameters: org,
    project and environment slugs, token digest. The gateway runs it as a server-side
    prepared statement (its planning costs ten times its execution)."""
    global _CALLER_QUERY
    if _CALLER_QUERY is None:
        user_model = get_user_model()
        token = _Columns(ApiToken, "t")
        user = _Columns(user_model, "u", only=("id", "username", "email", "is_active"))
        org = _Columns(Organization, "o")
        project = _Columns(Project, "p")
        environment = _Columns(Environment, "e")
        team_members = Team.members.through._meta.db_table
        # Only model metadata is interpolated (table and column names); values are parameters.
        sql = f"""
            SELECT {token.sql}, {user.sql}, {org.sql}, {project.sql}, {environment.sql},
                   m.role,
                   ARRAY(SELECT tm.team_id FROM {team_members} tm JOIN {Team._meta.db_table} tt ON tt.id = tm.team_id
                         WHERE tm.user_id = t.user_id AND tt.organization_id = t.organization_id) AS team_ids,
                   COALESCE(cv.version, 0) {_EPOCH_SLOT}
            FROM {ApiToken._meta.db_table} t
            JOIN {user_model._meta.db_table} u ON u.id = t.user_id
            JOIN {Organization._meta.db_table} o ON o.id = t.organization_id
            LEFT JOIN {Membership._meta.db_table} m ON m.organization_id = t.organization_id AND m.user_id = t.user_id
            LEFT JOIN {Project._meta.db_table} p ON p.organization_id = o.id AND o.slug = %s AND p.slug = %s
            LEFT JOIN {Environment._meta.db_table} e ON e.project_id = p.id AND e.slug = %s
            LEFT JOIN governance_configversion cv ON cv.project_id = p.id
            WHERE t.digest = %s
        """  # noqa: S608
        _CALLER_QUERY = _CallerQuery(sql, token, user, org, project, environment)
    return _CALLER_QUERY


TOUCH_SQL = f"UPDATE {ApiToken._meta.db_table} SET last_used_at = %s WHERE id = %s RETURNING id"  # noqa: S608

TOKEN_MESSAGES = {
    "revoked": "This API token was revoked.",
    "expired": "This API token has expired.",
    "user_inactive": "The account of this API token is deactivated.",
}


def caller_params(*, raw_token: str, org_slug: str, project_slug: str, env_slug: str) -> list[str]:
    """The parameters of ``caller_query`` for this request; refuses a missing or malformed
    token before any query."""
    if not raw_token:
        raise GatewayRefusal(401, "Send an MCPForge API token: Authorization: Bearer mcpf_…")
    if not tokens.looks_like_token(raw_token):
        raise GatewayRefusal(401, "This API token is not valid.", error="invalid_token", reason="token_malformed")
    return [org_slug, project_slug, env_slug, tokens.digest(raw_token)]


def token_from_row(row: tuple | None, raw_token: str) -> ApiToken:
    """The active token of ``caller_query``'s row (with user and organization), or a 401
    ``GatewayRefusal`` (auditable when the token is one of ours)."""
    query = caller_query()
    if row is None or not tokens.matches(raw_token, row[query.token.names.index("digest")]):
        raise GatewayRefusal(401, "This API token is not valid.", error="invalid_token", reason="token_unknown")
    token = query.token.load(row, 0)
    token.user = query.user.load(row, query.token.count)
    token.organization = query.organization.load(row, query.token.count + query.user.count)
    reason = ("revoked" if token.revoked_at is not None else "user_inactive" if not token.user.is_active
              else "expired" if not token.is_active else "")
    if reason:
        raise GatewayRefusal(401, TOKEN_MESSAGES[reason], error="invalid_token", audit_token=token,
                             reason=f"token_{reason}")
    return token


def touch_due(token: ApiToken, now) -> bool:
    """Whether ``last_used_at`` should be written (at most once a minute per token)."""
    return token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION


def caller_from_row(row: tuple, token: ApiToken) -> Caller:
    """The ``Caller`` of ``caller_query``'s row for an active ``token``; 404 when the address
    names no environment of the token's organization, 403 for a former member."""
    query = caller_query()
    at = query.token.count + query.user.count + query.organization.count
    if row[at + query.project.count] is None:  # no environment at this address in the token's organization
        raise GatewayRefusal(404, "No MCP endpoint at this address for your token's organization.")
    role, team_ids, version = row[-3], row[-2], row[-1]
    if role is None:
        raise GatewayRefusal(403, "The owner of this token is no longer a member of the organization.",
                             error="insufficient_scope", audit_token=token, reason="not_a_member")
    project = query.project.load(row, at)
    environment = query.environment.load(row, at + query.project.count)
    project.organization = token.organization
    environment.project = project
    environment.organization = token.organization
    user = token.user
    subject = grants.Subject(user_id=str(user.pk), role=role, team_ids=frozenset(str(t) for t in team_ids),
                             label=user.email or user.get_username())
    key = snapshot.SnapshotKey(project_id=project.pk, project_public_id=str(project.public_id), version=version)
    return Caller(token=token, role=role, environment=environment, subject=subject, snapshot_key=key)


def caller_resolve(*, raw_token: str, org_slug: str, project_slug: str, env_slug: str) -> Caller:
    """Authenticate the bearer token and resolve the endpoint's environment with the caller's
    role and teams there, through Django's connection: one query (plus the token's last-used
    touch, once a minute). The gateway runs the same statements on its asynchronous pool
    (db.py). The token is bound to one organization: it only opens endpoints of that
    organization (others answer 404, as for any non-member). Raises ``GatewayRefusal``."""
    params = caller_params(raw_token=raw_token, org_slug=org_slug, project_slug=project_slug, env_slug=env_slug)
    with connection.cursor() as cursor:
        cursor.execute(caller_query().sql, params)
        row = cursor.fetchone()
    token = token_from_row(row, raw_token)
    now = timezone.now()
    if touch_due(token, now):
        with connection.cursor() as cursor:
            cursor.execute(TOUCH_SQL, [now, token.pk])
        token.last_used_at = now
    return caller_from_row(row, token)


# --------------------------------------------------------------------------- tools/list


def approval_aware_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` widened so a result held for approval (``{"mcpforge_approval": {...}}``) also
    validates: clients check structuredContent of non-error results against outputSchema, and
    "pending approval" is a non-error result. ``$defs`` stay at the root so refs resolve."""
    inner = {k: v for k, v in schema.items() if k != "$defs"}
    widened: dict[str, Any] = {
        "type": "object",
        "anyOf": [
            inner,
            {"type": "object", "properties": {APPROVAL_KEY: APPROVAL_STATUS_SCHEMA}, "required": [APPROVAL_KEY]},
        ],
    }
    if "$defs" in schema:
        widened["$defs"] = schema["$defs"]
    return widened


# Definitions by (tool pk, updated_at): a tool row's listing never changes without its
# updated_at changing, and building 300 definitions (or loading their schemas) per tools/list
# is the expensive part of a large inventory.
_DEFINITION_FIELDS = ("name", "description", "input_schema", "output_schema", "annotations", "updated_at")
_DEFINITION_CACHE_SIZE = 20_000
# keyed by (pk, updated_at, 0 for the stored definition or the compact token budget)
_definitions: OrderedDict[tuple[int, Any, int], dict[str, Any]] = OrderedDict()
_definitions_lock = Lock()
# (pk, updated_at) of compact definitions that summarise a sub-schema (they point at the describe tool)
_summarised: set[tuple[int, Any]] = set()


def _compact(definition: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The compact definition, and whether it summarised anything (then it names the describe tool)."""
    from apps.inventory.compact import DESCRIBE_HINT, compact_definition
    from apps.inventory.tokens import definition_tokens

    out = compact_definition(definition, budget=conf.get_int("MCP_TOOL_TOKEN_BUDGET"), count=definition_tokens)
    return out, DESCRIBE_HINT in json.dumps(out["inputSchema"], ensure_ascii=False)


def compact_listing() -> bool:
    return conf.get_int("MCP_COMPACT_TOOLS") != 0


def _definitions_of(tools: list, *, compact: bool = False) -> list[dict[str, Any]]:
    """``Tool.mcp_definition()`` of each tool (compacted when ``compact``: the listing layer,
    stored definitions are never changed), from the cache when possible. If the tools were
    loaded without their schemas (deferred fields), the missing ones come in one query."""
    found: dict[int, dict[str, Any]] = {}
    variant = max(1, conf.get_int("MCP_TOOL_TOKEN_BUDGET")) if compact else 0
    with _definitions_lock:
        for tool in tools:
            cached = _definitions.get((tool.pk, tool.updated_at, variant))
            if cached is not None:
                found[tool.pk] = cached
    missing = [tool for tool in tools if tool.pk not in found]
    if missing:
        deferred = [t.pk for t in missing if set(_DEFINITION_FIELDS) & t.get_deferred_fields()]
        if deferred:
            rows = Tool.objects.filter(pk__in=deferred).only(*_DEFINITION_FIELDS).in_bulk()
            missing = [rows.get(t.pk, t) for t in missing]
        built = {}
        summarised = set()
        for tool in missing:
            definition = tool.mcp_definition()
            if compact:
                definition, pointer = _compact(definition)
                if pointer:
                    summarised.add((tool.pk, tool.updated_at))
            built[tool.pk] = (tool.updated_at, definition)
        with _definitions_lock:
            if len(_summarised) > _DEFINITION_CACHE_SIZE:
                _summarised.clear()  # rebuilt as definitions are rebuilt; only decides the describe tool
            _summarised.update(summarised)
            for pk, (updated_at, definition) in built.items():
                _definitions[(pk, updated_at, variant)] = definition
                found[pk] = definition
            while len(_definitions) > _DEFINITION_CACHE_SIZE:
                _definitions.popitem(last=False)
    return [found[tool.pk] for tool in tools]


def tool_definitions(caller: Caller, *, compact: bool | None = None) -> list[dict[str, Any]]:
    """What tools/list shows this caller here: the built-in status tool (and, in a compact
    listing where a definition was summarised, the describe tool), then every tool governance
    says they may call (enabled and granted), in document order. No query while the project's
    snapshot is warm (rules, tool list and definitions cached). ``compact`` defaults to the
    endpoint's switch (``Caller.listing``); at a toolset endpoint only the toolset's tools."""
    compact = caller.listing[0] if compact is None else compact
    snap = caller.snapshot()
    return listing_memo(caller, _listing_key(caller, compact), lambda: _build_definitions(caller, snap, compact),
                        snap=snap)


def _listing_key(caller: Caller, compact: bool) -> tuple:
    # The answer depends only on the snapshot (config version: rules, tools, toolsets), the
    # caller's subject and environment, the toolset and the definition variant: cached per
    # snapshot on that key (a toolset change bumps the version, toolsets migration 0001).
    return (caller.subject, caller.environment_ref, caller.toolset.slug if caller.toolset else None, compact,
            conf.get_int("MCP_TOOL_TOKEN_BUDGET") if compact else 0)


def listing_memo(caller: Caller, key: tuple, build: Callable[[], T], *, snap=None) -> T:
    """``build()``, cached in the caller's project snapshot under ``key``: what is derived
    from a listing (the listing itself, its pages on the wire) lives and dies with it."""
    snap = caller.snapshot() if snap is None else snap
    cached = snap.listings.get(key)
    if cached is not None:
        return cached
    value = build()
    with snap.lock:
        if len(snap.listings) >= snapshot.MAX_LISTINGS_PER_PROJECT:
            snap.listings.clear()
        snap.listings[key] = value
    return value


def wire_page_key(caller: Caller, offset: int, page_size: int, version: str) -> tuple:
    """The ``listing_memo`` key of one tools/list page of the caller's listing (the
    endpoint's definition variant, as ``tool_definitions`` serves it) encoded for ``version``."""
    return ("wire", _listing_key(caller, caller.listing[0]), offset, page_size, version)


def _build_definitions(caller: Caller, snap, compact: bool) -> list[dict[str, Any]]:
    project_rules = snapshot.project_rules(snap)
    # each environment serves the definitions an admin enabled there (pinned), not a re-import's
    served = snapshot.served_listing(snapshot.pins(snap, caller.environment.pk), snapshot.listing(snap, caller.project))
    if caller.toolset is not None:
        served = [tool for tool in served if tool.name in caller.toolset.tool_names]
    tools = rules.callable_tools(project_rules, caller.subject, served, caller.environment_ref)
    definitions: list[dict[str, Any]] = [BUILTIN_STATUS_DEFINITION]
    if not tools:
        return definitions
    policies = project_rules.policies
    env_id = caller.environment.pk
    built = _definitions_of(tools, compact=compact)
    # a compact definition that summarised nesting points at the describe tool: list it then
    if compact and any((tool.pk, tool.updated_at) in _summarised for tool in tools):
        definitions.append(BUILTIN_DESCRIBE_DEFINITION)
    for tool, cached in zip(tools, built, strict=True):
        if cached.get("outputSchema") and policies and rules.has_approval(policies, rules.tool_ref(tool), env_id):
            cached = {**cached, "outputSchema": approval_aware_output_schema(cached["outputSchema"])}
        definitions.append(cached)  # shared, never mutated: cached schemas are read-only
    return definitions


def search_entries(caller: Caller) -> list[dict[str, Any]]:
    """What ``mcpforge_search_tools`` searches: the tools this caller may list here (the same
    governance filter as tools/list), with name, description, category and tags."""
    snap = caller.snapshot()
    listed = snapshot.listing(snap, caller.project)
    if caller.toolset is not None:
        listed = [tool for tool in listed if tool.name in caller.toolset.tool_names]
    tools = rules.callable_tools(snapshot.project_rules(snap), caller.subject, listed, caller.environment_ref)
    return [{"name": definition["name"], "description": definition.get("description") or "",
             "category": tool.category, "category_tags": list(tool.category_tags or ()), "tags": list(tool.tags or ())}
            for tool, definition in zip(tools, _definitions_of(tools), strict=True)]


def describe_tool(caller: Caller, name: str) -> dict[str, Any]:
    """``mcpforge_describe_tool``: the full definition of a tool this caller may list here,
    found in the caller's own full listing, so a tool they could not list (unknown, disabled,
    not granted) gets the same answer as one that does not exist."""
    for definition in tool_definitions(caller, compact=False):
        if definition["name"] == name:
            return results.text_result(json.dumps(definition, ensure_ascii=False), structured=definition)
    return results.error_result(f"No tool called {name[:64]!r} is available to you here.")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """Offset from an opaque tools/list cursor; ValueError if it is not one of ours."""
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValueError("invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise ValueError("invalid cursor")
    return offset


def page_of(definitions: list[dict[str, Any]], cursor: str | None, page_size: int) -> dict[str, Any]:
    """One tools/list page: ``{"tools": [...], "nextCursor": ...}``. Raises ValueError on a bad cursor."""
    offset = decode_cursor(cursor)
    page = definitions[offset:offset + page_size]
    # Per-caller answer: private; immediately stale unless the caller sets a ttl (listing_ttl_ms).
    result: dict[str, Any] = {"tools": page, "ttlMs": 0, "cacheScope": "private", "resultType": "complete"}
    if offset + page_size < len(definitions):
        result["nextCursor"] = encode_cursor(offset + page_size)
    return result


def listing_ttl_ms(caller: Caller, *, ttl_seconds: int, now=None) -> int:
    """The ``ttlMs`` of a tools/list answer (2026-07-28; older protocol revisions have no such
    field and the SDK leaves it out for them). The answer is the one cached in the project
    snapshot for this caller, and the snapshot holds while the project's config version does:
    no date is known for the next change, so the client may reuse the list for
    ``MCP_TOOLS_LIST_TTL_SECONDS`` at most, and never past the token's expiry (an OAuth
    access token lives minutes). A change inside that window is still enforced on the very
    next tools/call, which is decided live; a stale list only shows a tool that is refused."""
    ttl_ms = max(0, ttl_seconds) * 1000
    expires_at = getattr(caller.token, "expires_at", None)
    if expires_at is not None:
        remaining = (expires_at - (now or timezone.now())).total_seconds()
        ttl_ms = min(ttl_ms, max(0, int(remaining * 1000)))
    return ttl_ms


def tool_for_call(caller: Caller, name: str):
    """The tool ``name`` as the endpoint's environment serves it (the current inventory, or
    the definition pinned there while a re-import's change awaits review), or None. No query
    once the tool was called in this config version."""
    snap = caller.snapshot()
    env_pins = snapshot.pins(snap, caller.environment.pk)
    pinned = snapshot.served_tool(env_pins, name, None)
    if pinned is not None:
        return pinned
    return snapshot.served_tool(env_pins, name, snapshot.tool(snap, caller.project, name))


# --------------------------------------------------------------------------- held calls


def approval_status(*, caller: Caller, request_id: str) -> dict[str, Any]:
    """``mcpforge_approval_status``: the approvals selector's answer as a tool result."""
    from apps.approvals.selectors import request_status_for

    try:
        status = request_status_for(caller.user, request_id, organization_id=caller.organization.pk,
                                    environment_id=caller.environment.pk)
    except DomainError as exc:
        return results.error_result(exc.message)
    return results.status_result(status)


def approval_outcome(*, caller: Caller, request_id: str) -> dict[str, Any] | None:
    """While an agent waits on a held call: its final result once decided, else None."""
    from apps.approvals.selectors import request_status_for

    try:
        status = request_status_for(caller.user, request_id, organization_id=caller.organization.pk,
                                    environment_id=caller.environment.pk)
    except DomainError as exc:
        return results.error_result(exc.message)
    return results.decided_result(status)
