#!/usr/bin/env python
"""ReDoS: does one agent's pathological argument stall other requests? (issue 16, item 5)

Run alone: ``.venv/bin/python bench/redos.py [--n 200] [--attackers 2]``. Needs Postgres and
Redis like bench/gateway.py, whose helpers it uses: a throwaway database, a local upstream and
the real ASGI app under uvicorn. A tool has ``q: {type: string, pattern: "^(a+)+$"}``.

Table 1 (in process): one validation of ``"a" * k + "!"`` against that pattern with Python's
backtracking ``re`` (what jsonschema used) and with the gateway's RE2 validator.
Table 2 (over HTTP): tools/list latency of one client, alone and while ``--attackers`` other
clients send the ReDoS argument (30 and 50,000 characters) in a loop. Target: p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.gateway import UPSTREAM_APP, free_port, gateway_env, percentile, rpc, stop_all, wait_for  # noqa: E402

PATTERN = "^(a+)+$"
SPEC = b"""
openapi: 3.0.3
info: {title: ReDoS bench, version: "1.0"}
paths:
  /search:
    get:
      operationId: search
      parameters: [{name: q, in: query, schema: {type: string, pattern: "^(a+)+$"}}]
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
  /items/{id}:
    get:
      operationId: getItem
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object}}}}}
"""


def in_process() -> None:
    from apps.gateway.validation import argument_errors

    schema = {"type": "object", "properties": {"q": {"type": "string", "pattern": PATTERN}}}
    header = 'k ("a" * k + "!")'
    print(f"{header:22} {'Python re ms':>14} {'RE2 validator ms':>18}")
    for k in (16, 18, 20, 22, 30, 50_000):
        text = "a" * k + "!"
        if k <= 22:
            started = time.perf_counter()
            re.search(PATTERN, text)
            backtracking = f"{(time.perf_counter() - started) * 1000:14.1f}"
        else:
            backtracking = f"{'(not run)':>14}"
        started = time.perf_counter()
        assert argument_errors(schema, {"q": text}, cache_key="bench-redos")
        print(f"{k:<22} {backtracking} {(time.perf_counter() - started) * 1000:18.3f}")


def seed(upstream_url: str):
    from apps.accounts.models import Membership
    from apps.accounts.services import organization_create, token_create, user_create
    from apps.credentials.services import environment_upstream_set
    from apps.governance.services import grant_create
    from apps.projects.services import project_create
    from apps.risk.analysis import spec_analyse
    from apps.specs.models import SpecVersion
    from apps.specs.services import spec_import

    owner = user_create(email="owner@redos.test")
    org = organization_create(name="ReDoS", actor=owner)
    member = user_create(email="agent@redos.test")
    Membership.objects.create(organization=org, user=member, role="member")
    project = project_create(organization=org, name="ReDoS API", actor=owner)
    version = spec_import(project=project, data=SPEC, source=SpecVersion.Source.CLI, filename="redos.yaml",
                          actor=owner, run_async=False)
    spec_analyse(version_id=version.pk)
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    environment_upstream_set(environment=project.environments.get(slug="development"), base_url=upstream_url,
                             allow_private_network=True, actor=owner)
    _, raw = token_create(organization=org, user=member, name="redos agent")
    return f"/mcp/{org.slug}/{project.slug}/development/", raw


async def over_http(gateway_url: str, path: str, token: str, n: int, attackers: int) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {token}"}
    endpoint = gateway_url + path

    async def listing(client) -> float:
        body, headers = rpc("tools/list", {}, False)
        started = time.perf_counter()
        response = await client.post(endpoint, json=body, headers={**headers, **auth})
        assert response.status_code == 200, response.text
        return (time.perf_counter() - started) * 1000

    async def attack(stop: asyncio.Event, counter: list[int]) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            while not stop.is_set():
                for q in ("a" * 30 + "!", "a" * 50_000 + "!"):
                    body, headers = rpc("tools/call", {"name": "search", "arguments": {"q": q}}, False)
                    response = await client.post(endpoint, json=body, headers={**headers, **auth})
                    assert response.json()["result"]["isError"] is True
                    counter[0] += 1

    rows = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(20):
            await listing(client)
        for label, count in (("tools/list alone", 0), (f"tools/list, {attackers} ReDoS clients", attackers)):
            stop, counter = asyncio.Event(), [0]
            tasks = [asyncio.create_task(attack(stop, counter)) for _ in range(count)]
            await asyncio.sleep(0.2 if count else 0)
            started = time.perf_counter()
            samples = [await listing(client) for _ in range(n)]
            wall = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*tasks)
            rows.append((label, samples, counter[0] / wall))
    print()
    print(f"{'scenario':34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ReDoS calls/s':>14}")
    print("-" * 82)
    for label, samples, rate in rows:
        print(f"{label:34} {len(samples):5d} {statistics.median(samples):8.2f} {percentile(samples, 99):8.2f} "
              f"{max(samples):8.2f} {rate:14.0f}")
    p99 = percentile(rows[-1][1], 99)
    print(f"p99 of tools/list under attack: {p99:.1f} ms (target < 100 ms: {'met' if p99 < 100 else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="tools/list calls per scenario")
    parser.add_argument("--attackers", type=int, default=2, help="clients sending the ReDoS argument in a loop")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("MCPFORGE_TESTING", "true")
    for limit in ("MCP_RATE_LIMIT_PER_TOKEN", "MCP_RATE_LIMIT_PER_TOOL"):
        os.environ[limit] = "1000000"  # on, never hit

    import logging
    import signal

    import django

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases

    in_process()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"mcpforge_bench_{os.getpid()}"
    old_config = setup_databases(verbosity=0, interactive=False)
    processes: list[subprocess.Popen] = []
    try:
        upstream_port, gateway_port = free_port(), free_port()
        upstream_url, gateway_url = f"http://127.0.0.1:{upstream_port}", f"http://127.0.0.1:{gateway_port}"
        app_dir = REPO / "var" / "bench"
        app_dir.mkdir(parents=True, exist_ok=True)
        (app_dir / "bench_upstream.py").write_text(UPSTREAM_APP)
        uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
        processes.append(subprocess.Popen([*uvicorn, "--port", str(upstream_port), "--app-dir", str(app_dir),
                                           "bench_upstream:app"], cwd=REPO))
        wait_for(upstream_url + "/items/1", processes[-1])
        path, token = seed(upstream_url)
        connections.close_all()
        env = gateway_env(settings.DATABASES["default"])
        processes.append(subprocess.Popen([*uvicorn, "--port", str(gateway_port), "mcpforge.asgi:application"],
                                          cwd=REPO, env=env))
        wait_for(gateway_url + "/healthz", processes[-1])
        asyncio.run(over_http(gateway_url, path, token, args.n, args.attackers))
        print(f"(machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        return 0
    finally:
        stop_all(processes, old_config)


if __name__ == "__main__":
    sys.exit(main())
