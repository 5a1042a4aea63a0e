"""The MCP endpoint: ``/mcp/<org>/<project>/<environment>/``, Streamable HTTP, official SDK.

Composition
    ``mcpforge/asgi.py`` is a small Starlette app: ``Mount("/mcp", gateway)`` and Django at
    ``/``, with ``gateway.lifespan`` as its lifespan (Django's ASGI handler has none, and the
    SDK's session manager needs one to run its task group).

Stateless, JSON responses
    ``StreamableHTTPSessionManager(stateless=True, json_response=True)``: every HTTP request is
    self-contained (both protocol eras: the 2025 handshake era, where a stateless server needs
    no session, and the 2026-07-28 per-request era), so any number of uvicorn workers or
    replicas can serve an agent without sticky sessions, a revoked token or a changed grant
    takes effect on the very next request, and no session table can grow. The gateway sends no
    server-to-client requests or progress streams, so SSE would only add framing; plain JSON
    responses are simpler for proxies and faster. A held call that waits for its decision
    (``MCP_APPROVAL_WAIT_SECONDS``) is a long request, which JSON mode handles too.

Per request
    ``Gateway.__call__`` checks the Origin (browsers only from ``MCP_ALLOWED_ORIGINS`` or the
    product's own origin; no Origin, as from non-browser agents, is fine) and the Host,
    answers CORS preflights (OPTIONS) of allowed origins, then authenticates the bearer token
    and resolves the environment from the path (``db.HotPathDatabase.caller``: one prepared
    query that also reads the project's config version, see snapshot.py), answering 401 with
    ``WWW-Authenticate`` / 403 / 404 / 503 itself. When that caller is cached, a warm
    tools/call confirms it in the statement that writes its first audit row instead
    (``Authentication``); no answer leaves before the caller is confirmed.
    The ``Authentication`` rides in the ASGI scope to the SDK handlers (``ctx.request.scope``),
    which never see the raw token; the upstream request is built from scratch, so the token is
    never passed through.

Database access
    A warm tool call (project snapshot cached) needs no ORM: its caller lookup and audit rows
    run on an asynchronous psycopg pool in the event loop (db.py). ORM work never runs on the
    event loop. ``Database.run`` sends each unit (a cold call, a held call, tools/list, status
    checks, refusals) to a fixed pool of ``MCP_DB_THREADS`` threads through
    asgiref's ``sync_to_async(thread_sensitive=False, executor=pool)``. Each pool thread keeps
    its own persistent connection (``DB_CONN_MAX_AGE``), and every unit is wrapped in
    ``close_old_connections()`` before and after, which is what Django's request_started /
    request_finished signals do for views: broken or expired connections are dropped, never
    reused. A unit is one short burst of queries, so a fixed pool bounds the connections the
    gateway opens while calls to slow upstreams (plain asyncio, transport.py) hold no thread at all.
    (``thread_sensitive=True`` would funnel every request of the process through one thread.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, TypeVar

import anyio
import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.http.request import split_domain_port, validate_host
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS
from mcp_types.version import is_version_at_least
from psycopg_pool import PoolTimeout
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from apps.core import request_context
from apps.core.request_context import RequestContext

from . import conf, held, hooks, listing_wire, results, search_first, selectors, services, upstream
from .db import HotPathDatabase
from .ratelimit import Limit, RateLimiter, Verdict, let_hit_send
from .selectors import Caller, CallerFingerprint, GatewayRefusal
from .snapshot import toolsets as snapshot_toolsets
from .validation import LARGE_ARGUMENT_CHARS, argument_size

logger = logging.getLogger("mcpforge.gateway")

T = TypeVar("T")
PATH_RE = re.compile(r"^/(?P<org>[A-Za-z0-9_-]{1,60})/(?P<project>[A-Za-z0-9_-]{1,60})/(?P<env>[A-Za-z0-9_-]{1,60})"
                     r"(?:/toolsets/(?P<toolset>[A-Za-z0-9_-]{1,60}))?(?:/(?P<mode>search))?/?$")
AUTH_SCOPE_KEY = "mcpforge.auth"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
RATE_LIMITED = -32029  # JSON-RPC server-error range; data carries retryAfterSeconds
INPUT_REQUIRED_VERSION = "2026-07-28"  # first revision with input_required results and requestState
JUSTIFICATION_META_KEY = "io.mcpforge/justification"
APPROVAL_POLL_SECONDS = 0.5
INSTRUCTIONS = (
    "MCPForge governed API gateway. tools/list shows exactly the tools you may call in this environment. "
    "Some calls are held for human approval: they return a request_id; check it with mcpforge_approval_status "
    "(or, on protocol 2026-07-28 with URL elicitation, open the approval page and retry with the requestState). "
    "If a held call says a justification is required, call it again with an extra 'justification' argument."
)


@dataclasses.dataclass(eq=False)
class Authentication:
    """The caller of one HTTP request and how far it is confirmed.

    A request whose token and endpoint are cached with the caller's fingerprint (its
    organization's caller epoch and its project's config version, see
    ``selectors.CallerFingerprint``) starts with that ``caller`` unconfirmed; a warm
    tools/call plans with it and confirms it in the statement that writes its ``tool.called``
    row (``HotPathDatabase.audit_if_unchanged``): one round trip for check and audit.
    Everything else confirms first (``Gateway._confirmed``), and no HTTP answer leaves
    unconfirmed (``confirmed_send`` in ``Gateway.__call__``). When something changed (token
    revoked, role, teams or config changed), nothing was written: the caller is read again and
    the call replanned, or refused with the same HTTP answer as any refusal."""

    raw_token: str
    params: list[str]
    path: str
    context: RequestContext
    search_path: bool = False  # the endpoint's ``/search/`` variant: meta-tools only (search_first.py)
    toolset_slug: str = ""  # ``…/toolsets/<slug>/``: the toolset endpoint (apps/toolsets)
    toolset: Any = None  # its ``ToolsetView``, resolved once the caller is confirmed
    caller: Caller | None = None
    fingerprint: CallerFingerprint | None = None
    confirmed: bool = False
    rejection: Response | None = None
    replaced: bool = False
    # Work due once the answer has left (a call's outcome row): run by ``Gateway.__call__``
    # after the SDK has sent the response, so its CPU is not on the agent's latency path.
    after_response: list[tuple[Callable[..., Any], tuple]] = dataclasses.field(default_factory=list)
    # A tools/list answer's tools, encoded for the wire (listing_wire.py): the SDK answers the
    # page with an empty array, and ``Gateway.__call__`` splices these in.
    listed_tools: bytes | None = None

    @property
    def search_first(self) -> bool:
        """Meta-tools only: the ``/search/`` path, or the endpoint's listing mode (Caller.listing)."""
        return self.search_path or (self.caller is not None and self.caller.search_first)


class Database:
    """Django ORM work off the event loop, in a fixed pool of threads (see module docstring)."""

    def __init__(self, threads: int):
        self.threads = max(1, threads)
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="mcp-db")

    async def run(self, fn: Callable[..., T], /, *args: Any, context: RequestContext | None = None,
                  **kwargs: Any) -> T:
        def unit() -> T:
            with request_context.active(context):
                close_old_connections()
                try:
                    return fn(*args, **kwargs)
                finally:
                    close_old_connections()

        return await sync_to_async(unit, thread_sensitive=False, executor=self.executor)()

    def close(self) -> None:
        """Close every pool thread's connections (each thread must close its own), then stop."""
        barrier = threading.Barrier(self.threads)

        def close_here() -> None:
            connections.close_all()
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass

        for future in [self.executor.submit(close_here) for _ in range(self.threads)]:
            future.result()
        self.executor.shutdown(wait=True)


def _no_header_schema(name: str) -> None:
    """``Mcp-Param-*`` header validation (2026-07-28) needs a tool's schema before our handlers
    run; our tools declare no header-mapped parameters, so there is nothing to validate, and
    returning None keeps the SDK from running tools/list on every tools/call."""
    return None


CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_REQUEST_HEADERS = ("Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, "
                        "Mcp-Name, Last-Event-ID, X-Request-ID")
CORS_EXPOSED_HEADERS = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, X-Request-ID, Retry-After"


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """Headers that let a browser page of an allowed origin read our answer. Bearer tokens,
    not cookies, authenticate, so credentials mode is never allowed."""
    return [(b"access-control-allow-origin", origin.encode("latin-1", "replace")), (b"vary", b"Origin"),
            (b"access-control-expose-headers", CORS_EXPOSED_HEADERS.encode())]


def _json_rpc_error(status: int, message: str, *, code: int = -32001,
                    headers: dict[str, str] | None = None) -> Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _spliced(start: dict[str, Any], body: dict[str, Any], tools: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tools/list answer's start and first body messages with the listed tools spliced in
    (listing_wire.splice), its Content-Length adjusted; unchanged when the body is no listing
    answer (an error)."""
    spliced = listing_wire.splice(body.get("body", b""), tools)
    if spliced is None:
        return start, body
    headers = [(name, str(int(value) + len(spliced) - len(body["body"])).encode()) if name == b"content-length"
               else (name, value) for name, value in start.get("headers", [])]
    return {**start, "headers": headers}, {**body, "body": spliced}


def _list_and_audit(caller: Caller, cursor: str | None, page_size: int, version: str) -> tuple[dict[str, Any], bytes]:
    """One tools/list page, audited (``gateway.tools_listed``) before it is answered: the page
    with an empty ``tools`` array for the SDK to answer, and its tools validated and encoded
    for ``version``, cached with the listing (listing_wire.py), for ``Gateway.__call__`` to
    splice into that answer."""
    definitions = selectors.tool_definitions(caller)
    page = selectors.page_of(definitions, cursor, page_size)
    page["ttlMs"] = selectors.listing_ttl_ms(caller, ttl_seconds=conf.get_int("MCP_TOOLS_LIST_TTL_SECONDS"))
    offset = selectors.decode_cursor(cursor)
    try:
        tools = selectors.listing_memo(caller, selectors.wire_page_key(caller, offset, page_size, version),
                                       lambda: listing_wire.encoded_tools(page, version))
    except ValidationError:  # as the SDK's runner answers an invalid result (the detail stays in the log)
        logger.exception("tools/list page is not a valid result")
        raise MCPError(INTERNAL_ERROR, "Handler returned an invalid result") from None
    services.tools_listed(caller=caller, listed=[t["name"] for t in page["tools"]], total=len(definitions),
                          offset=offset)
    return {**page, "tools": []}, tools


def _meta_list_and_audit(caller: Caller, cursor: str | None) -> dict[str, Any]:
    """The search-first listing (meta-tools only), audited like any tools/list."""
    definitions = search_first.meta_tool_definitions(selectors.BUILTIN_STATUS_DEFINITION)
    page = selectors.page_of(definitions, cursor, len(definitions))
    page["ttlMs"] = selectors.listing_ttl_ms(caller, ttl_seconds=conf.get_int("MCP_TOOLS_LIST_TTL_SECONDS"))
    services.tools_listed(caller=caller, listed=[t["name"] for t in page["tools"]], total=len(definitions),
                          offset=selectors.decode_cursor(cursor))
    return page


def _search_and_audit(caller: Caller, query: str, category: str) -> dict[str, Any]:
    """``mcpforge_search_tools``, audited (``tool.searched``)."""
    found = search_first.search(selectors.search_entries(caller), query, category)
    services.tools_searched(caller=caller, query=query, category=category, found=[f["name"] for f in found])
    text = "\n".join(f"{f['name']}: {f['description']}" for f in found) or "No tool you may call matches."
    return results.text_result(text, structured={"tools": found})


def _describe_and_audit(caller: Caller, name: str) -> dict[str, Any]:
    """``mcpforge_describe_tool``, audited (``tool.described``)."""
    result = selectors.describe_tool(caller, name)
    services.tool_described(caller=caller, name=name, result=result)
    return result


def _status_and_audit(caller: Caller, request_id: str) -> dict[str, Any]:
    """``mcpforge_approval_status``, audited (``approval.status_checked``)."""
    result = selectors.approval_status(caller=caller, request_id=request_id)
    services.status_checked(caller=caller, request_id=request_id, result=result)
    return result


class Gateway:
    """The ASGI app mounted at /mcp and the SDK server behind it."""

    def __init__(self) -> None:
        self.server: Server[Any] = Server(
            "MCPForge", version="1.0", instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools, on_call_tool=self.call_tool,
            get_tool_input_schema=_no_header_schema,
        )
        # The SDK wraps every request in an OpenTelemetry span; MCPForge exports no traces (its
        # record is the audit log), so the per-request span would be pure overhead.
        self.server.middleware = []
        self.session_manager: StreamableHTTPSessionManager | None = None
        self.db: Database | None = None
        self.hot: HotPathDatabase | None = None
        self.http = None
        self.limiter: RateLimiter | None = None
        self.background = None

    # ------------------------------------------------------------------ lifecycle

    @asynccontextmanager
    async def lifespan(self, app=None):
        """Start the SDK's session manager, the database pool, the upstream client and the
        rate limiter; close them all on shutdown. One running lifespan per process."""
        if self.session_manager is not None:
            raise RuntimeError("The MCP gateway is already running in this process.")
        manager = StreamableHTTPSessionManager(app=self.server, stateless=True, json_response=True)
        db = Database(conf.get_int("MCP_DB_THREADS"))
        hot = HotPathDatabase(conf.get_int("MCP_DB_ASYNC_CONNECTIONS"), batch_ms=conf.get_int("MCP_AUDIT_BATCH_MS"))
        await hot.open()
        http = upstream.new_async_client()
        limiter = RateLimiter(settings.REDIS_URL, prefix=settings.MCP_RATE_LIMIT_PREFIX)
        _freeze_startup_heap()
        try:
            # ``background`` outlives single requests (completion audits); on shutdown it is
            # awaited before the database pool closes, so no audit row is dropped.
            async with anyio.create_task_group() as background, manager.run():
                self.session_manager, self.db, self.hot, self.http, self.limiter = manager, db, hot, http, limiter
                self.background = background
                yield
        finally:
            self.session_manager = self.db = self.hot = self.http = self.limiter = self.background = None
            await http.aclose()
            await limiter.close()
            await hot.close()
            await anyio.to_thread.run_sync(db.close)

    # ------------------------------------------------------------------ HTTP layer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.session_manager is None or self.db is None:
            await _json_rpc_error(503, "The MCP gateway is not running (ASGI lifespan not started).")(
                scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming_id = headers.get("x-request-id", "")
        request_id = incoming_id if REQUEST_ID_RE.match(incoming_id) else uuid.uuid4().hex

        origin = headers.get("origin")
        extra_headers = [(b"x-request-id", request_id.encode())]
        if origin is not None and conf.normalise_origin(origin) in conf.allowed_origins():
            extra_headers += _cors_headers(origin)

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra_headers]}
            await send(message)

        root = scope.get("root_path", "")
        path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
        match = PATH_RE.match(path)
        if match is None:
            await _json_rpc_error(404, "No MCP endpoint here: the address is "
                                       "/mcp/<organization>/<project>/<environment>/.")(scope, receive, send_with_id)
            return

        if origin is not None and conf.normalise_origin(origin) not in conf.allowed_origins():
            await _json_rpc_error(403, f"Origin {origin[:100]} may not call this MCP endpoint "
                                       "(MCP_ALLOWED_ORIGINS).")(scope, receive, send_with_id)
            return
        domain, _port = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, _allowed_hosts()):
            await _json_rpc_error(400, "Invalid Host header.")(scope, receive, send_with_id)
            return
        if scope["method"] == "OPTIONS":
            # A browser's CORS preflight carries no Authorization header: answer it before
            # authentication. Only allowed origins get here (checked above).
            await Response(status_code=204, headers={
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_REQUEST_HEADERS,
                "Access-Control-Max-Age": "600",
            })(scope, receive, send_with_id)
            return

        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        raw_token = credentials.strip() if scheme.lower() == "bearer" else ""
        client = scope.get("client")
        context = RequestContext(request_id=request_id, ip=client[0] if client else None,
                                 user_agent=headers.get("user-agent", "")[:400])
        try:
            if hooks.is_oauth_token(raw_token):  # OAuth access token: audience checked per request
                params = await self.db.run(hooks.oauth_caller_params, raw_token=raw_token, org_slug=match["org"],
                                           project_slug=match["project"], env_slug=match["env"],
                                           toolset_slug=match["toolset"] or "", context=context)
            else:
                params = selectors.caller_params(raw_token=raw_token, org_slug=match["org"],
                                                 project_slug=match["project"], env_slug=match["env"])
        except GatewayRefusal as refusal:
            await (await self._rejection(refusal, scope["path"], context))(scope, receive, send_with_id)
            return
        except DatabaseError:
            logger.exception("MCP request refused: the OAuth token could not be looked up")
            await _json_rpc_error(503, "MCPForge cannot reach its database right now; try again shortly.",
                                  headers={"Retry-After": "5"})(scope, receive, send_with_id)
            return
        auth = Authentication(raw_token=raw_token, params=params, path=scope["path"], context=context,
                              search_path=match["mode"] == "search", toolset_slug=match["toolset"] or "")
        hit = self.hot.cached(params) if not auth.toolset_slug else None
        if hit is not None:  # confirmed later, in the statement of the first write (see Authentication)
            auth.caller, auth.fingerprint = dataclasses.replace(hit[0], context=context), hit[1]
        elif (rejection := await self._confirm(auth)) is not None:
            await rejection(scope, receive, send_with_id)
            return
        if auth.toolset_slug and (rejection := await self._resolve_toolset(auth)) is not None:
            await rejection(scope, receive, send_with_id)
            return

        held_start: list[dict[str, Any]] = []

        async def confirmed_send(message) -> None:
            """Nothing leaves before the caller is confirmed; a refusal found late replaces the
            SDK's answer (the agent sees the same 401/403/404 as when it is found first)."""
            if auth.replaced:
                return
            if message["type"] == "http.response.start":
                if not auth.confirmed and auth.rejection is None:
                    await self._confirm(auth)
                if auth.rejection is not None:
                    auth.replaced = True
                    await auth.rejection(scope, receive, send_with_id)
                    return
                if auth.listed_tools is not None:  # held until the body it describes is spliced
                    held_start.append(message)
                    return
            elif held_start:
                start, message = _spliced(held_start.pop(), message, auth.listed_tools)
                await send_with_id(start)
            await send_with_id(message)

        scope[AUTH_SCOPE_KEY] = auth
        background = self.background  # outlives this request (see lifespan)
        try:
            await self.session_manager.handle_request(scope, receive, confirmed_send)
        finally:
            for fn, args in auth.after_response:  # also when the agent went away mid-answer
                background.start_soon(fn, *args)

    async def _rejection(self, refusal: GatewayRefusal, path: str, context: RequestContext) -> Response:
        """The HTTP answer to a refused caller (audited when the token is one of ours)."""
        if refusal.audit_token is not None:
            await self.db.run(services.request_refused, token=refusal.audit_token, reason=refusal.reason,
                              path=path, context=context)
        extra: dict[str, str] = {}
        if refusal.status == 401:
            # RFC 9728: where an OAuth client finds this endpoint's authorization server.
            challenge = 'Bearer realm="mcpforge"'
            if (metadata := hooks.resource_metadata_url(path)) is not None:
                challenge += f', resource_metadata="{metadata}"'
            if refusal.error:
                description = refusal.message.replace('"', "'")
                challenge += f', error="{refusal.error}", error_description="{description}"'
            extra["WWW-Authenticate"] = challenge
        return _json_rpc_error(refusal.status, refusal.message, headers=extra)

    async def _confirm(self, auth: Authentication) -> Response | None:
        """Read the caller's row now (``HotPathDatabase.caller``): ``auth`` becomes confirmed,
        or gets the rejection to answer with, which is also returned."""
        try:
            caller, fingerprint = await self.hot.caller(raw_token=auth.raw_token, params=auth.params)
        except (psycopg.Error, PoolTimeout):
            logger.exception("MCP request refused: the caller could not be looked up")
            auth.rejection = _json_rpc_error(503, "MCPForge cannot reach its database right now; try again shortly.",
                                             headers={"Retry-After": "5"})
        except GatewayRefusal as refusal:
            auth.rejection = await self._rejection(refusal, auth.path, auth.context)
        else:
            auth.caller, auth.fingerprint = dataclasses.replace(caller, context=auth.context,
                                                                toolset=auth.toolset), fingerprint
            auth.confirmed = True
        return auth.rejection

    async def _resolve_toolset(self, auth: Authentication) -> Response | None:
        """At a toolset endpoint (caller confirmed): the toolset of the caller's snapshot, or a
        404 like any unknown endpoint. The snapshot's version was read with the caller, so a
        toolset changed since is read anew (its change bumped the version)."""
        snap = auth.caller.snapshot()
        views = snap.toolsets
        if views is None:
            views = await self.db.run(snapshot_toolsets, snap, context=auth.context)
        toolset = views.get(auth.toolset_slug)
        if toolset is None:
            return _json_rpc_error(404, "No MCP endpoint at this address: this project has no toolset "
                                        f"{auth.toolset_slug[:60]!r}.")
        auth.toolset = toolset
        auth.caller = dataclasses.replace(auth.caller, toolset=toolset)
        return None

    async def _confirmed(self, auth: Authentication) -> Caller:
        """The confirmed caller; raises (and the HTTP answer becomes the rejection) if refused."""
        if not auth.confirmed and await self._confirm(auth) is not None:
            raise MCPError(-32001, "Not authenticated.")
        return auth.caller

    # ------------------------------------------------------------------ MCP handlers

    @staticmethod
    def _auth(ctx) -> Authentication:
        request = getattr(ctx, "request", None)
        auth = request.scope.get(AUTH_SCOPE_KEY) if request is not None else None
        if auth is None:  # only reachable if someone mounts the SDK app without Gateway.__call__
            raise MCPError(-32001, "Not authenticated.")
        return auth

    @staticmethod
    def _limits(caller: Caller, tool_name: str | None) -> list[Limit]:
        limits = [Limit("token", str(caller.token.pk), conf.get_int("MCP_RATE_LIMIT_PER_TOKEN"))]
        if tool_name is not None:
            per_tool = conf.get_int("MCP_RATE_LIMIT_PER_TOOL")
            limits.append(Limit("tool", f"{caller.environment.pk}:{tool_name}", per_tool))
        return limits

    async def _check_rate(self, caller: Caller, *, tool_name: str | None, arguments: Any = None,
                          verdict: Verdict | None = None, auth: Authentication | None = None) -> None:
        """Count the call in Redis (or take the ``verdict`` of a count already made); refuse it,
        audited as ``tool.call_denied``, when a limit is exceeded or Redis is unreachable."""
        if verdict is None:
            verdict = await self.limiter.hit(self._limits(caller, tool_name))
        if verdict.allowed:
            return
        if verdict.unavailable:
            reason = "rate_limiter_unavailable"
            message = "The rate limiter is unavailable, so the gateway refuses calls for now; try again shortly."
            data: dict[str, Any] = {"reason": reason, "retryAfterSeconds": 5}
        else:
            reason = "rate_limited"
            who = "this token" if verdict.scope == "token" else f"tool {tool_name} in this environment"
            message = (f"Rate limit exceeded: {verdict.limit} calls per minute for {who}. "
                       f"Retry in {verdict.retry_after} s.")
            data = {"reason": reason, "scope": verdict.scope, "limitPerMinute": verdict.limit,
                    "retryAfterSeconds": verdict.retry_after}
        if tool_name is not None:
            if auth is not None:  # the refusal is audited in the caller's name: confirm it first
                caller = await self._confirmed(auth)
            await self.db.run(services.call_refuse, caller=caller, name=tool_name, reason=reason, message=message,
                              arguments=arguments, context=caller.context)
        raise MCPError(RATE_LIMITED, message, data=data)

    async def list_tools(self, ctx, params) -> dict[str, Any]:
        caller = await self._confirmed(self._auth(ctx))
        cursor = params.cursor if params is not None else None
        try:
            selectors.decode_cursor(cursor)
        except ValueError:
            raise MCPError(INVALID_PARAMS, "Invalid cursor: pass back the nextCursor of the previous page.") from None
        await self._check_rate(caller, tool_name=None)
        if self._auth(ctx).search_first:
            return await self.db.run(_meta_list_and_audit, caller, cursor, context=caller.context)
        page, tools = await self.db.run(_list_and_audit, caller, cursor, conf.get_int("MCP_TOOLS_PAGE_SIZE"),
                                        ctx.protocol_version, context=caller.context)
        self._auth(ctx).listed_tools = tools  # spliced into the SDK's answer (confirmed_send)
        return page

    @staticmethod
    def _url_elicitation(ctx) -> bool:
        """Whether this request's client can be answered ``input_required`` with a URL-mode
        elicitation: protocol 2026-07-28 or later, and ``elicitation.url`` declared in its
        capabilities (a server must not send a mode the client did not declare)."""
        version = getattr(ctx, "protocol_version", None)
        if not isinstance(version, str) or not is_version_at_least(version, INPUT_REQUIRED_VERSION):
            return False
        session = getattr(ctx, "session", None)
        capabilities = getattr(session, "client_capabilities", None) if session is not None else None
        elicitation = getattr(capabilities, "elicitation", None)
        return elicitation is not None and getattr(elicitation, "url", None) is not None

    async def _retry_held(self, ctx, auth: Authentication, name: str, arguments: dict[str, Any],
                          state: Any) -> dict[str, Any]:
        """A tools/call carrying ``requestState``: only ever the answer of the held call it names."""
        caller = await self._confirmed(auth)
        await self._check_rate(caller, tool_name=None)
        try:
            return await self.db.run(services.held_retry, caller=caller, name=name, arguments=arguments, state=state,
                                     interactive=self._url_elicitation(ctx), context=caller.context)
        except held.StateRefused as refused:
            raise MCPError(INVALID_PARAMS, refused.message,
                           data={"reason": "invalid_request_state", "detail": refused.detail}) from None

    async def call_tool(self, ctx, params) -> dict[str, Any]:
        auth = self._auth(ctx)
        name = params.name
        arguments = dict(params.arguments or {})
        if name in search_first.META_TOOLS:  # whether they are served depends on the endpoint's current switches
            await self._confirmed(auth)
        state = getattr(params, "request_state", None)
        if state is not None and not (auth.search_first and name == search_first.CALL_TOOL):
            return await self._retry_held(ctx, auth, name, arguments, state)
        if name == results.BUILTIN_STATUS_TOOL:
            caller = await self._confirmed(auth)
            await self._check_rate(caller, tool_name=None)
            request_id = arguments.get("request_id")
            if not isinstance(request_id, str) or not request_id.strip():
                return results.error_result("Pass the request_id the held call returned.")
            return await self.db.run(_status_and_audit, caller, request_id, context=caller.context)
        if name == search_first.SEARCH_TOOL and auth.search_first:  # the name first: search_first reads settings
            caller = await self._confirmed(auth)
            await self._check_rate(caller, tool_name=None)
            query, category = arguments.get("query"), arguments.get("category") or ""
            if not isinstance(query, str) or not isinstance(category, str):
                return results.error_result("Pass query (words) and optionally category, as strings.")
            return await self.db.run(_search_and_audit, caller, query, category, context=caller.context)
        if name == search_first.CALL_TOOL and auth.search_first:
            target, inner = arguments.get("name"), arguments.get("arguments") or {}
            if not isinstance(target, str) or not target.strip() or not isinstance(inner, dict):
                return results.error_result("Pass the name of a tool from the search and its arguments object.")
            if target in search_first.META_TOOLS:
                return results.error_result(f"{target} cannot be called through {search_first.CALL_TOOL}.")
            # the ordinary call path, under the underlying tool's name: same governance and audit
            return await self.call_tool(ctx, SimpleNamespace(name=target.strip(), arguments=inner,
                                                             meta=getattr(params, "meta", None),
                                                             request_state=state))
        if name == results.BUILTIN_DESCRIBE_TOOL and (auth.search_first or auth.caller.listing[0]):
            caller = await self._confirmed(auth)
            await self._check_rate(caller, tool_name=None)
            described = arguments.get("name")
            if not isinstance(described, str) or not described.strip():
                return results.error_result("Pass the name of a tool from tools/list.")
            return await self.db.run(_describe_and_audit, caller, described.strip(), context=caller.context)

        meta = getattr(params, "meta", None)
        if meta is not None and not isinstance(meta, dict):
            meta = meta.model_dump(by_alias=True)
        justification = str((meta or {}).get(JUSTIFICATION_META_KEY) or "")
        # The Redis round trip of the rate limits overlaps the planning of the call (CPU work on
        # this loop); its verdict is taken before anything is written or sent upstream.
        rate = asyncio.ensure_future(self.limiter.hit(self._limits(auth.caller, name)))
        try:
            plan = await self._begin(auth, name, arguments, justification, rate)
        except (DatabaseError, psycopg.Error, PoolTimeout):
            logger.exception("tools/call %s refused: the audit trail could not be written", name)
            raise MCPError(INTERNAL_ERROR, "MCPForge could not record this call in its audit log, so the call "
                                           "was not made. Try again later.") from None
        finally:
            if not rate.done():
                rate.cancel()
        caller = auth.caller  # confirmed by now
        if plan.action == "fail":
            raise MCPError(plan.error_code, plan.error_message)
        if plan.action == "respond":
            if not plan.approval_id:
                return plan.result
            wait = conf.get_int("MCP_APPROVAL_WAIT_SECONDS")
            if wait > 0 and (final := await self._wait_for_decision(caller, plan, wait)) is not None:
                return final
            if self._url_elicitation(ctx):
                return await self.db.run(services.held_input_required, caller=caller, name=name,
                                         arguments=arguments, approval_id=plan.approval_id, context=caller.context)
            return plan.result

        outcome = await upstream.send_async(plan.request, tool=plan.tool, environment=caller.environment,
                                            client=self.http)
        # The attempt is already audited (tool.called, committed before the call). The outcome row
        # is prepared after the answer has left (Authentication.after_response) and written with
        # the others of the next few milliseconds (HotPathDatabase.append_later), off the agent's
        # latency path; shutdown writes what is queued.
        auth.after_response.append((self._audit_completion, (caller, plan, outcome)))
        return results.outcome_result(outcome)

    async def _begin(self, auth: Authentication, name: str, arguments: dict[str, Any], justification: str,
                     rate: asyncio.Future) -> services.CallPlan:
        """``services.call_begin`` once the rate limits (``rate``) allow the call: planned on the
        event loop when the project snapshot is warm (no ORM query) with its audit row on the
        asynchronous pool, confirming a cached caller in the same statement; otherwise, and
        for held calls, in a database thread with the caller confirmed first. Raises when the
        audit row cannot be written; on return ``auth`` is confirmed."""
        caller = auth.caller
        # Large arguments are validated in a database thread, not on this loop: the work is
        # linear (regexes on RE2) but a megabyte of it would still delay every other request.
        large = argument_size(arguments, LARGE_ARGUMENT_CHARS) > LARGE_ARGUMENT_CHARS
        if large or not services.call_is_warm(caller, name):
            caller = await self._confirmed(auth)
            await self._check_rate(caller, tool_name=name, arguments=arguments, verdict=await rate)
            return await self.db.run(services.call_begin, caller=caller, name=name, arguments=arguments,
                                     justification=justification, context=caller.context)
        await let_hit_send()  # the rate-limit task sends its request before the CPU work below
        with request_context.active(caller.context):
            plan = services.call_plan(caller=caller, name=name, arguments=arguments, justification=justification)
        await self._check_rate(caller, tool_name=name, arguments=arguments, verdict=await rate, auth=auth)
        if plan.action == "hold" or plan.audit is None:
            if not auth.confirmed and await self._confirmed(auth) is not caller:
                return await self._begin(auth, name, arguments, justification, rate)  # changed: plan again
            if plan.action == "hold":
                return await self.db.run(services.call_hold, caller=caller, plan=plan, context=caller.context)
            return plan
        if auth.confirmed:
            await self.hot.audit(plan.audit)  # committed before anything else happens
        elif await self.hot.audit_if_unchanged(plan.audit, auth.params, auth.fingerprint) is not None:
            auth.confirmed = True
        else:  # the caller's row changed since it was cached; nothing was written
            await self._confirmed(auth)
            return await self._begin(auth, name, arguments, justification, rate)
        plan.audit = None
        return plan

    async def _audit_completion(self, caller: Caller, plan: services.CallPlan, outcome) -> None:
        try:
            with request_context.active(caller.context):
                pending = services.completion_event(caller=caller, plan=plan, outcome=outcome)
            self.hot.append_later(pending)
        except Exception:
            logger.exception("could not audit the completion of call %s", plan.call_id)

    async def _wait_for_decision(self, caller: Caller, plan: services.CallPlan, wait: int) -> dict[str, Any] | None:
        """Long-poll a held call for up to ``wait`` seconds: the executed result, a refusal, or
        None while it is still open (the caller answers pending or input_required)."""
        deadline = anyio.current_time() + wait
        while (remaining := deadline - anyio.current_time()) > 0:
            await anyio.sleep(min(APPROVAL_POLL_SECONDS, remaining))
            final = await self.db.run(selectors.approval_outcome, caller=caller, request_id=plan.approval_id,
                                      context=caller.context)
            if final is not None:
                return final
        return None


_heap_frozen = False


def _freeze_startup_heap() -> None:
    """Move what startup allocated (Django, the SDK, pydantic models, the app's modules: a few
    hundred thousand tracked objects) to the collector's permanent generation, once per
    process, so that a full (gen2) collection no longer walks it: each took ~100 ms of the
    event loop, a p99 hazard. Objects are still freed by reference counting; only cycles among
    them are never collected, and startup leaves none once collected here."""
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


gateway = Gateway()
