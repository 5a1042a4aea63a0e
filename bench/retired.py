"""The hand-written infrastructure the gateway retired after bench/libraries.py measured it
against the libraries that replaced it, kept here verbatim so the comparison can be re-run.
Not imported by the application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import PoolTimeout

logger = logging.getLogger("mcpforge.bench")
CONNECTION_MAX_AGE_SECONDS = 1800
POOL_TIMEOUT_SECONDS = 10


# --------------------------------------------------------------------------- apps/gateway/db.py


class ConnectionPool:
    """At most ``size`` autocommit ``AsyncConnection``s, opened on demand and reused newest first.

    Not psycopg_pool: after the server closed a pooled connection (a restart, an idle-connection
    killer in a proxy) it can hand that connection out again, so a statement fails that a new
    connection would have served (tests/gateway/test_db_pool.py); and its queue, workers and
    return-time checks sit on every call's latency path. Here a connection whose use raised
    anything (a failed, cancelled or broken statement) is closed, never reused, nor is one that
    is closed, not idle, or older than ``CONNECTION_MAX_AGE_SECONDS``; callers wait at most
    ``timeout`` for a free one (``PoolTimeout``)."""

    def __init__(self, kwargs: dict[str, Any], size: int, timeout: float = POOL_TIMEOUT_SECONDS):
        self.kwargs, self.size, self.timeout = kwargs, size, timeout
        self._idle: list[tuple[float, psycopg.AsyncConnection]] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    @contextlib.asynccontextmanager
    async def connection(self):
        if self._slots.locked():  # all in use: wait, within the timeout
            try:
                await asyncio.wait_for(self._slots.acquire(), self.timeout)
            except TimeoutError:
                raise PoolTimeout(f"no database connection free within {self.timeout:g} s") from None
        else:
            await self._slots.acquire()
        try:
            conn = born = None
            now = asyncio.get_running_loop().time()
            while self._idle and conn is None:
                born, conn = self._idle.pop()
                if conn.closed or now - born > CONNECTION_MAX_AGE_SECONDS:
                    await _discard(conn)
                    conn = None
            if conn is None:
                if self._closed:
                    raise psycopg.OperationalError("the gateway's database pool is closed")
                async with asyncio.timeout(self.timeout):
                    conn = await psycopg.AsyncConnection.connect(**self.kwargs)
                born = now
            try:
                yield conn
            except BaseException:
                await _discard(conn)
                raise
            if self._closed or conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                await _discard(conn)
            else:
                self._idle.append((born, conn))
        finally:
            self._slots.release()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for _, conn in idle:
            await _discard(conn)


async def _discard(conn: psycopg.AsyncConnection) -> None:
    try:
        await conn.close()
    except Exception:  # already broken: nothing more to release
        logger.debug("closing a discarded gateway connection failed", exc_info=True)


# --------------------------------------------------------------------------- apps/gateway/ratelimit.py

REDIS_TIMEOUT_SECONDS = 2.0
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

    def __init__(self, url: str, timeout: float = REDIS_TIMEOUT_SECONDS):
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
