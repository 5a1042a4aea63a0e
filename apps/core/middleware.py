"""Request-scoped context for audit events: a request id (echoed as X-Request-ID), IP and UA."""

import re
import uuid

from . import request_context

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def client_ip(meta) -> str | None:
    # We trust only REMOTE_ADDR: X-Forwarded-For is client-controlled unless a known proxy sets it.
    return meta.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        ctx = request_context.RequestContext(
            request_id=request_id,
            ip=client_ip(request.META),
            user_agent=request.headers.get("User-Agent", "")[:400],
        )
        token = request_context.set_current(ctx)
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request_id
        return response
