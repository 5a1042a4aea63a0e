"""MCP ``CallToolResult`` bodies (wire dicts) the gateway answers with. Pure: no Django import.

Refusals an agent can act on (not permitted, invalid arguments, upstream errors) are tool
results with ``isError: true``, as the MCP spec asks for tool execution errors, so the model
sees the reason; only protocol-level problems (unknown tool, bad cursor, rate limit) are
JSON-RPC errors. A call held for approval is a normal (non-error) result.
"""

from __future__ import annotations

import json
from typing import Any

BUILTIN_STATUS_TOOL = "mcpforge_approval_status"
BUILTIN_DESCRIBE_TOOL = "mcpforge_describe_tool"
APPROVAL_KEY = "mcpforge_approval"
OPEN_STATUSES = frozenset({"pending", "approved", "executing"})


def text_result(text: str, *, is_error: bool = False, structured: dict | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": is_error,
                              "resultType": "complete"}
    if structured is not None:
        result["structuredContent"] = structured
    return result


def error_result(text: str) -> dict[str, Any]:
    return text_result(text, is_error=True)


def outcome_result(outcome: Any) -> dict[str, Any]:
    """An upstream CallOutcome (or its dict form) as the tool result: structured content and
    the same JSON as text on success; the status and a trimmed body as an error otherwise."""
    get = outcome.get if isinstance(outcome, dict) else (lambda name: getattr(outcome, name, None))
    if get("ok"):
        return text_result(str(get("text") or ""), structured=get("structured"))
    return error_result(str(get("text") or "The upstream call failed."))


def pending_result(*, request_id: str, tool: str, environment: str, expires_at: str, approvals_required: int,
                   reason: str, message: str = "") -> dict[str, Any]:
    """The answer to a call a policy holds for approval: not an error, it says how to follow up."""
    status = {
        "request_id": request_id, "status": "pending", "tool": tool, "environment": environment,
        "expires_at": expires_at, "approvals_required": approvals_required, "check_with": BUILTIN_STATUS_TOOL,
    }
    text = (
        f"Calling {tool} in {environment} needs human approval ({reason}). "
        f"The call was NOT made yet: approval request {request_id} is pending"
        f"{' — ' + message if message else ''}. It runs once approved (expires {expires_at}). "
        f"Check it with the {BUILTIN_STATUS_TOOL} tool, request_id=\"{request_id}\"."
    )
    return text_result(text, structured={APPROVAL_KEY: status})


def status_result(status: dict[str, Any]) -> dict[str, Any]:
    """``mcpforge_approval_status``: the approvals selector's dict as structured content, with
    a sentence (and the upstream result once executed) as text."""
    text = f"Approval request {status.get('request_id')}: {status.get('status')}."
    if status.get("message"):
        text += f" {status['message']}"
    result = status.get("result")
    if isinstance(result, dict) and result.get("text"):
        text += f"\n\nUpstream result:\n{result['text']}"
    return text_result(text, structured=json.loads(json.dumps(status, default=str)))


def decided_result(status: dict[str, Any]) -> dict[str, Any] | None:
    """For a call whose approval was decided while the agent waited: the executed call's own
    result, or an error saying why it did not run; None while still open."""
    state = status.get("status")
    if state in OPEN_STATUSES:
        return None
    result = status.get("result")
    if state == "executed" and isinstance(result, dict):
        return outcome_result(result)
    return error_result(
        f"Approval request {status.get('request_id')} is {state}: "
        f"{status.get('message') or 'the call was not made.'}"
    )
