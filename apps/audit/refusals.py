"""Refused writes are audited, in one place.

A member whose role does not allow a write (a member overwriting production credentials, a
viewer creating a grant, an admin removing an owner ...) gets a 403 from the page or the
REST API. ``RefusalAuditMiddleware`` turns every such 403 on a write (POST, PUT, PATCH,
DELETE) into an ``access.refused`` event in the organization the request was about.

Which organization, who and why are noted while the request is handled: the access helper
(apps/accounts/access.py) notes the caller's membership whenever it resolves one, and the
capability and role whenever it refuses. Outsiders never get this far (404, nothing to
record in someone else's log). The row is written after the view has returned, so after
any transaction of the refused action has rolled back; it is its own transaction and
cannot roll back with it. A service that audits a refusal itself (self-approval) calls
``recorded()`` so the same refusal is not written twice.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class _Notes:
    membership: Any = None
    capability: str = ""
    reason: str = ""
    recorded: bool = False


_current: contextvars.ContextVar[_Notes | None] = contextvars.ContextVar("mcpforge_refusal_notes", default=None)


def note_membership(membership) -> None:
    """The caller's membership in the organization this request is about (None: nothing)."""
    notes = _current.get()
    if notes is not None and membership is not None:
        notes.membership = membership


def note_refusal(membership, *, capability: str = "", reason: str = "") -> None:
    """The access helper refused ``membership`` a capability."""
    notes = _current.get()
    if notes is not None:
        if membership is not None:
            notes.membership = membership
        notes.capability, notes.reason = capability, reason


def recorded() -> None:
    """This request's refusal is already in the audit log (written by its service)."""
    notes = _current.get()
    if notes is not None:
        notes.recorded = True


def _reason(response, notes: _Notes) -> str:
    data = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data["detail"]
    return notes.reason


def record_refusal(*, request, response, notes: _Notes) -> None:
    """Write ``access.refused`` for a refused write (autocommit: its own transaction)."""
    from .services import audit_record

    membership = notes.membership
    audit_record(
        organization=membership.organization,
        event_type="access.refused",
        actor=membership.user,
        target=membership.organization,
        target_label=f"{request.method} {request.path}"[:300],
        payload={"method": request.method, "path": request.path[:300], "status": response.status_code,
                 "role": membership.role, "capability": notes.capability,
                 "reason": _reason(response, notes)[:500]},
    )


class RefusalAuditMiddleware:
    """Audit every 403 answer to a write by a member (see the module docstring). Sits inside
    RequestContextMiddleware so the row carries the request id, IP and user agent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        notes = _Notes()
        token = _current.set(notes)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if (response.status_code == 403 and request.method in WRITE_METHODS and notes.membership is not None
                and not notes.recorded):
            try:
                record_refusal(request=request, response=response, notes=notes)
            except Exception:  # the write is refused either way; never turn a 403 into a 500
                logger.exception("could not audit a refused %s %s", request.method, request.path)
        return response

    def process_exception(self, request, exception):
        """Keep the message of a Django PermissionDenied (pages) for the audit row."""
        from django.core.exceptions import PermissionDenied

        notes = _current.get()
        if notes is not None and isinstance(exception, PermissionDenied) and str(exception):
            notes.reason = str(exception)
        return None
