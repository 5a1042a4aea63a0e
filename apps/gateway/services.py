"""Every write of the MCP gateway: the audit trail of tool calls, and held calls.

Audit before the call
---------------------
A tool call is audited in two events, because the facts arrive at two moments and the log is
append-only:

1. ``tool.called`` (outcome ``started``) is committed by ``call_begin`` *before* the upstream
   request leaves. ``call_begin`` returns the prepared request only after that row is
   committed; if the audit write fails (database down, chain lock timeout) it raises, the
   gateway answers with an error and the upstream is never called. So there is no upstream
   call without an audit row; at worst (process killed mid-call) there is a ``started`` row
   without its completion, which an auditor reads as "attempted, outcome unknown".
2. ``tool.call_completed`` records the outcome, upstream HTTP status and latency, keyed by
   the same ``call_id``. The gateway writes it right after the agent's answer has left (off
   the latency path; server shutdown waits for pending rows). Its failure is logged, never
   hidden behind the result: the attempt row already exists.

Calls refused before any upstream contact (unknown tool, not granted, disabled, invalid
arguments, rate limited, policy error) write one ``tool.call_denied`` event with the reason
code. A call held for approval is audited by the approvals service (``approval.requested``)
in the same transaction that creates the request. Arguments are redacted by ``audit_record``
and cut to ``MAX_AUDIT_ARGUMENT_BYTES``.

All functions run in a gateway database thread (server.py), never on the event loop.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.crypto import salted_hmac
from mcp_types import INVALID_PARAMS

from apps.audit.services import PendingEvent, audit_prepare, audit_record, audit_write
from apps.core.errors import DomainError
from apps.governance import conditions, policies, rules
from apps.governance.conditions import ConditionError

from . import held, hooks, results, selectors, snapshot, upstream
from .selectors import Caller
from .validation import SchemaBroken, UnsupportedPattern, argument_errors

MAX_AUDIT_ARGUMENT_BYTES = 16 * 1024
MAX_LISTED_NAMES = 500  # tool names kept in a gateway.tools_listed event (a page is at most MCP_TOOLS_PAGE_SIZE)
# An agent asked for a justification passes it as this extra argument (unless the tool has a
# real parameter of that name); it is taken out before validation and never sent upstream.
JUSTIFICATION_ARGUMENT = "justification"


@dataclass
class CallPlan:
    """What the async layer does after ``call_plan`` / ``call_begin``.

    ``action`` is ``send`` (call the upstream with ``request``, then audit ``completion_event``),
    ``respond`` (answer ``result`` as is; ``approval_id`` is set for a held call), ``fail``
    (a JSON-RPC error ``error_code``/``error_message``) or, from ``call_plan`` only, ``hold``
    (a policy requires ``requirement``: ``call_hold`` queues it). ``audit`` is the event
    that must be committed before the plan is carried out (``call_begin`` writes it)."""

    action: str
    tool: Any = None
    request: upstream.UpstreamRequest | None = None
    call_id: str = ""
    result: dict[str, Any] | None = None
    approval_id: str = ""
    error_code: int = 0
    error_message: str = ""
    audit: PendingEvent | None = None
    name: str = ""
    arguments: dict[str, Any] | None = None
    justification: str = ""
    requirement: Any = None


def _audit_arguments(arguments: Any) -> Any:
    """The arguments for the audit payload, or a digest and a preview when they are large."""
    try:
        text = json.dumps(arguments, sort_keys=True, default=str, allow_nan=False)
    except (TypeError, ValueError):  # NaN/Infinity (refused calls keep them): no JSON, so a preview
        try:
            preview = json.dumps(arguments, sort_keys=True, default=str)[:1024]
        except (TypeError, ValueError):
            preview = ""
        return {"unserialisable": True, "preview": preview}
    if len(text) <= MAX_AUDIT_ARGUMENT_BYTES:
        return arguments
    return {"truncated": True, "bytes": len(text), "sha256_digest": hashlib.sha256(text.encode()).hexdigest(),
            "preview": text[:1024]}


# json.dumps(arguments, sort_keys=True, default=str), as _audit_arguments measures arguments,
# without building an encoder at every call (it was most of _payload's time).
_ARGUMENTS_ENCODER = json.JSONEncoder(sort_keys=True, default=str, allow_nan=False)


def _payload_arguments(arguments: Any) -> Any:
    """``_audit_arguments(arguments)``: the arguments themselves when they fit, as measured here,
    which is every call but a rare few; for those, what ``_audit_arguments`` makes of them."""
    try:
        if len(_ARGUMENTS_ENCODER.encode(arguments)) <= MAX_AUDIT_ARGUMENT_BYTES:
            return arguments
    except (TypeError, ValueError):
        pass
    return _audit_arguments(arguments)


def _payload(caller: Caller, *, name: str, tool=None, arguments: Any = None, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "tool": name,
        "operation_key": tool.operation_key if tool is not None else None,
        "project": caller.project.slug,
        "environment": caller.environment.slug,
        "token_name": caller.token.name,
        "token_prefix": caller.token.prefix,
    }
    if caller.toolset is not None:  # the endpoint was a toolset's; the tool keeps its own name
        payload["toolset"] = caller.toolset.slug
    if arguments is not None:
        payload["arguments"] = _payload_arguments(arguments)
    payload.update(extra)
    return payload


def _event(caller: Caller, event_type: str, *, name: str, tool=None, arguments: Any = None,
           **extra: Any) -> PendingEvent:
    environment = caller.environment
    return audit_prepare(organization=caller.organization, event_type=event_type, actor=caller.user,
                         target=environment if tool is None else tool,
                         target_label=f"{name if tool is None else tool.name} in {environment}",
                         payload=_payload(caller, name=name, tool=tool, arguments=arguments, **extra))


def _record(caller: Caller, event_type: str, *, name: str, tool=None, arguments: Any = None, **extra: Any) -> None:
    audit_write(_event(caller, event_type, name=name, tool=tool, arguments=arguments, **extra))


def _denial(caller: Caller, *, name: str, reason: str, message: str, arguments: Any, tool=None) -> PendingEvent:
    return _event(caller, "tool.call_denied", name=name, tool=tool, arguments=arguments, outcome="denied",
                  reason=reason, message=message[:500])


def call_refuse(*, caller: Caller, name: str, reason: str, message: str, arguments: Any, tool=None) -> None:
    """Audit a call refused before any upstream contact (``tool.call_denied``), against the
    tool it names when the inventory has it (a rate-limited call is about that tool, not the
    environment)."""
    if tool is None:
        tool = selectors.tool_for_call(caller, name)
    audit_write(_denial(caller, name=name, reason=reason, message=message, arguments=arguments, tool=tool))


def _deny(caller: Caller, *, name: str, tool, arguments: Any, reason: str, message: str) -> CallPlan:
    return CallPlan("respond", tool=tool, result=results.error_result(message),
                    audit=_denial(caller, name=name, tool=tool, arguments=arguments, reason=reason, message=message))


def call_is_warm(caller: Caller, name: str) -> bool:
    """Whether ``call_plan`` can run without a query (and so on the event loop): the project's
    rules and this tool are in the snapshot, and so are its credentials, OAuth2 access tokens
    included. A call that a policy holds still needs ``call_hold`` (database)."""
    snap = caller.snapshot()
    if snap.rules is None or snap.pins is None:
        return False
    tool = snapshot.served_tool(snap.pins.get(str(caller.environment.pk), {}), name, snap.tools.get(name))
    if tool is None:
        return False
    return snapshot.secrets_ready(snap, caller.environment, tool)


def call_plan(*, caller: Caller, name: str, arguments: dict[str, Any], justification: str = "") -> CallPlan:
    """Resolve, authorise, validate and route one tools/call; writes nothing.

    Order: tool by name in the project's current inventory -> grants (``rules.decide``, the
    function the simulator uses) -> arguments against the inputSchema (non-finite numbers and
    oversized arguments refused, regexes on RE2) -> the arguments serialized as the upstream
    will receive them (``upstream.serialize``: names smuggled past another parameter or a
    policy field refused) -> approval policy on the arguments and on what the upstream
    receives (``rules.approval_requirement(received=)``; held calls are returned as ``hold``)
    -> upstream request with credentials. The plan carries the audit event to commit before it is carried out.
    Reads only the project snapshot (snapshot.py), which queries on first use."""
    if not caller.in_toolset(name):
        message = (f"Tool {name[:64]} is not in toolset {caller.toolset.slug}; this endpoint serves only the "
                   "toolset's tools. Call tools/list for them.")
        return CallPlan("fail", error_code=INVALID_PARAMS, error_message=message,
                        audit=_denial(caller, name=name, arguments=arguments, reason="not_in_toolset",
                                      message=message))
    tool = selectors.tool_for_call(caller, name)
    if tool is None:
        message = f"Unknown tool: {name}. Call tools/list for the tools you may call here."
        return CallPlan("fail", error_code=INVALID_PARAMS, error_message=message,
                        audit=_denial(caller, name=name, arguments=arguments, reason="unknown_tool", message=message))

    properties = (tool.input_schema or {}).get("properties") or {}
    if JUSTIFICATION_ARGUMENT in arguments and JUSTIFICATION_ARGUMENT not in properties:
        arguments = dict(arguments)
        extra = arguments.pop(JUSTIFICATION_ARGUMENT)
        justification = justification or (extra if isinstance(extra, str) else json.dumps(extra))

    snap = caller.snapshot()
    project_rules = snapshot.project_rules(snap)
    ref = rules.tool_ref(tool)  # once per call: decide, the applicable policies and the requirement
    decision = rules.decide(project_rules, caller.subject, tool, caller.environment_ref, ref=ref)
    if not decision.allowed:
        message = f"MCPForge refused this call: {decision.reason}."
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason=decision.code or "denied",
                     message=message)

    try:
        problems = argument_errors(tool.input_schema, arguments, cache_key=(tool.pk, tool.updated_at))
    except UnsupportedPattern as exc:
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason="unsupported_pattern",
                     message=f"The input schema of {name} cannot be checked safely: {exc}. An admin must correct "
                             "the spec (quality finding quality.unsupported_pattern). The call was not made.")
    except SchemaBroken as exc:
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason="schema_invalid",
                     message=f"The input schema of {name} is not a valid JSON Schema ({exc}); an admin must "
                             "re-import the spec. The call was not made.")
    if problems:
        message = (f"Invalid arguments for {name}; the call was not made. " + "; ".join(problems)
                   + ". Fix the arguments to match the tool's inputSchema.")
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason="invalid_arguments", message=message)

    try:
        applicable = policies.applicable(project_rules.policies, ref, caller.environment_ref.id)
        fields = policy_fields(applicable)
    except ConditionError as exc:
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason="policy_error",
                     message=f"The approval policy for {name} cannot be evaluated ({exc}); the call was refused.")
    try:
        # What the upstream will receive, serialized per the parameters' styles; a parameter
        # that would send a name another parameter or a policy field owns is refused here.
        serialized = upstream.serialize(tool, arguments, owned=fields)
    except upstream.UpstreamError as exc:
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason=exc.code, message=exc.message)
    try:
        requirement = rules.approval_requirement(project_rules, tool, caller.environment_ref, arguments,
                                                 received=serialized.documents(fields) if applicable else (),
                                                 ref=ref)
    except ConditionError as exc:
        return _deny(caller, name=name, tool=tool, arguments=arguments, reason="policy_error",
                     message=f"The approval policy for {name} cannot be evaluated ({exc}); the call was refused.")
    if requirement is not None:
        return CallPlan("hold", tool=tool, name=name, arguments=arguments, justification=justification,
                        requirement=requirement)

    try:
        request = upstream.prepare_request(
            tool=tool, environment=caller.environment, arguments=arguments, serialized=serialized,
            secrets=lambda: snapshot.upstream_secrets(snap, caller.environment, tool))
    except upstream.UpstreamError as exc:
        return CallPlan("respond", tool=tool, result=results.error_result(exc.message),
                        audit=_event(caller, "tool.called", name=name, tool=tool, arguments=arguments,
                                     outcome=exc.code, upstream_status=None, latency_ms=0,
                                     message=exc.message[:500]))

    call_id = uuid.uuid4().hex
    return CallPlan("send", tool=tool, request=request, call_id=call_id,
                    audit=_event(caller, "tool.called", name=name, tool=tool, arguments=arguments,
                                 outcome="started", call_id=call_id, method=request.method,
                                 upstream_host=request.host))


def policy_fields(applicable: list[policies.PolicyRef]) -> frozenset[str]:
    """The top-level argument names the conditions of ``applicable`` policies read (``amount``
    of ``amount > 1000`` and of ``amount.value``): names no other argument may put on the
    wire (``upstream.serialize``). Raises ``ConditionError`` for invalid stored tiers."""
    fields: set[str] = set()
    for policy in applicable:
        for tier in conditions.compile_tiers(list(policy.tiers)):
            fields.update(str(c.path[0]) for c in tier.when if c.path and isinstance(c.path[0], str))
    return frozenset(fields)


def call_begin(*, caller: Caller, name: str, arguments: dict[str, Any], justification: str = "") -> CallPlan:
    """``call_plan``, then its audit event committed (or the held call queued) through
    Django's connection: the gateway's path when the snapshot is cold. Raises (and the call is
    not made) when the audit row cannot be written."""
    plan = call_plan(caller=caller, name=name, arguments=arguments, justification=justification)
    if plan.action == "hold":
        return call_hold(caller=caller, plan=plan)
    if plan.audit is not None:
        audit_write(plan.audit)  # committed here (autocommit): the upstream call comes after
        plan.audit = None
    return plan


def call_hold(*, caller: Caller, plan: CallPlan) -> CallPlan:
    """Queue a held call as an approval request (audited by the approvals service in the
    same transaction) and answer "pending"; or refuse it when the request is refused."""
    from apps.approvals.services import approval_request_create

    tool, name, arguments, requirement = plan.tool, plan.name, plan.arguments or {}, plan.requirement
    try:
        held = approval_request_create(tool=tool, environment=caller.environment, requester=caller.user,
                                       token=caller.token, arguments=arguments, justification=plan.justification,
                                       requirement=requirement,
                                       toolset=caller.toolset.slug if caller.toolset is not None else "")
    except DomainError as exc:
        reason = "justification_required" if exc.field == "justification" else "approval_refused"
        call_refuse(caller=caller, name=name, tool=tool, arguments=arguments, reason=reason, message=exc.message)
        return CallPlan("respond", tool=tool, result=results.error_result(exc.message))
    result = results.pending_result(
        request_id=str(held.public_id), tool=name, environment=caller.environment.slug,
        expires_at=held.expires_at.isoformat(), approvals_required=held.approvals_required,
        reason=requirement.reason or requirement.policy_label,
    )
    return CallPlan("respond", tool=tool, result=result, approval_id=str(held.public_id))


def completion_event(*, caller: Caller, plan: CallPlan, outcome: upstream.CallOutcome) -> PendingEvent:
    """The ``tool.call_completed`` event of a call ``call_plan`` let through."""
    return _event(caller, "tool.call_completed", name=plan.tool.name, tool=plan.tool, call_id=plan.call_id,
                  outcome="ok" if outcome.ok else outcome.error, upstream_status=outcome.status,
                  latency_ms=outcome.latency_ms, message="" if outcome.ok else outcome.text[:500])


def tools_listed(*, caller: Caller, listed: list[str], total: int, offset: int) -> None:
    """Audit one tools/list answer (``gateway.tools_listed``): which agent was shown which
    tools where. Written before the answer leaves; if it cannot be written the listing fails."""
    payload = {key: value for key, value in _payload(caller, name="").items() if key not in ("tool", "operation_key")}
    payload.update(listed=len(listed), total=total, offset=offset, names=listed[:MAX_LISTED_NAMES])
    audit_record(organization=caller.organization, event_type="gateway.tools_listed", actor=caller.user,
                 target=caller.environment, target_label=f"tools of {caller.environment}", payload=payload)


def status_checked(*, caller: Caller, request_id: str, result: dict[str, Any]) -> None:
    """Audit an agent's ``mcpforge_approval_status`` call (``approval.status_checked``)."""
    structured = result.get("structuredContent") or {}
    status = structured.get("status") if isinstance(structured, dict) else None
    _record(caller, "approval.status_checked", name=results.BUILTIN_STATUS_TOOL, request_id=request_id[:64],
            status=status or "error", outcome="ok" if not result.get("isError") else "error")


def tool_described(*, caller: Caller, name: str, result: dict[str, Any]) -> None:
    """Audit an agent's ``mcpforge_describe_tool`` call (``tool.described``) under the described
    tool's name; ``outcome`` is ``error`` when it is not a tool this caller may list."""
    _record(caller, "tool.described", name=name[:64], outcome="error" if result.get("isError") else "ok")


def tools_searched(*, caller: Caller, query: str, category: str, found: list[str]) -> None:
    """Audit an agent's ``mcpforge_search_tools`` call (``tool.searched``)."""
    _record(caller, "tool.searched", name="mcpforge_search_tools", query=query[:200], category=category[:60],
            found=found[:MAX_LISTED_NAMES])


def request_refused(*, token, reason: str, path: str) -> None:
    """Audit a refused MCP request of a known token (revoked, expired, former member)."""
    audit_record(organization=token.organization, event_type="gateway.request_refused", actor=token.user,
                 target=token, target_label=f"{token.name} ({token.prefix}…)",
                 payload={"reason": reason, "path": path[:300], "token_name": token.name,
                          "token_prefix": token.prefix})


# --------------------------------------------------------------------------- held calls, 2026-07-28
# A held call answers ``input_required`` with a URL-mode elicitation of the approval request
# page and a sealed ``requestState`` (held.py); the retry with that state gets the final answer
# once, recorded in ``HeldCallDelivery`` before it is sent.

STATE_KEY_SALT = "mcpforge.gateway.request_state"


def request_state_keys() -> list[bytes]:
    """AES-256-GCM key material for ``requestState``, derived from SECRET_KEY (seals) and
    SECRET_KEY_FALLBACKS (still open states sealed before a key rotation)."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [salted_hmac(STATE_KEY_SALT, "aes-256-gcm", secret=secret, algorithm="sha256").digest()
            for secret in secrets]


def _principal(caller: Caller) -> str:
    """Who may retry: the OAuth client (any of its rotated access tokens) or the personal
    token, and the user."""
    client = hooks.oauth_client_of_token(caller.token.pk)
    who = f"oauth-client:{client}" if client is not None else f"token:{caller.token.pk}"
    return f"{who}/user:{caller.user.pk}"


def _binding(caller: Caller, name: str, arguments: Any) -> held.Binding:
    return held.Binding(organization=caller.organization.pk, environment=caller.environment.pk,
                        principal=_principal(caller), tool=name, arguments_sha256=held.arguments_digest(arguments))


def approval_page_url(caller: Caller, request_id: str) -> str:
    """The approval request's page, absolute under SITE_URL (the public base URL)."""
    return settings.SITE_URL + reverse("approvals:detail", args=[caller.organization.slug, request_id])


def _elicitation_message(name: str, environment: str, status: dict[str, Any] | None = None) -> str:
    text = (f"Calling {name} in {environment} needs human approval; the call was NOT made yet. Open the approval "
            "request page to follow it (reviewers approve or reject it there), then let the agent retry.")
    if status and status.get("message"):
        text += f" Now: {status['message']}"
    return text


def held_input_required(*, caller: Caller, name: str, arguments: dict[str, Any], approval_id: str) -> dict[str, Any]:
    """The ``input_required`` answer to a call ``call_hold`` just queued as ``approval_id``."""
    from apps.approvals.models import ApprovalRequest

    request = ApprovalRequest.objects.only("expires_at").get(public_id=approval_id, organization=caller.organization)
    state = held.seal(_binding(caller, name, arguments), request_id=approval_id, now=time.time(),
                      expires_at=request.expires_at.timestamp() + held.PICKUP_SECONDS, keys=request_state_keys())
    return held.input_required_result(state=state, url=approval_page_url(caller, approval_id),
                                      message=_elicitation_message(name, caller.environment.slug))


def held_retry(*, caller: Caller, name: str, arguments: dict[str, Any], state: Any,
               interactive: bool) -> dict[str, Any]:
    """A tools/call retried with ``requestState``: the same ``input_required`` while the request
    is open (the state stays valid); once decided, its final answer (the approved execution's
    result, or why it did not run), given once. Raises ``held.StateRefused`` (audited as
    ``tool.call_denied``) for a state that is not ours, expired, bound to something else or
    already used."""
    from apps.approvals.models import ApprovalRequest
    from apps.approvals.selectors import request_status_for

    from .models import HeldCallDelivery

    try:
        claims = held.verify(state, _binding(caller, name, arguments), now=time.time(), keys=request_state_keys())
        request_id = claims["r"]
        try:
            status = request_status_for(caller.user, request_id, organization_id=caller.organization.pk,
                                        environment_id=caller.environment.pk)
        except DomainError as exc:
            raise held.StateRefused("not_found", exc.message, request_id) from None
        if HeldCallDelivery.objects.filter(approval_request__public_id=request_id).exists():
            raise held.replayed(request_id)
        state_now = status["status"]
        if state_now in results.OPEN_STATUSES:
            _record(caller, "approval.status_checked", name=name, request_id=request_id, status=state_now,
                    outcome="ok", via="requestState")
            if interactive:
                return held.input_required_result(state=state, url=approval_page_url(caller, request_id),
                                                  message=_elicitation_message(name, caller.environment.slug, status))
            return results.status_result(status)
        answer = results.decided_result(status)
        request_pk = ApprovalRequest.objects.filter(public_id=request_id).values_list("pk", flat=True).get()
        try:
            with transaction.atomic():  # the answer is recorded (and audited) before it is sent, once
                HeldCallDelivery.objects.create(approval_request_id=request_pk, status=state_now)
                _record(caller, "approval.result_delivered", name=name, request_id=request_id, status=state_now,
                        outcome="error" if answer.get("isError") else "ok")
        except IntegrityError:
            raise held.replayed(request_id) from None
        return answer
    except held.StateRefused as refused:
        _record(caller, "tool.call_denied", name=name, tool=selectors.tool_for_call(caller, name),
                arguments=arguments, outcome="denied", reason="request_state_refused", detail=refused.detail,
                request_id=refused.request_id[:64], message=refused.message[:500])
        raise
