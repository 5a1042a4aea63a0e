#!/usr/bin/env python
"""The gateway's hand-written infrastructure against the well-kept libraries, per call.

Run alone: ``.venv/bin/python bench/libraries.py [--rounds 15] [--block 200]``. Needs the
Postgres and Redis of DATABASE_URL / REDIS_URL (it runs ``SELECT 1`` and an EVALSHA on keys
under ``mcpforge:bench:``, which expire within two minutes); it starts its own loopback HTTP
upstream (a separate process, so its CPU is not counted).

Pairs, each the same operation on the same server:

* database pool: ``apps.gateway.db.ConnectionPool`` (ours, kept until this bench) vs
  ``psycopg_pool.AsyncConnectionPool`` (with ``check_connection``, as the gateway now uses it):
  take a connection, ``SELECT 1``, give it back;
* Redis: the gateway's former ``ScriptClient`` (RESP2 on asyncio streams, bench/retired.py) vs
  ``redis.asyncio`` with the hiredis parser: the rate-limit script by EVALSHA on two keys, through
  the client, through a ``Script`` (as apps/gateway/ratelimit.py calls it) and on one of the
  client's connections without the pool (what a free list of our own would save);
* upstream HTTP: ``apps.gateway.transport.UpstreamPool`` (asyncio + httptools) vs httpcore's
  ``AsyncConnectionPool`` pinned to the checked address (the shape egress.py gives httpx) and
  ``httpx.AsyncClient`` on that pool: one keep-alive GET with a small JSON answer.

Implementations take turns of ``--block`` calls, ``--rounds`` times, in a shuffled order each
round, so a phase where this shared machine is slower weighs on all alike. Reported per call:
median and p10-p90 of the per-block wall-clock means, and the median CPU time of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("MCPFORGE_TESTING", "true")

UPSTREAM = r"""
import asyncio, sys
BODY = b'{"id": 1, "name": "bench item"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(BODY)) + BODY

class Server(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(RESPONSE)

async def main():
    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


class Timed:
    def __init__(self, name: str, pair: str, call):
        self.name, self.pair, self.call = name, pair, call
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def block(self, n: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            await self.call()
        self.wall.append((time.perf_counter() - wall) / n * 1e6)
        self.cpu.append((time.process_time() - cpu) / n * 1e6)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def database_pair() -> list[Timed]:
    import psycopg_pool

    from apps.gateway import db
    from bench.retired import ConnectionPool

    kwargs = db._connection_kwargs()
    ours = ConnectionPool(kwargs, 4)
    theirs = psycopg_pool.AsyncConnectionPool(kwargs=kwargs, min_size=1, max_size=4, open=False,
                                              check=psycopg_pool.AsyncConnectionPool.check_connection)
    await theirs.open(wait=True)
    unchecked = psycopg_pool.AsyncConnectionPool(kwargs=kwargs, min_size=1, max_size=4, open=False)
    await unchecked.open(wait=True)

    def select(pool):
        async def call():
            async with pool.connection() as conn:
                await (await conn.execute("SELECT 1")).fetchone()
        return call

    timed = [Timed("ours: retired ConnectionPool", "database", select(ours)),
             Timed("psycopg_pool (check_connection)", "database", select(theirs)),
             Timed("psycopg_pool (no check)", "database", select(unchecked))]

    async def close():
        await ours.close()
        await theirs.close()
        await unchecked.close()
    return timed, close


async def redis_pair() -> list[Timed]:
    import redis.asyncio as aioredis
    from redis.utils import HIREDIS_AVAILABLE

    from apps.gateway.ratelimit import HIT_SCRIPT
    from bench.retired import ScriptClient

    if not HIREDIS_AVAILABLE:
        raise SystemExit("hiredis is not installed: pip install hiredis")
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    sha = hashlib.sha1(HIT_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)
    ours = ScriptClient(url)
    theirs = aioredis.Redis.from_url(url)
    await theirs.script_load(HIT_SCRIPT)
    keys = ("mcpforge:bench:token:1", "mcpforge:bench:tool:1")

    async def ours_call():
        reply = await ours.call("EVALSHA", sha, 2, *keys, 120)
        assert isinstance(reply, list), reply

    async def theirs_call():
        await theirs.evalsha(sha, 2, *keys, 120)

    script = theirs.register_script(HIT_SCRIPT)

    async def script_call():  # as apps/gateway/ratelimit.py calls it
        await script(keys=list(keys), args=[120])

    conn = theirs.connection_pool.make_connection()
    await conn.connect()

    async def conn_call():  # one of redis-py's connections, without the pool and client layers
        await conn.send_packed_command(conn.pack_command("EVALSHA", sha, 2, *keys, 120), check_health=False)
        reply = await conn.read_response()
        assert isinstance(reply, list), reply

    async def close():
        await ours.close()
        await theirs.aclose()
        await conn.disconnect()
    return [Timed("ours: retired ScriptClient", "redis", ours_call),
            Timed("redis.asyncio + hiredis", "redis", theirs_call),
            Timed("redis.asyncio Script", "redis", script_call),
            Timed("redis.asyncio Connection", "redis", conn_call)], close


async def http_pair(port: int) -> list[Timed]:
    import httpcore
    import httpx

    from apps.core import egress
    from apps.gateway.transport import Destination, UpstreamPool

    class PinnedBackend(httpcore.AsyncNetworkBackend):  # egress._PinnedBackend, async
        def __init__(self):
            self.inner = httpcore.AnyIOBackend()

        async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            address = await egress.checked_address_async(host, port, allow_private=True)
            return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                socket_options=socket_options)

        async def connect_unix_socket(self, *args, **kwargs):
            raise egress.Refused("Unix sockets are never called.")

        async def sleep(self, seconds):
            await self.inner.sleep(seconds)

    ours = UpstreamPool()
    destination = Destination("http", "127.0.0.1", port, "127.0.0.1")
    headers = [(b"host", f"127.0.0.1:{port}".encode()), (b"accept", b"application/json")]
    core = httpcore.AsyncConnectionPool(network_backend=PinnedBackend(), max_connections=200,
                                        max_keepalive_connections=50, keepalive_expiry=5.0)
    client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(), trust_env=False)
    client._transport._pool = httpcore.AsyncConnectionPool(network_backend=PinnedBackend(), max_connections=200,
                                                           max_keepalive_connections=50, keepalive_expiry=5.0)
    url = f"http://127.0.0.1:{port}/items/1"

    async def ours_call():
        response = await ours.request(destination=destination, method="GET", target=b"/items/1", headers=headers,
                                      body=b"", limit=1 << 20)
        assert response.status_code == 200

    async def core_call():
        async with core.stream("GET", url, headers=headers) as response:
            body = b"".join([chunk async for chunk in response.aiter_stream()])
        assert response.status == 200 and body

    async def httpx_call():
        response = await client.get(url, headers={"accept": "application/json"})
        assert response.status_code == 200

    async def close():
        await ours.aclose()
        await core.aclose()
        await client.aclose()
    return [Timed("ours: transport.UpstreamPool", "upstream HTTP", ours_call),
            Timed("httpcore, pinned", "upstream HTTP", core_call),
            Timed("httpx.AsyncClient, pinned", "upstream HTTP", httpx_call)], close


async def run(rounds: int, block: int, only: set[str]) -> list[Timed]:
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM], stdout=subprocess.PIPE, text=True)
    try:
        port = int(upstream.stdout.readline())
        groups = []
        if "database" in only:
            groups.append(await database_pair())
        if "redis" in only:
            groups.append(await redis_pair())
        if "http" in only:
            groups.append(await http_pair(port))
        timed = [item for items, _ in groups for item in items]
        for item in timed:  # warm up: connections, prepared statements, loaded script
            await item.block(max(20, block // 10))
            item.wall.clear()
            item.cpu.clear()
        for _ in range(rounds):
            for items, _ in groups:
                for item in random.sample(items, len(items)):
                    await item.block(block)
        for _, close in groups:
            await close()
        return timed
    finally:
        upstream.kill()
        upstream.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--only", default="database,redis,http")
    args = parser.parse_args()
    import django

    django.setup()
    timed = asyncio.run(run(args.rounds, args.block, set(args.only.split(","))))
    print(f"\n{args.rounds} rounds x {args.block} calls per implementation, interleaved; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'pair':14} {'implementation':34} {'wall µs p50':>11} {'p10-p90':>15} {'CPU µs':>8} {'vs ours':>9}")
    print("-" * 96)
    baseline: dict[str, float] = {}
    for item in timed:
        p50 = statistics.median(item.wall)
        baseline.setdefault(item.pair, p50)
        spread = f"{_quantile(item.wall, 0.1):.0f}-{_quantile(item.wall, 0.9):.0f}"
        print(f"{item.pair:14} {item.name:34} {p50:11.0f} {spread:>15} {statistics.median(item.cpu):8.0f} "
              f"{p50 - baseline[item.pair]:+9.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
