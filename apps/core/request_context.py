"""Per-request metadata (request id, IP, user agent) that audit events copy.

Kept in a ContextVar set by middleware so services do not need the request object;
management commands and Celery tasks simply have no request context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("mcpforge_request_context")


def current() -> RequestContext:
    return _current.get(_EMPTY)


def set_current(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


@contextmanager
def active(ctx: RequestContext | None) -> Iterator[None]:
    """``ctx`` is the current context inside the block (nothing changes for ``None``)."""
    token = set_current(ctx) if ctx is not None else None
    try:
        yield
    finally:
        if token is not None:
            reset(token)
