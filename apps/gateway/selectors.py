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
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from django.db.models import OuterRef, Subquery

from apps.accounts import tokens
from apps.accounts.models import ApiToken, Membership
from apps.accounts.services import token_authenticate
from apps.core.errors import DomainError
from apps.core.request_context import RequestContext
from apps.governance import selectors as governance
from apps.inventory.models import Tool
from apps.inventory.selectors import tool_by_name
from apps.projects.models import Environment

from . import results
from .results import APPROVAL_KEY, BUILTIN_STATUS_TOOL

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
    """The authenticated caller of one MCP request and the endpoint it addressed."""

    token: ApiToken
    role: str
    environment: Environment
    context: RequestContext = field(default_factory=RequestContext)

    @property
    def user(self):
        return self.token.user

    @property
    def organization(self):
        return self.environment.organization

    @property
    def project(self):
        return self.environment.project


def _inactive_reason(raw: str) -> tuple[str, ApiToken | None]:
    """Why a token that token_authenticate refused was refused, when it is one of ours."""
    if not tokens.looks_like_token(raw):
        return "malformed", None
    token = ApiToken.objects.select_related("user", "organization").filter(digest=tokens.digest(raw)).first()
    if token is None:
        return "unknown", None
    if token.revoked_at is not None:
        return "revoked", token
    if not token.user.is_active:
        return "user_inactive", token
    return "expired", token


def caller_resolve(*, raw_token: str, org_slug: str, project_slug: str, env_slug: str) -> Caller:
    """Authenticate the bearer token and resolve the endpoint's environment with the caller's
    role there. Two queries (plus token_authenticate's last-used touch, once a minute).

    The token is bound to one organization: it only opens endpoints of that organization
    (others answer 404, as for any non-member). Raises ``GatewayRefusal``."""
    token = token_authenticate(raw_token) if raw_token else None
    if token is None:
        if not raw_token:
            raise GatewayRefusal(401, "Send an MCPForge API token: Authorization: Bearer mcpf_…")
        reason, known = _inactive_reason(raw_token)
        messages = {
            "revoked": "This API token was revoked.",
            "expired": "This API token has expired.",
            "user_inactive": "The account of this API token is deactivated.",
        }
        raise GatewayRefusal(401, messages.get(reason, "This API token is not valid."), error="invalid_token",
                             audit_token=known, reason=f"token_{reason}")
    role_here = Membership.objects.filter(organization_id=OuterRef("organization_id"), user_id=token.user_id)
    environment = (
        Environment.objects.select_related("project", "organization")
        .filter(organization_id=token.organization_id, organization__slug=org_slug,
                project__slug=project_slug, slug=env_slug)
        .annotate(caller_role=Subquery(role_here.values("role")[:1]))
        .first()
    )
    if environment is None:
        raise GatewayRefusal(404, "No MCP endpoint at this address for your token's organization.")
    role = environment.caller_role
    if role is None:
        raise GatewayRefusal(403, "The owner of this token is no longer a member of the organization.",
                             error="insufficient_scope", audit_token=token, reason="not_a_member")
    return Caller(token=token, role=role, environment=environment)


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
_definitions: OrderedDict[tuple[int, Any], dict[str, Any]] = OrderedDict()
_definitions_lock = Lock()


def _definitions_of(tools: list) -> list[dict[str, Any]]:
    """``Tool.mcp_definition()`` of each tool, from the cache when possible. If the tools were
    loaded without their schemas (deferred fields), the missing ones come in one query."""
    found: dict[int, dict[str, Any]] = {}
    with _definitions_lock:
        for tool in tools:
            cached = _definitions.get((tool.pk, tool.updated_at))
            if cached is not None:
                found[tool.pk] = cached
    missing = [tool for tool in tools if tool.pk not in found]
    if missing:
        if set(_DEFINITION_FIELDS) & missing[0].get_deferred_fields():
            rows = Tool.objects.filter(pk__in=[t.pk for t in missing]).only(*_DEFINITION_FIELDS).in_bulk()
            missing = [rows[t.pk] for t in missing]
        built = {tool.pk: (tool.updated_at, tool.mcp_definition()) for tool in missing}
        with _definitions_lock:
            for pk, (updated_at, definition) in built.items():
                _definitions[(pk, updated_at)] = definition
                found[pk] = definition
            while len(_definitions) > _DEFINITION_CACHE_SIZE:
                _definitions.popitem(last=False)
    return [found[tool.pk] for tool in tools]


def tool_definitions(caller: Caller) -> list[dict[str, Any]]:
    """What tools/list shows this caller here: the built-in status tool, then every tool
    governance says they may call (enabled and granted), in document order. Six queries
    whatever the number of tools (callable_tools' five and the project's policies)."""
    tools = governance.callable_tools(caller.user, caller.environment)
    definitions: list[dict[str, Any]] = [BUILTIN_STATUS_DEFINITION]
    if not tools:
        return definitions
    policies = governance.policies_for(caller.environment.project_id)
    env_id = caller.environment.pk
    for tool, cached in zip(tools, _definitions_of(tools), strict=True):
        definition = dict(cached)  # shallow: cached schemas are shared, never mutated
        if definition.get("outputSchema") and policies and governance.has_approval(
                policies, governance.tool_ref(tool), env_id):
            definition["outputSchema"] = approval_aware_output_schema(definition["outputSchema"])
        definitions.append(definition)
    return definitions


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
    # Per-caller answer that changes as soon as a grant does: private, immediately stale.
    result: dict[str, Any] = {"tools": page, "ttlMs": 0, "cacheScope": "private", "resultType": "complete"}
    if offset + page_size < len(definitions):
        result["nextCursor"] = encode_cursor(offset + page_size)
    return result


def tool_for_call(caller: Caller, name: str):
    """The tool ``name`` of the endpoint's project (current inventory), or None. One query."""
    return tool_by_name(caller.project, name)


# --------------------------------------------------------------------------- held calls


def approval_status(*, caller: Caller, request_id: str) -> dict[str, Any]:
    """``mcpforge_approval_status``: the approvals selector's answer as a tool result."""
    from apps.approvals.selectors import request_status_for

    try:
        status = request_status_for(caller.user, request_id)
    except DomainError as exc:
        return results.error_result(exc.message)
    return results.status_result(status)


def approval_outcome(*, caller: Caller, request_id: str) -> dict[str, Any] | None:
    """While an agent waits on a held call: its final result once decided, else None."""
    from apps.approvals.selectors import request_status_for

    try:
        status = request_status_for(caller.user, request_id)
    except DomainError as exc:
        return results.error_result(exc.message)
    return results.decided_result(status)
