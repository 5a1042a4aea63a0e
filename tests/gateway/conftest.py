"""Real components for the gateway tests: Stoplight Prism mocking the Petstore API, the real
ASGI app (mcpforge.asgi:application) under uvicorn on a loopback port, a small local
upstream that misbehaves on purpose, and the official mcp SDK client."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT, SPECS_DIR

PETSTORE_API_KEY = "prism-api-key-0042"
PETSTORE_OAUTH_TOKEN = "prism-oauth-token-0042"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answers(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s: {last}")


# Session servers by name. Another test package may import these fixtures (tests/e2e does):
# pytest then holds a second fixture definition, and this registry makes it reuse the running
# server instead of starting a second one (the gateway keeps process-wide state).
_RUNNING: dict[str, str] = {}


def run_async(coroutine) -> Any:
    """asyncio.run, or on a helper thread when this thread already runs a loop (Playwright)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def prism() -> str:
    """Stoplight Prism mocking petstore-v3.yaml (static examples) on a free loopback port."""
    if "prism" in _RUNNING:
        yield _RUNNING["prism"]
        return
    binary = REPO_ROOT / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "install-node-deps.sh")], check=True, cwd=REPO_ROOT)
    port = free_port()
    log = open(REPO_ROOT / "test-artifacts" / "prism.log", "w") if (REPO_ROOT / "test-artifacts").is_dir() \
        else subprocess.DEVNULL
    process = subprocess.Popen(
        [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPECS_DIR / "petstore-v3.yaml")],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(url + "/store/order/1", process=process)
        _RUNNING["prism"] = url
        yield url
    finally:
        _RUNNING.pop("prism", None)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log is not subprocess.DEVNULL:
            log.close()


class ThreadedUvicorn:
    """An ASGI app served by uvicorn on a loopback port in a background thread."""

    def __init__(self, app: Any, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedUvicorn:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="session")
def gateway_server(django_db_setup, django_db_blocker) -> str:
    """mcpforge.asgi:application (Django + the MCP gateway) under uvicorn, on the test database."""
    if "gateway" in _RUNNING:
        yield _RUNNING["gateway"]
        return
    from mcpforge.asgi import application

    with django_db_blocker.unblock(), ThreadedUvicorn(application) as server:
        _RUNNING["gateway"] = server.url
        try:
            yield server.url
        finally:
            _RUNNING.pop("gateway", None)


UPSTREAM_HITS: list[str] = []  # paths the misbehaving upstream served, in order


def _misbehaving_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    async def slow(request):
        UPSTREAM_HITS.append(request.url.path)
        await asyncio.sleep(float(request.query_params.get("seconds", "5")))
        return JSONResponse({"late": True})

    async def boom(request):
        UPSTREAM_HITS.append(request.url.path)
        return Response("database exploded: stack trace line 1\n" * 3, status_code=500, media_type="text/plain")

    async def huge(request):
        return JSONResponse({"items": ["x" * 1000] * 3000})  # ~3 MB

    async def redirect_away(request):
        return RedirectResponse("http://example.com/steal", status_code=302)

    async def echo(request):
        UPSTREAM_HITS.append(request.url.path)
        return JSONResponse({"path": request.scope["raw_path"].decode(), "query": dict(request.query_params),
                             "headers": {k: v for k, v in request.headers.items()},
                             "body": (await request.body()).decode()})

    return Starlette(routes=[
        Route("/slow", slow), Route("/boom", boom), Route("/huge", huge), Route("/redirect", redirect_away),
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE"]),
    ])


@pytest.fixture(scope="session")
def misbehaving_upstream() -> str:
    """A local upstream that is slow, fails, answers too much or redirects away, on purpose."""
    with ThreadedUvicorn(_misbehaving_app()) as server:
        yield server.url


WEIRD_SPEC = """
openapi: 3.0.3
info: {title: Weird upstream, version: "1.0"}
servers: [{url: "http://weird.invalid"}]
paths:
  /slow:
    get:
      operationId: getSlow
      summary: Answers late
      parameters: [{name: seconds, in: query, schema: {type: number}}]
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /boom:
    get:
      operationId: getBoom
      summary: Always fails
      responses: {"200": {description: ok}}
  /huge:
    get:
      operationId: getHuge
      summary: Answers with megabytes
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /redirect:
    get:
      operationId: getRedirect
      summary: Redirects elsewhere
      responses: {"200": {description: ok}}
  /echo/{thing}:
    get:
      operationId: getEcho
      summary: Echoes the request it received
      parameters:
        - {name: thing, in: path, required: true, schema: {type: string}}
        - {name: q, in: query, schema: {type: string}}
        - {name: X-Trace, in: header, schema: {type: string}}
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
"""


@pytest.fixture
def weird(world, misbehaving_upstream):
    """A second project whose development environment calls the misbehaving local upstream."""
    from apps.credentials.services import environment_upstream_set
    from apps.governance.services import grant_create
    from tests.factories import import_spec, make_project

    owner = world.people.owner
    project = make_project(world.people.org, owner, name="Weird")
    version = import_spec(project, "weird.yaml", owner, data=WEIRD_SPEC.encode())
    assert version.status == "ready", version.status
    env = project.environments.get(slug="development")
    environment_upstream_set(environment=env, base_url=misbehaving_upstream, allow_private_network=True, actor=owner)
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    return f"{world.url}/mcp/{world.people.org.slug}/{project.slug}/development/"


@dataclass
class World:
    """An organization with Petstore imported, the development environment pointed at Prism
    with credentials, and grants giving three people three different tool lists."""

    people: Any
    project: Any
    environment: Any
    staging: Any
    url: str
    tokens: dict[str, str]

    def endpoint(self, environment=None) -> str:
        env = environment or self.environment
        return f"{self.url}/mcp/{self.people.org.slug}/{self.project.slug}/{env.slug}/"


def make_token(user, org, name: str = "agent", expires_days: int | None = None) -> str:
    from apps.accounts.services import token_create

    _, raw = token_create(organization=org, user=user, name=name, expires_days=expires_days)
    return raw


@pytest.fixture
def world(transactional_db, people, gateway_server, prism) -> World:
    from apps.credentials.services import credential_set, environment_upstream_set
    from apps.governance.services import grant_create
    from tests.factories import import_spec, make_project

    owner = people.owner
    project = make_project(people.org, owner)
    version = import_spec(project, "petstore-v3.yaml", owner)
    assert version.status == "ready", version.status
    envs = {e.slug: e for e in project.environments.all()}
    dev = envs["development"]
    environment_upstream_set(environment=dev, base_url=prism, allow_private_network=True, actor=owner)
    credential_set(environment=dev, scheme_name="api_key", values={"value": PETSTORE_API_KEY}, actor=owner)
    credential_set(environment=dev, scheme_name="petstore_auth", values={"access_token": PETSTORE_OAUTH_TOKEN},
                   actor=owner, kind="oauth2_token")
    # Three people, three lists: the viewer has no grant, the member may call read-only
    # tools everywhere, the admin may call every tool in development.
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member",
                 categories=["read_only"])
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="admin",
                 environment=dev, all_tools=True)
    tokens = {role: make_token(people.by_role(role), people.org) for role in ("owner", "admin", "member", "viewer")}
    dev.refresh_from_db()
    return World(people=people, project=project, environment=dev, staging=envs["staging"], url=gateway_server,
                 tokens=tokens)


def run_client(endpoint: str, token: str | None, fn: Callable[[Any], Awaitable[Any]], *, mode: str = "auto",
               headers: dict[str, str] | None = None) -> Any:
    """Connect the official SDK client (streamable HTTP) and run ``fn(client)``."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main() -> Any:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        async with httpx2.AsyncClient(headers=all_headers, timeout=httpx2.Timeout(30.0)) as http:
            transport = streamable_http_client(endpoint, http_client=http)
            async with Client(transport, mode=mode, cache=None) as client:
                return await fn(client)

    try:
        return run_async(main())
    except BaseExceptionGroup as group:  # the client's task group wraps what fn raised
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if leaf is group:
            raise
        raise leaf from None


def list_names(endpoint: str, token: str, **kwargs: Any) -> list[str]:
    async def names(client) -> list[str]:
        out: list[str] = []
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            out.extend(tool.name for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                return out

    return run_client(endpoint, token, names, **kwargs)


def call(endpoint: str, token: str, name: str, arguments: dict | None = None, **kwargs: Any):
    async def go(client):
        await client.list_tools()
        return await client.call_tool(name, arguments or {})

    return run_client(endpoint, token, go, **kwargs)


def audit_events(org, *types: str) -> list:
    """The organization's audit events (of ``types``), oldest first. Completion rows are written
    just after the agent's answer leaves, so this first waits (up to 5 s) until every started
    call has its tool.call_completed row."""
    from apps.audit.models import AuditEvent

    events = AuditEvent.objects.filter(organization=org)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        started = events.filter(event_type="tool.called", payload__outcome="started").count()
        if events.filter(event_type="tool.call_completed").count() >= started:
            break
        time.sleep(0.05)
    qs = events.order_by("seq")
    if types:
        qs = qs.filter(event_type__in=types)
    return list(qs)


@pytest.fixture
def eager_celery():
    """Celery tasks run inline (an approved call executes in the approving request)."""
    from mcpforge.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
