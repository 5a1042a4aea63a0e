"""The statements of a warm tools/call, on an asynchronous PostgreSQL pool in the event loop.

Why not Django's connection
    A warm call needs two statements before the upstream request (the caller lookup and the
    ``tool.called`` audit row) and one after (``tool.call_completed``). Sent from the worker
    threads that run ORM work (server.Database), each costs a thread hop and, on a busy
    machine, a wait for the GIL behind the event loop; that was most of the gateway's added
    latency. Here they run on psycopg's ``AsyncConnection`` in the event loop itself, with
    server-side binding and statements prepared on first use (``prepare_threshold=0``):
    the caller lookup joins seven tables and planning it costs ten times running it.

What runs here
    Only hand-written SQL whose logic lives elsewhere: ``selectors.caller_query`` (rows turned
    into a ``Caller`` by the same functions the synchronous ``caller_resolve`` uses) and
    ``apps.audit.services.APPEND_SQL`` (the one audit writer, prepared by ``audit_prepare``).
    Everything that needs the ORM (cold snapshots, held calls, tools/list, refusals) still
    goes to the worker threads.

Connections
    ``MCP_DB_ASYNC_CONNECTIONS`` at most, autocommit, UTC, opened from Django's database
    settings (so tests reach the test database). A broken connection is dropped by the pool;
    the read-only caller lookup is retried once on a fresh one, an audit write never is
    (it could have committed), so the call fails closed.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import psycopg
from django.db import connections
from django.utils import timezone
from psycopg_pool import AsyncConnectionPool

from apps.audit.models import AuditEvent
from apps.audit.services import APPEND_SQL, PendingEvent, audit_stored

from . import selectors
from .selectors import Caller

logger = logging.getLogger("mcpforge.gateway")

POOL_TIMEOUT_SECONDS = 10
MAX_CACHED_CALLERS = 2048


def _connection_kwargs() -> dict[str, Any]:
    """libpq parameters of Django's default database (without Django's cursor and adapters)."""
    params = connections["default"].get_connection_params()
    kwargs = {key: value for key, value in params.items()
              if key in ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "sslcert",
                         "sslkey", "options", "application_name", "connect_timeout") and value not in (None, "")}
    kwargs["options"] = (kwargs.get("options", "") + " -c TimeZone=UTC").strip()
    kwargs.update(autocommit=True, prepare_threshold=0)
    return kwargs


class HotPathDatabase:
    """An ``AsyncConnectionPool`` and the gateway's hot-path statements on it."""

    def __init__(self, size: int):
        self.size = max(1, size)
        self.pool: AsyncConnectionPool | None = None
        self.statements = 0  # executed statements, for tests and the benchmark
        # digest -> (row, Caller): an identical row always yields the same Caller, so the five
        # model instances are built once per change of the token, membership, endpoint or
        # config version instead of on every request (the row itself is read every time).
        self._callers: OrderedDict[str, tuple[tuple, Caller]] = OrderedDict()

    async def open(self) -> None:
        self.pool = AsyncConnectionPool(kwargs=_connection_kwargs(), min_size=1, max_size=self.size, open=False,
                                        timeout=POOL_TIMEOUT_SECONDS, name="mcpforge-gateway")
        await self.pool.open(wait=False)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def fetchone(self, sql: str, params: list[Any]) -> tuple | None:
        assert self.pool is not None, "HotPathDatabase.open() first"
        async with self.pool.connection() as conn:
            self.statements += 1
            cursor = await conn.execute(sql, params)
            return await cursor.fetchone()

    async def caller(self, *, raw_token: str, org_slug: str, project_slug: str, env_slug: str) -> Caller:
        """``selectors.caller_resolve`` on this pool (same statement, same row handling)."""
        params = selectors.caller_params(raw_token=raw_token, org_slug=org_slug, project_slug=project_slug,
                                         env_slug=env_slug)
        sql = selectors.caller_query().sql
        try:
            row = await self.fetchone(sql, params)
        except psycopg.OperationalError:
            logger.warning("gateway database connection lost; retrying the caller lookup once", exc_info=True)
            row = await self.fetchone(sql, params)
        digest = params[-1]
        cached = self._callers.get(digest)
        if cached is not None and cached[0] == row and cached[1].token.is_active:  # is_active: expiry moves on
            caller = cached[1]
            token = caller.token
        else:
            token = selectors.token_from_row(row, raw_token)
            caller = None
        now = timezone.now()
        if selectors.touch_due(token, now):
            await self.fetchone(selectors.TOUCH_SQL, [now, token.pk])
            token.last_used_at = now
        if caller is None:
            caller = selectors.caller_from_row(row, token)
            self._callers[digest] = (row, caller)
            while len(self._callers) > MAX_CACHED_CALLERS:
                self._callers.popitem(last=False)
        return caller

    async def audit(self, pending: PendingEvent) -> AuditEvent:
        """Append ``pending`` to its organization's chain (committed on return)."""
        row = await self.fetchone(APPEND_SQL, pending.params)
        return audit_stored(pending, row)
