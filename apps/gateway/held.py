"""Held calls on the 2026-07-28 protocol: the sealed ``requestState`` of an ``input_required``
answer. Pure: no Django import (keys, clock and facts come from the caller).

Wire shapes (MCP 2026-07-28, as modelled by the installed SDK's ``mcp_types``)
    A held tools/call answers ``{"resultType": "input_required", "inputRequests": {KEY:
    {"method": "elicitation/create", "params": {"mode": "url", "message": ..., "url": ...}}},
    "requestState": STATE}``; the client shows the URL to its user and retries the same
    tools/call with ``inputResponses`` (keyed like ``inputRequests``) and ``requestState``
    echoed verbatim. The client must have declared ``elicitation.url`` in its capabilities.

The state
    AES-256-GCM (the SDK's ``AESGCMRequestStateCodec``: ``cryptography`` underneath, keys
    stretched with HKDF-SHA256, a key fingerprint and format prefix bound as associated data),
    so the client can neither read nor alter it. The claims bind the endpoint (organization
    and environment), the principal (personal token, or OAuth client, and user), the tool, the
    SHA-256 of the canonical arguments, the approval request and an expiry. Single use is not
    the state's job: the final answer is recorded in Postgres (``HeldCallDelivery``, one row
    per approval request) before it is sent, so a second retry finds the row and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.request_state import AESGCMRequestStateCodec, InvalidRequestState

from apps.governance.conditions import arguments_hash

STATE_VERSION = 1
INPUT_KEY = "mcpforge_approval"
# After the approval request's own deadline the state stays usable this long, so a result
# executed just before the deadline can still be collected.
PICKUP_SECONDS = 3600
MAX_STATE_CHARS = 4096


class StateRefused(Exception):
    """A ``requestState`` that cannot be honoured; ``detail`` is the audit reason code."""

    def __init__(self, detail: str, message: str, request_id: str = ""):
        super().__init__(message)
        self.detail = detail
        self.message = message
        self.request_id = request_id


def arguments_digest(arguments: Any) -> str:
    """SHA-256 (hex) of the arguments' canonical JSON (``conditions.arguments_hash``, as approval
    requests hash theirs): the exact values the agent sent, whatever their key order. Non-JSON
    values (NaN) digest to "", which no state binds."""
    try:
        return arguments_hash(arguments)
    except (TypeError, ValueError):
        return ""


@dataclass(frozen=True)
class Binding:
    """What a state is bound to; compared claim by claim on the retry."""

    organization: int
    environment: int
    principal: str
    tool: str
    arguments_sha256: str


def seal(binding: Binding, *, request_id: str, expires_at: float, now: float, keys: Sequence[bytes]) -> str:
    claims = {
        "v": STATE_VERSION, "o": binding.organization, "e": binding.environment, "p": binding.principal,
        "t": binding.tool, "a": binding.arguments_sha256, "r": request_id, "iat": int(now), "exp": int(expires_at),
    }
    return AESGCMRequestStateCodec(keys).seal(json.dumps(claims, separators=(",", ":")).encode())


def open_state(state: Any, *, keys: Sequence[bytes]) -> dict[str, Any]:
    """The claims of a state MCPForge sealed, or ``StateRefused("tampered")``."""
    refused = StateRefused("tampered", "The requestState is not one MCPForge issued (it is malformed or was "
                                       "altered); the call was not made. Call the tool again without requestState.")
    if not isinstance(state, str) or not state or len(state) > MAX_STATE_CHARS:
        raise refused
    try:
        claims = json.loads(AESGCMRequestStateCodec(keys).unseal(state))
    except (InvalidRequestState, ValueError):
        raise refused from None
    if not isinstance(claims, dict) or claims.get("v") != STATE_VERSION or not isinstance(claims.get("r"), str):
        raise refused
    return claims


def verify(state: Any, expected: Binding, *, now: float, keys: Sequence[bytes]) -> dict[str, Any]:
    """The claims of ``state`` when it was sealed here, is unexpired and binds exactly
    ``expected``; otherwise ``StateRefused`` with the first claim that does not hold."""
    claims = open_state(state, keys=keys)
    request_id = claims["r"]
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp:
        raise StateRefused("expired", f"The requestState of approval request {request_id} has expired; the call "
                                      "was not made. Call the tool again to request a new approval.", request_id)
    if claims.get("o") != expected.organization or claims.get("e") != expected.environment:
        raise StateRefused("other_endpoint", "This requestState was issued by another MCP endpoint; the call was "
                                             "not made.", request_id)
    if claims.get("p") != expected.principal:
        raise StateRefused("other_principal", "This requestState was issued to another token or user; the call "
                                              "was not made.", request_id)
    if claims.get("t") != expected.tool:
        raise StateRefused("other_tool", "This requestState belongs to a call of another tool; retry the held "
                                         "call with its own tool name and arguments.", request_id)
    if not expected.arguments_sha256 or claims.get("a") != expected.arguments_sha256:
        raise StateRefused("other_arguments", "This requestState belongs to a call with other arguments; retry "
                                              "the held call with exactly the arguments it was made with.",
                           request_id)
    return claims


def replayed(request_id: str) -> StateRefused:
    return StateRefused("replayed", f"This requestState was already used: the final answer of approval request "
                                    f"{request_id} was delivered once. The requester can still read it with "
                                    f"mcpforge_approval_status.", request_id)


def input_required_result(*, state: str, url: str, message: str) -> dict[str, Any]:
    """The ``input_required`` answer: one URL-mode elicitation (the approval request page)."""
    return {
        "resultType": "input_required",
        "inputRequests": {INPUT_KEY: {"method": "elicitation/create",
                                      "params": {"mode": "url", "message": message, "url": url}}},
        "requestState": state,
    }
