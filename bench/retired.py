"""The hand-written infrastructure the gateway retired after bench/libraries.py measured it
against the libraries that replaced it, kept here verbatim so the comparison can be re-run.
Not imported by the application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

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
