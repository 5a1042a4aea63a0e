"""Per-token and per-tool call limits in Redis: fixed one-minute windows.

A fixed window (INCR on ``<prefix>:<scope>:<id>:<minute>`` with a two-minute expiry) costs
one command for all the limits of a call (a Lua script run with EVALSHA: one reply to parse
instead of two per limit from a pipeline) and is exact within its minute; its known
weakness, up to twice the limit across a window boundary, is acceptable for a budget meant
to stop runaway agents, not to meter billing.

* per token (``MCP_RATE_LIMIT_PER_TOKEN``): one agent's budget, counted on tools/list and
  tools/call;
* per tool (``MCP_RATE_LIMIT_PER_TOOL``): protects the upstream operation in one environment,
  all callers combined, counted on tools/call.

The prefix (``MCP_RATE_LIMIT_PREFIX``, by default ``mcpforge:rl:<database name>``) keeps the
counters of each instance apart: a second instance or a benchmark sharing the Redis database
has other database ids, and must not spend a real agent's budget.

Redis unreachable means the call is refused (fail closed, like the audit log): a gateway that
cannot count cannot promise its limits.

The command is sent by ``ScriptClient``, a few lines of the Redis protocol (RESP2) on asyncio
streams, not by redis-py: this runs on every tool call, and redis-py's command, retry and pool
layers cost about 85 µs of CPU per EVALSHA on this machine against about 20 µs for the bare
exchange. It speaks to the server named by ``REDIS_URL`` (redis://, rediss:// with certificate
verification, unix://; user, password and database from the URL, as redis-py reads them).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

WINDOW_SECONDS = 60
PREFIX = "mcpforge:rl"
# Each key is a new one every minute, so it gets its expiry once, at its first hit.
HIT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    if count == 1 then
        redis.call('EXPIRE', key, ARGV[1])
    end
    counts[i] = count
end
return counts
"""
TIMEOUT_SECONDS = 2.0
MAX_IDLE_CONNECTIONS = 16
MAX_REPLY_BYTES = 1024 * 1024


class ReplyError(Exception):
    """An error reply of the server (``-ERR ...``, ``-NOSCRIPT ...``)."""


class ProtocolError(ConnectionError):
    """The server's answer is not RESP, or the connection closed mid-answer."""


def _encode(args: Sequence[str | int | bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


async def _read_reply(reader: asyncio.StreamReader, depth: int = 0):
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ProtocolError("Redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return ReplyError(rest.decode(errors="replace"))
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        if size > MAX_REPLY_BYTES:
            raise ProtocolError("Redis reply too large")
        return (await reader.readexactly(size + 2))[:-2]
    if kind == b"*" and depth < 4:
        count = int(rest)
        if count > 10_000:
            raise ProtocolError("Redis reply too large")
        return None if count < 0 else [await _read_reply(reader, depth + 1) for _ in range(count)]
    raise ProtocolError(f"unexpected Redis reply {line[:20]!r}")


@dataclass(frozen=True)
class _Server:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str = ""  # unix socket
    tls: bool = False
    username: str = ""
    password: str = ""
    db: int = 0


def parse_url(url: str) -> _Server:
    """``redis://[[user]:password@]host[:port][/db]``, ``rediss://…`` (TLS) or
    ``unix://[[user]:password@]/path?db=N``. Raises ValueError for anything else."""
    parts = urlsplit(url)
    query_db = (parse_qs(parts.query).get("db") or [""])[0]
    db_text = query_db if parts.scheme == "unix" else query_db or parts.path.strip("/")
    try:
        db = int(db_text or 0)
    except ValueError:
        raise ValueError(f"REDIS_URL names no valid database number: {db_text!r}") from None
    common = {"username": unquote(parts.username or ""), "password": unquote(parts.password or ""), "db": db}
    if parts.scheme in ("redis", "rediss"):
        return _Server(host=parts.hostname or "127.0.0.1", port=parts.port or 6379, tls=parts.scheme == "rediss",
                       **common)
    if parts.scheme == "unix":
        return _Server(path=unquote(parts.path), **common)
    raise ValueError(f"REDIS_URL must start with redis://, rediss:// or unix:// (got {parts.scheme or 'nothing'})")


class ScriptClient:
    """Commands to one Redis server over a few kept connections (one command each at a time)."""

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS):
        self.server = parse_url(url)
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        server = self.server
        if server.path:
            reader, writer = await asyncio.open_unix_connection(server.path)
        else:
            context = ssl.create_default_context() if server.tls else None
            reader, writer = await asyncio.open_connection(server.host, server.port, ssl=context)
        connection = (reader, writer)
        try:
            if server.password:
                auth = ("AUTH", server.username, server.password) if server.username else ("AUTH", server.password)
                await self._checked(connection, auth)
            if server.db:
                await self._checked(connection, ("SELECT", server.db))
        except BaseException:
            writer.close()
            raise
        return connection

    @staticmethod
    async def _checked(connection, args) -> None:
        reader, writer = connection
        writer.write(_encode(args))
        reply = await _read_reply(reader)
        if isinstance(reply, ReplyError):
            raise reply

    async def call(self, *args: str | int | bytes):
        """One command's reply; an error reply is returned as a ``ReplyError`` (the connection
        stays usable). Connection problems and the timeout raise (OSError, ConnectionError,
        TimeoutError, ReplyError from the handshake)."""
        request = _encode(args)
        async with asyncio.timeout(self.timeout):
            while True:
                reused = bool(self._idle)
                connection = self._idle.pop() if reused else await self._connect()
                reader, writer = connection
                try:
                    writer.write(request)
                    reply = await _read_reply(reader)
                    break
                except (ConnectionError, OSError, asyncio.IncompleteReadError):
                    writer.close()
                    if not reused:
                        raise
                    # A kept connection the server dropped (a restart, an idle timeout): try a
                    # new one. At worst the script ran and its reply was lost, and the call is
                    # counted twice, which errs on the side of the limit.
                except BaseException:
                    writer.close()
                    raise
        if len(self._idle) < MAX_IDLE_CONNECTIONS:
            self._idle.append(connection)
        else:
            writer.close()
        return reply

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()


@dataclass(frozen=True)
class Limit:
    scope: str  # "token" | "tool"
    key: str
    per_minute: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    scope: str = ""
    limit: int = 0
    retry_after: int = 0
    unavailable: bool = False


class RateLimiter:
    def __init__(self, url: str, prefix: str = PREFIX):
        self._redis = ScriptClient(url)
        self._prefix = prefix
        self._sha = hashlib.sha1(HIT_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)

    async def close(self) -> None:
        await self._redis.close()

    async def _counts(self, keys: list[str]) -> list[int]:
        args = (len(keys), *keys, WINDOW_SECONDS * 2)
        reply = await self._redis.call("EVALSHA", self._sha, *args)
        if isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT"):
            reply = await self._redis.call("EVAL", HIT_SCRIPT, *args)  # loads it for the next EVALSHA
        if isinstance(reply, ReplyError):
            raise reply
        if not isinstance(reply, list) or len(reply) != len(keys):
            raise ProtocolError(f"unexpected reply to the rate-limit script: {reply!r}"[:200])
        return reply

    async def hit(self, limits: Sequence[Limit], *, now: float | None = None) -> Verdict:
        """Count one hit against every active limit; the first exceeded one is reported."""
        active = [limit for limit in limits if limit.per_minute > 0]
        if not active:
            return Verdict(True)
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
        keys = [f"{self._prefix}:{limit.scope}:{limit.key}:{window}" for limit in active]
        try:
            counts = await self._counts(keys)
        except (ReplyError, OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            return Verdict(False, unavailable=True)
        for limit, count in zip(active, counts, strict=True):
            if int(count) > limit.per_minute:
                return Verdict(False, scope=limit.scope, limit=limit.per_minute, retry_after=retry_after)
        return Verdict(True)
