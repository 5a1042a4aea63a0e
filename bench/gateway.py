#!/usr/bin/env python
"""MCP gateway overhead: N sequential tools/call through the gateway vs N direct calls.

Run alone: ``.venv/bin/python bench/gateway.py [--n 500] [--list-n 30]``. Needs Postgres and
Redis (``make services``); DATABASE_URL / REDIS_URL as for the app. It creates a throwaway
database (``mcpforge_bench_<pid>``, migrated, dropped at the end), so the app's data is not
touched.

Three processes, as in production: a tiny upstream API (uvicorn), the real ASGI app
(``uvicorn mcpforge.asgi:application``: token auth, governance decision, JSON Schema
validation, approval-policy evaluation, the upstream API key injected from the encrypted
credential store, Redis rate limits and the two audit rows per call, all on) and this
client, which sends raw JSON-RPC over a keep-alive httpx connection so the numbers measure
the gateway, not an SDK client. Added latency is the gateway percentile
minus the direct percentile; the direct calls, the SDK no-op server and the gateway take turns
of ``--block`` calls, so a phase where this shared machine runs slower weighs on all alike.
tools/list is timed on the Box API (~300 operations).

CPU per call is read from /proc for the gateway, Redis, the upstream and the PostgreSQL
backends of the throwaway database (pg_stat_activity, read before and after each turn): on a
server other databases share, counting every postgres process measured their load too.
``--pg-set`` sets server parameters for the gateway's sessions (``ALTER DATABASE``: the hot
path's connections pass ``options`` of their own, so ``PGOPTIONS`` never reaches them), e.g.
``--pg-set "log_min_duration_statement=0;log_lock_waits=on;deadlock_timeout=1ms"`` or
auto_explain with ``session_preload_libraries=auto_explain;auto_explain.log_min_duration=0;
auto_explain.log_nested_statements=on``; the server log's lines name the database.

Before/after: ``--versus CHECKOUT`` (a worktree of an earlier commit with its ``.venv``, e.g.
``git worktree add --detach ../before <commit>`` and ``ln -s $PWD/.venv ../before/.venv``)
runs that checkout's gateway too, migrated and seeded by its own code on a throwaway database
of its own, against the same upstream; the two gateways take turns (``--block 100`` makes many
short turns) and the report adds, per protocol era, the median over turns of this checkout's
p50 minus the other's. This VM's speed drifts by a factor of two between minutes, so two
separate runs cannot show a difference of a few hundred microseconds; turns within one run can.
``--versus . --versus-env NAME=VALUE`` compares two settings of one checkout instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# --versus runs this file in another checkout's virtualenv with BENCH_REPO set to that checkout.
REPO = Path(os.environ.get("BENCH_REPO") or HERE.parent).resolve()
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("MCPFORGE_TESTING", "true")  # development KEK file, plain static storage
# Its own Redis database and Celery queue (bench/isolation.py, BENCH_REDIS_DB, default 14): the
# bench never shares rate-limit counters, cache or queues with a running instance or a test run.
try:
    import bench.isolation  # noqa: E402,F401
except ImportError:  # an older checkout (--versus) without bench/isolation.py: this one's
    import importlib.util

    _spec = importlib.util.spec_from_file_location("bench_isolation", HERE / "isolation.py")
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))

os.environ["MCP_RATE_LIMIT_PER_TOKEN"] = os.environ.get("BENCH_RATE_LIMIT", "1000000")  # on, never hit
os.environ["MCP_RATE_LIMIT_PER_TOOL"] = os.environ.get("BENCH_RATE_LIMIT", "1000000")

BENCH_API_KEY = "bench-upstream-key-0042"
VERSUS = "other: gateway"  # --versus
SERVE_MARK = "BENCH-SERVE "
UVICORN = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
UPSTREAM_SPEC = b"""
openapi: 3.0.3
info: {title: Bench upstream, version: "1.0"}
components:
  securitySchemes:
    apiKey: {type: apiKey, in: header, name: X-API-Key}
security: [{apiKey: []}]
paths:
  /items/{id}:
    get:
      operationId: getItem
      summary: One item
      parameters: [{name: id, in: path, required: true, schema: {type: integer, minimum: 0}}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object, properties: {id: {type: integer}, name: {type: string}}}
"""

UPSTREAM_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def item(request):
    if request.headers.get("x-api-key") != "bench-upstream-key-0042":  # the gateway must inject the credential
        return JSONResponse({"error": "missing or wrong API key"}, status_code=401)
    return JSONResponse({"id": int(request.path_params["id"]), "name": "bench item"})

app = Starlette(routes=[Route("/items/{id}", item)])
"""

# The floor: the same SDK configuration (stateless, JSON responses) with a handler that does
# nothing, to show what the protocol layer alone costs on this machine.
NOOP_MCP_APP = """
from contextlib import asynccontextmanager

from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import Mount


async def call_tool(ctx, params):
    return {"content": [{"type": "text", "text": "{}"}], "structuredContent": {"id": 1}, "isError": False,
            "resultType": "complete"}


server = Server("noop", on_call_tool=call_tool, get_tool_input_schema=lambda name: None)
manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)


@asynccontextmanager
async def lifespan(app):
    async with manager.run():
        yield


app = Starlette(routes=[Mount("/mcp", app=manager.handle_request)], lifespan=lifespan)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_env(db: dict) -> dict[str, str]:
    """The environment of a gateway process on the throwaway database ``db`` (Django's settings)."""
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    return {**os.environ, "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DEBUG": "false", "LOG_LEVEL": "WARNING"}


def database_settings(settings_text: str) -> None:
    """``--pg-set "name=value;..."``: server settings for every later session of the throwaway
    database (``ALTER DATABASE ... SET``), i.e. the gateway's, to diagnose a run, e.g.
    ``log_min_duration_statement=0;log_lock_waits=on;deadlock_timeout=1ms`` (the server log's
    lines carry the database name, which tells this run's apart)."""
    from django.db import connection
    from psycopg import sql

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
        for item in filter(None, (part.strip() for part in settings_text.split(";"))):
            key, _, value = item.partition("=")
            cursor.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(name), sql.SQL(".").join(map(sql.Identifier, key.strip().split("."))),
                sql.Literal(value.strip())).as_string(None))


def stop_all(processes: list[subprocess.Popen], old_config) -> None:
    """Stop the bench's servers (SIGTERM, then SIGKILL after 15 s) and drop the throwaway database."""
    from django.db import connections
    from django.test.utils import teardown_databases

    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    connections.close_all()
    teardown_databases(old_config, verbosity=0)


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def seed(upstream_url: str):
    """Organization, member with a token, the bench API (development environment pointed at the
    local upstream, everything granted, a critical-tools approval policy so policy evaluation
    runs) and Box for tools/list."""
    from apps.accounts.models import Membership
    from apps.accounts.services import organization_create, token_create, user_create
    from apps.credentials.services import credential_set, environment_upstream_set
    from apps.governance.services import grant_create, policy_create
    from apps.projects.services import project_create
    try:
        from apps.risk.analysis import spec_analyse
    except ImportError:  # a checkout from before the analysis moved to apps.risk (--versus)
        from apps.specs.services import spec_analyse
    from apps.specs.models import SpecVersion
    from apps.specs.services import spec_import

    owner = user_create(email="owner@bench.test")  # no password: nobody logs in to the bench database
    org = organization_create(name="Bench", actor=owner)
    member = user_create(email="agent@bench.test")
    Membership.objects.create(organization=org, user=member, role="member")

    def project(name: str, data: bytes, filename: str):
        proj = project_create(organization=org, name=name, actor=owner)
        version = spec_import(project=proj, data=data, source=SpecVersion.Source.CLI, filename=filename, actor=owner,
                              run_async=False)
        spec_analyse(version_id=version.pk)
        grant_create(project=proj, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
        policy_create(project=proj, actor=owner, name="Critical", kind="single", categories=["critical"])
        return proj

    bench = project("Bench API", UPSTREAM_SPEC, "bench.yaml")
    development = bench.environments.get(slug="development")
    environment_upstream_set(environment=development, base_url=upstream_url, allow_private_network=True, actor=owner)
    credential_set(environment=development, scheme_name="apiKey", values={"value": BENCH_API_KEY}, actor=owner)
    box = project("Box", (Path(os.environ.get("MCPFORGE_SPECS_DIR", REPO.parent / "shared" / "specs"))
                          / "box.json").read_bytes(), "box.json")
    _, raw = token_create(organization=org, user=member, name="bench agent")
    box_tools = box.tools.filter(spec_version__is_current=True).count()
    return org.slug, bench.slug, box.slug, raw, box_tools


def rpc(method: str, params: dict, modern: bool) -> tuple[dict, dict]:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if modern:
        version = "2026-07-28"
        params = {**params, "_meta": {"io.modelcontextprotocol/protocolVersion": version,
                                      "io.modelcontextprotocol/clientCapabilities": {},
                                      "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}}}
        headers["Mcp-Method"] = method
        if method == "tools/call":
            headers["Mcp-Name"] = params["name"]
    else:
        version = "2025-11-25"
    headers["MCP-Protocol-Version"] = version
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, headers


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc), 0 where a process is gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def service_pids(name: str) -> list[int]:
    found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def database_backend_pids(datname: str | None = None) -> list[int]:
    """The PostgreSQL backends connected to the bench's throwaway database (the gateway's, in
    practice; ``datname``: the other checkout's, --versus), not this one: their CPU is the
    database's cost of a call, whatever else the server runs for other databases meanwhile
    (a shared machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = COALESCE(%s, current_database()) "
                       "AND pid <> pg_backend_pid()", [datname])
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def start_profiler(path: str, pid: int) -> subprocess.Popen:
    """py-spy (a dev dependency) samples the gateway process during the tools/call scenarios;
    ``--profile out.txt`` writes collapsed stacks (flamegraph.pl / speedscope input)."""
    spy = Path(sys.executable).with_name("py-spy")
    process = subprocess.Popen([str(spy), "record", "--pid", str(pid), "--rate", "1000", "--format", "raw",
                                "--output", path, "--nonblocking"], stdout=subprocess.DEVNULL)
    time.sleep(1)  # attached before the first sample call
    return process


def stop_profiler(process: subprocess.Popen, path: str, what: str = "tools/call") -> None:
    import signal

    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    print(f"profile of the gateway during {what} written to {path}", flush=True)


async def measure(args, upstream_url: str, gateway_url: str, noop_url: str, org: str, bench: str, box: str,
                  token: str, gateway_pid: int, upstream_pid: int, noop_pid: int, other: dict | None = None):
    import httpx

    auth = {"Authorization": f"Bearer {token}"}
    endpoint = f"{gateway_url}/mcp/{org}/{bench}/development/"
    box_endpoint = f"{gateway_url}/mcp/{org}/{box}/development/"
    results: dict[str, list[float]] = {}
    walls: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}

    async with httpx.AsyncClient(timeout=30) as client:
        postgres, redis = await asyncio.to_thread(database_backend_pids), service_pids("redis-server")

        def watched_of(server_pid: int) -> dict[str, list[int]]:
            return {"server": [server_pid], "postgres": postgres, "redis": redis, "upstream": [upstream_pid]}

        async def run(label: str, n: int, send, server_pid: int = gateway_pid) -> None:
            await interleaved([(label, send, server_pid, None)], n, block=n)

        async def interleaved(scenarios, n: int, block: int) -> None:
            """Run the scenarios in turns of ``block`` calls until each made ``n``: this machine's
            speed drifts over minutes, and a slow phase must slow every scenario alike, or the
            difference between two of them measures the phase, not the gateway."""
            for label, send, _, _ in scenarios:
                results[label], walls[label] = [], 0.0
                cpu[label] = {name: 0.0 for name in watched_of(0)}
                for i in range(min(50, n)):  # warm-up: connections, caches, lazy imports
                    await send(i)
            redis[:] = service_pids("redis-server")  # the database's backends: before each turn
            done = 0
            while done < n:
                size = min(block, n - done)
                for label, send, server_pid, datname in scenarios:
                    postgres[:] = await asyncio.to_thread(database_backend_pids, datname)
                    watched = watched_of(server_pid)
                    cpu_before = {pid: cpu_seconds([pid]) for pids in watched.values() for pid in pids}
                    started = time.perf_counter()
                    for i in range(done, done + size):
                        t0 = time.perf_counter()
                        await send(i)
                        results[label].append((time.perf_counter() - t0) * 1000)
                    walls[label] += time.perf_counter() - started
                    # a backend the gateway's pool opened during the turn counts from its start
                    postgres[:] = sorted(set(postgres) | set(await asyncio.to_thread(database_backend_pids, datname)))
                    for name, pids in watched_of(server_pid).items():
                        cpu[label][name] += sum(cpu_seconds([pid]) - cpu_before.get(pid, 0.0)
                                                for pid in pids) * 1000 / n
                done += size

        async def direct(i: int) -> None:
            response = await client.get(f"{upstream_url}/items/{i}", headers={"X-API-Key": BENCH_API_KEY})
            assert response.status_code == 200

        def via_gateway(modern: bool, endpoint: str = endpoint, auth: dict = auth):
            async def send(i: int) -> None:
                body, headers = rpc("tools/call", {"name": "getItem", "arguments": {"id": i}}, modern)
                response = await client.post(endpoint, json=body, headers={**headers, **auth})
                payload = response.json()
                assert response.status_code == 200 and not payload["result"].get("isError"), payload
            return send

        def noop(modern: bool):
            async def send(i: int) -> None:
                body, headers = rpc("tools/call", {"name": "getItem", "arguments": {"id": i}}, modern)
                response = await client.post(f"{noop_url}/mcp/", json=body, headers=headers)
                assert response.status_code == 200, response.text
            return send

        def listing(modern: bool):
            async def send(i: int) -> None:
                body, headers = rpc("tools/list", {}, modern)
                response = await client.post(box_endpoint, json=body, headers={**headers, **auth})
                assert response.status_code == 200, response.text
                listing.count = len(response.json()["result"]["tools"])
                listing.size = len(response.content)
            return send

        profiler = start_profiler(args.profile, gateway_pid) if args.profile else None
        # with --versus, the other checkout's gateway too, into FILE.other: the two profiles
        # then cover the same minutes of this machine
        other_profiler = start_profiler(args.profile + ".other", other["pid"]) if args.profile and other else None
        scenarios = [
            ("direct upstream (httpx)", direct, upstream_pid, None),
            ("SDK alone, no-op tools/call (2025-11-25)", noop(False), noop_pid, None),
            ("SDK alone, no-op tools/call (2026-07-28)", noop(True), noop_pid, None),
            ("gateway tools/call (2025-11-25)", via_gateway(False), gateway_pid, None),
            ("gateway tools/call (2026-07-28)", via_gateway(True), gateway_pid, None),
        ]
        if other is not None:  # --versus: the other checkout's gateway takes its turns beside this one
            other_endpoint = f"{other['gateway_url']}/mcp/{other['org']}/{other['bench']}/development/"
            other_auth = {"Authorization": f"Bearer {other['token']}"}
            for era, modern in (("2025-11-25", False), ("2026-07-28", True)):
                scenarios.append((f"{VERSUS} tools/call ({era})", via_gateway(modern, other_endpoint, other_auth),
                                  other["pid"], other["database"]))
        await interleaved(scenarios, args.n, block=args.block)
        if profiler:
            stop_profiler(profiler, args.profile)
        if other_profiler:
            stop_profiler(other_profiler, args.profile + ".other", "tools/call (the other checkout)")
        profiler = start_profiler(args.profile_list, gateway_pid) if args.profile_list else None
        await run("gateway tools/list, Box (2025-11-25)", args.list_n, listing(False))
        await run("gateway tools/list, Box (2026-07-28)", args.list_n, listing(True))
        if profiler:
            stop_profiler(profiler, args.profile_list, "tools/list")
    return results, walls, cpu, (getattr(listing, "count", 0), getattr(listing, "size", 0))


def report(results, walls, cpu, listed: tuple[int, int], box_tools: int, block: int) -> bool:
    print()
    print(f"{'scenario':42} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'calls/s':>8}")
    print("-" * 84)
    for label, samples in results.items():
        print(f"{label:42} {len(samples):6d} {percentile(samples, 50):8.2f} {percentile(samples, 99):8.2f} "
              f"{statistics.fmean(samples):8.2f} {len(samples) / walls[label]:8.0f}")
    direct = results["direct upstream (httpx)"]
    print("-" * 84)
    ok = True
    for era in ("2025-11-25", "2026-07-28"):
        gateway = results[f"gateway tools/call ({era})"]
        p50 = percentile(gateway, 50) - percentile(direct, 50)
        p99 = percentile(gateway, 99) - percentile(direct, 99)
        met = p50 <= 3.0 and p99 <= 10.0
        ok = ok and met
        floor = results[f"SDK alone, no-op tools/call ({era})"]
        print(f"added by the gateway ({era}): p50 {p50:+.2f} ms, p99 {p99:+.2f} ms "
              f"(target p50 <= 3, p99 <= 10: {'met' if met else 'NOT met'}); "
              f"of which the SDK alone: p50 {percentile(floor, 50) - percentile(direct, 50):+.2f} ms")
        other = results.get(f"{VERSUS} tools/call ({era})")
        if other is not None:
            # Per turn: both gateways ran within minutes of each other, so each turn's difference
            # leaves out the machine's drift; their median is the comparison to quote.
            turns = [(percentile(gateway[i:i + block], 50) - percentile(other[i:i + block], 50),
                      percentile(gateway[i:i + block], 90) - percentile(other[i:i + block], 90))
                     for i in range(0, len(gateway), block)]
            print(f"  the other checkout ({era}): p50 {percentile(other, 50) - percentile(direct, 50):+.2f} ms, "
                  f"p99 {percentile(other, 99) - percentile(direct, 99):+.2f} ms added; this checkout minus it, "
                  f"median of {len(turns)} turns: p50 {statistics.median(t[0] for t in turns):+.2f} ms "
                  f"(turns {min(t[0] for t in turns):+.2f} to {max(t[0] for t in turns):+.2f}), "
                  f"p90 {statistics.median(t[1] for t in turns):+.2f} ms")
    print()
    print("CPU per call (ms; server is the process under test, postgres the backends of the bench's database):")
    names = list(next(iter(cpu.values())))
    print(f"{'scenario':42} " + " ".join(f"{name:>9}" for name in names))
    for label, used in cpu.items():
        if "tools/call" in label:
            print(f"{label:42} " + " ".join(f"{used[name]:9.2f}" for name in names))
    count, size = listed
    # Box's schemas are large (its listing is MBs of JSON): tools/list time grows with the
    # payload, most of it the SDK validating and dumping the result for the wire.
    print(f"tools/list on Box: {count} tools listed for the agent out of {box_tools} in the inventory, "
          f"{size / 1e6:.1f} MB of JSON per listing")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="sequential calls per tools/call scenario")
    parser.add_argument("--list-n", type=int, default=30, help="sequential tools/list calls on Box")
    # Short turns cost every scenario alike (~40% slower on this VM with turns of 25: each
    # process idles between its turns), so turns are long; --block N with N >= --n runs each
    # scenario once, start to end.
    parser.add_argument("--block", type=int, default=500, help="calls per scenario per turn (the tools/call "
                        "scenarios and the direct baseline take turns)")
    parser.add_argument("--profile", metavar="FILE", help="sample the gateway with py-spy during tools/call "
                        "and write collapsed stacks to FILE")
    parser.add_argument("--pg-set", metavar="NAME=VALUE;...", help="PostgreSQL settings for the gateway's "
                        "sessions (ALTER DATABASE of the throwaway database), e.g. log_min_duration_statement=0")
    parser.add_argument("--profile-list", metavar="FILE", help="the same for the tools/list scenarios")
    parser.add_argument("--versus", metavar="CHECKOUT", help="another checkout of MCPForge (a worktree of an "
                        "earlier commit, with its .venv): its gateway, on a throwaway database of its own "
                        "migrated and seeded by its own code, takes turns with this one against the same "
                        "upstream, and the report adds the difference per turn (a before/after that the "
                        "machine's drift between two separate runs does not blur)")
    parser.add_argument("--versus-env", metavar="NAME=VALUE", action="append", default=[],
                        help="an environment variable for the other checkout's gateway only (repeatable): "
                        "with --versus . it compares two settings of one checkout, e.g. MCP_AUDIT_BATCH_MS=0")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # --versus's other side
    parser.add_argument("--upstream-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import logging
    import signal

    import django

    # Stopped with SIGTERM (kill, a CI timeout): unwind through the finally below, so the three
    # servers are stopped and the throwaway database is dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases

    db_name = f"mcpforge_bench_{os.getpid()}"
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = db_name
    print(f"Creating the throwaway database {db_name} (migrations take a moment)...", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    processes: list[subprocess.Popen] = []
    if args.serve:
        try:
            return serve(args, settings, connections, old_config, processes)
        finally:
            stop_all(processes, old_config)
    try:
        upstream_port, gateway_port, noop_port = free_port(), free_port(), free_port()
        upstream_url, gateway_url = f"http://127.0.0.1:{upstream_port}", f"http://127.0.0.1:{gateway_port}"
        app_dir = REPO / "var" / "bench"
        app_dir.mkdir(parents=True, exist_ok=True)
        (app_dir / "bench_upstream.py").write_text(UPSTREAM_APP)
        (app_dir / "bench_noop_mcp.py").write_text(NOOP_MCP_APP)
        uvicorn = UVICORN
        processes.append(subprocess.Popen([*uvicorn, "--port", str(upstream_port), "--app-dir", str(app_dir),
                                           "bench_upstream:app"], cwd=REPO))
        wait_for(upstream_url + "/items/1", processes[-1])
        noop_url = f"http://127.0.0.1:{noop_port}"
        processes.append(subprocess.Popen([*uvicorn, "--port", str(noop_port), "--app-dir", str(app_dir),
                                           "bench_noop_mcp:app"], cwd=REPO))
        wait_for(noop_url + "/", processes[-1])

        other = None
        if args.versus:
            other = start_versus(args.versus, upstream_url, args.pg_set, args.versus_env, processes)
        print("Importing the bench API and Box (analysis runs synchronously)...", flush=True)
        org, bench, box, token, box_tools = seed(upstream_url)
        if args.pg_set:
            database_settings(args.pg_set)
        connections.close_all()

        env = gateway_env(settings.DATABASES["default"])
        processes.append(subprocess.Popen([*uvicorn, "--port", str(gateway_port), "mcpforge.asgi:application"],
                                          cwd=REPO, env=env))
        wait_for(gateway_url + "/healthz", processes[-1])

        print(f"Measuring ({args.n} calls per scenario, {args.list_n} listings)...", flush=True)
        results, walls, cpu, listed = asyncio.run(measure(args, upstream_url, gateway_url, noop_url, org, bench, box,
                                                     token, processes[-1].pid, processes[0].pid, processes[1].pid,
                                                     other))
        print(f"(machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        report(results, walls, cpu, listed, box_tools, args.block)
        return 0
    finally:
        stop_all(processes, old_config)


def start_versus(checkout: str, upstream_url: str, pg_set: str | None, extra_env: list[str],
                 processes: list[subprocess.Popen]) -> dict:
    """The other checkout's side of --versus: this file run with that checkout's interpreter and
    code (``BENCH_REPO``), which migrates and seeds a throwaway database of its own, starts that
    checkout's gateway and prints where it listens; it stops and drops its database when its
    stdin closes (``stop_all`` terminates it first)."""
    root = Path(checkout).resolve()
    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"--versus {checkout}: no {python} (a checkout with its virtualenv)")
    command = [str(python), str(Path(__file__).resolve()), "--serve", "--upstream-url", upstream_url]
    if pg_set:
        command += ["--pg-set", pg_set]
    # Its own Redis database: both seeded databases number their tokens and environments alike.
    env = {**os.environ, "BENCH_REPO": str(root), "BENCH_REDIS_DB": os.environ.get("BENCH_VERSUS_REDIS_DB", "13")}
    for item in extra_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--versus-env {item!r}: expected NAME=VALUE")
        env[name] = value
    process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    processes.append(process)
    for line in process.stdout:
        if line.startswith(SERVE_MARK):
            import json

            info = json.loads(line[len(SERVE_MARK):])
            print(f"The other checkout ({root}) serves at {info['gateway_url']}", flush=True)
            return info
        print(f"  [versus] {line}", end="", flush=True)
    raise SystemExit(f"--versus {checkout}: its gateway did not start (exit {process.wait()})")


def serve(args, settings, connections, old_config, processes: list[subprocess.Popen]) -> int:
    """--serve (the other side of --versus): seed this checkout's throwaway database, start its
    gateway, print where it listens, and keep it until stdin closes."""
    import json

    print("Importing the bench API and Box (analysis runs synchronously)...", flush=True)
    org, bench, box, token, _ = seed(args.upstream_url)
    if args.pg_set:
        database_settings(args.pg_set)
    connections.close_all()
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    processes.append(subprocess.Popen([*UVICORN, "--port", str(port), "mcpforge.asgi:application"],
                                      cwd=REPO, env=gateway_env(settings.DATABASES["default"])))
    wait_for(gateway_url + "/healthz", processes[-1])
    info = {"gateway_url": gateway_url, "org": org, "bench": bench, "token": token, "pid": processes[-1].pid,
            "database": settings.DATABASES["default"]["NAME"]}
    print(SERVE_MARK + json.dumps(info), flush=True)
    sys.stdin.read()  # until the bench closes our stdin or terminates us
    return 0


if __name__ == "__main__":
    sys.exit(main())
