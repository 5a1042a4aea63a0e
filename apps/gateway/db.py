"""The statements of a warm tools/call, on an asynchronous PostgreSQL pool in the event loop.

Why not Django's connection
    A warm call needs one statement before the upstream request (the ``tool.called`` audit
    row, written only if the cached caller is unchanged: ``audit_if_unchanged``, which compares
    the organization's caller epoch and the project's config version) and a
    share of one after (``tool.call_completed`` rows, batched: ``append_later``). Sent from the worker
    threads that run ORM work (server.Database), each costs a thread hop and, on a busy
    machine, a wait for the GIL behind the event loop; that was most of the gateway's added
    latency. Here they run on psycopg's ``AsyncConnection`` in the event loop itself, with
    server-side binding and statements prepared on first use (``prepare_threshold=0``):
    the caller lookup joins seven tables and planning it costs ten times running it.

What runs here
    Only hand-written SQL whose logic lives elsewhere: ``selectors.caller_query`` (rows turned
    into a ``Caller`` by the same functions the synchronous ``caller_resolve`` uses) and
    ``apps.audit.services.APPEND_SQL`` / ``append_where_sql`` / ``APPEND_MANY_SQL`` (the one
    audit writer, ``mcpforge_audit_append``, fed by ``audit_prepare``). Everything that
    needs the ORM (cold snapshots, held calls, tools/list, refusals) still goes to the worker
    threads.

Connections
    ``MCP_DB_ASYNC_CONNECTIONS`` at most, autocommit, UTC, opened from Django's database
    settings (so tests reach the test database), by psycopg_pool (``new_pool``). A connection
    that broke or is not idle when it comes back is closed rather than reused; the read-only
    caller lookup (and the token's last-used touch) is retried once on a fresh one; a call's ``tool.called``
    write never is (it could have committed), so the call fails closed. A batch of outcome
    rows is retried when the database was unreachable (a lost answer is recognised by the
    unique public ids) and written row by row when the database refuses one of its rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import psycopg
from django.db import connections
from django.utils import timezone
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from apps.audit.models import AuditEvent
from apps.audit.services import (
    APPEND_MANY_SQL,
    APPEND_SQL,
    PendingEvent,
    append_many_params,
    append_where_sql,
    audit_stored,
    audit_stored_many,
)

from . import selectors
from .selectors import CALLER_UNCHANGED_SOURCE, Caller, CallerFingerprint

logger = logging.getLogger("mcpforge.gateway")

POOL_TIMEOUT_SECONDS = 10
RECONNECT_SECONDS = 5
CONNECTION_MAX_AGE_SECONDS = 1800  # reconnect now and then (server-side memory, failovers behind a proxy)
MAX_CACHED_CALLERS = 2048
MAX_BATCH = 200  # audit rows per statement
BATCH_RETRIES = (0.5, 2.0, 5.0)  # seconds before each retry of a batch that failed


def _connection_kwargs() -> dict[str, Any]:
    """libpq parameters of Django's default database (without Django's cursor and adapters)."""
    params = connections["default"].get_connection_params()
    kwargs = {key: value for key, value in params.items()
              if key in ("dbname", "user", "password", "host", "port", "sslmode", "sslrootcert", "sslcert",
                         "sslkey", "options", "application_name", "connect_timeout") and value not in (None, "")}
    kwargs["options"] = (kwargs.get("options", "") + " -c TimeZone=UTC").strip()
    kwargs.update(autocommit=True, prepare_threshold=0)
    return kwargs


def new_pool(kwargs: dict[str, Any], size: int, timeout: float = POOL_TIMEOUT_SECONDS) -> AsyncConnectionPool:
    """psycopg_pool's ``AsyncConnectionPool``, not opened yet (``await pool.open()``).

    Measured against the hand-written pool this module used to carry (bench/libraries.py: 10-40 µs
    more CPU per call, under the 100 µs bar that justifies our own code). No ``check``
    on checkout: it costs a round trip per statement (about 200 µs of CPU in the same bench);
    a connection the server dropped while idle fails its next statement instead, the pool
    discards it when it comes back broken, ``pool.check()`` drops the other dead idle ones, and
    a read-only statement is retried once (``HotPathDatabase.fetchone``).
    A connection returned in a transaction or with a statement still running is rolled back
    or closed by the pool, never lent as is. Statements borrow with ``getconn``/``putconn``,
    not ``pool.connection()``: that context manager only adds the connection's own
    ``async with`` (a COMMIT or ROLLBACK when the connection is in a transaction, which an
    autocommit connection running single statements never is; a lock and a generator per
    statement all the same) and a usage statistic; ``putconn`` keeps the reset above.
    Callers wait at most ``timeout`` for a free connection (``PoolTimeout``). While the
    database is unreachable the pool's reconnection attempts back off; ``RECONNECT_SECONDS``
    caps each series, so that the next call after the database is back starts a fresh
    attempt instead of waiting out a long backoff
    (tests/drills/test_postgres_outage.py)."""
    return AsyncConnectionPool(kwargs=kwargs, min_size=1, max_size=max(1, size), timeout=timeout,
                               max_lifetime=CONNECTION_MAX_AGE_SECONDS, reconnect_timeout=RECONNECT_SECONDS,
                               name="gateway-hot-path", open=False)


class HotPathDatabase:
    """A psycopg_pool ``AsyncConnectionPool`` and the gateway's hot-path statements on it."""

    def __init__(self, size: int, batch_ms: int = 0):
        self.size = max(1, size)
        self.batch_seconds = max(0, batch_ms) / 1000
        self._later: list[PendingEvent] = []
        self._flusher: asyncio.Task | None = None
        self._closing = asyncio.Event()
        self.pool: AsyncConnectionPool | None = None
        self.statements = 0  # executed statements, for tests and the benchmark
        # caller_params -> (fingerprint, Caller): an unchanged fingerprint means an unchanged
        # caller, so its five model instances are built once per change of the token, user,
        # membership, teams, endpoint or config. A warm tools/call plans with the cached
        # Caller and confirms the fingerprint in the statement that writes its audit row
        # (audit_if_unchanged); every other request reads the row first (caller).
        self._callers: OrderedDict[tuple[str, ...], tuple[CallerFingerprint, Caller]] = OrderedDict()

    async def open(self) -> None:
        self.pool = new_pool(_connection_kwargs(), self.size)
        await self.pool.open(wait=False)  # connects in the background: a database down at start is not fatal

    async def close(self) -> None:
        """Write the rows still queued by ``append_later``, then close the pool."""
        self._closing.set()
        if self._flusher is not None:
            await self._flusher
        if self._later and self.pool is not None:
            await self._flush()
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def fetchone(self, sql: str, params: list[Any], *, idempotent: bool = False) -> tuple | None:
        """One statement on a pooled connection. When the connection turns out to be dead (a
        database restart, an administrator's kill), the pool first tests its idle connections
        and drops the dead ones (``pool.check()``: psycopg_pool lends idle connections in turn,
        so after a restart each would fail one call); then an ``idempotent`` statement (a read,
        the token's last-used touch) is retried once, anything else raises: a write may have
        committed, so the call fails closed."""
        assert self.pool is not None, "HotPathDatabase.open() first"
        try:
            return await self._fetchone(sql, params)
        except PoolTimeout:  # no connection could be had within the timeout: waiting again would not help
            raise
        except psycopg.OperationalError:
            await self._drop_dead_connections()
            if not idempotent:
                raise
            logger.warning("gateway database connection lost; retrying a read-only statement once", exc_info=True)
        return await self._fetchone(sql, params)

    async def _fetchone(self, sql: str, params: list[Any]) -> tuple | None:
        conn = await self.pool.getconn()
        try:
            self.statements += 1
            cursor = await conn.execute(sql, params)
            return await cursor.fetchone()
        finally:
            await self.pool.putconn(conn)

    async def _drop_dead_connections(self) -> None:
        try:
            await self.pool.check()
        except Exception:  # the database is still down: the next checkout reconnects or times out
            logger.debug("checking the gateway's idle connections failed", exc_info=True)

    def cached(self, params: list[str]) -> tuple[Caller, CallerFingerprint] | None:
        """The ``Caller`` (and its fingerprint) last resolved for these ``caller_params``,
        if its token is still unexpired and needs no last-used touch: a guess to plan a call
        with, which ``audit_if_unchanged`` confirms in the statement that writes its audit row."""
        cached = self._callers.get(tuple(params))
        if cached is None:
            return None
        fingerprint, caller = cached
        if not caller.token.is_active or selectors.touch_due(caller.token, timezone.now()):
            return None
        return caller, fingerprint

    async def caller(self, *, raw_token: str, params: list[str]) -> tuple[Caller, CallerFingerprint]:
        """``selectors.caller_resolve`` on this pool (same statement, same row handling), with
        the caller's fingerprint (``_CallerQuery.fingerprinted_sql``)."""
        query = selectors.caller_query()
        row = await self.fetchone(query.fingerprinted_sql, params, idempotent=True)
        fingerprint = query.fingerprint(row) if row is not None else None
        row = row[:-1] if row is not None else None
        key = tuple(params)
        cached = self._callers.get(key)
        if cached is not None and cached[0] == fingerprint and cached[1].token.is_active:  # is_active: expiry moves on
            caller: Caller | None = cached[1]
            token = caller.token
        else:
            token = selectors.token_from_row(row, raw_token)
            caller = None
        now = timezone.now()
        touched = selectors.touch_due(token, now)
        if touched:
            await self.fetchone(selectors.TOUCH_SQL, [now, token.pk], idempotent=True)
            token.last_used_at = now
        if caller is None:
            caller = selectors.caller_from_row(row, token)
        if touched:  # the cached token's last_used_at would be stale at once: not worth caching
            self._callers.pop(key, None)
        else:
            self._callers[key] = (fingerprint, caller)
            while len(self._callers) > MAX_CACHED_CALLERS:
                self._callers.popitem(last=False)
        return caller, fingerprint

    async def audit(self, pending: PendingEvent) -> AuditEvent:
        """Append ``pending`` to its organization's chain (committed on return)."""
        row = await self.fetchone(APPEND_SQL, pending.params)
        return audit_stored(pending, row)

    async def audit_if_unchanged(self, pending: PendingEvent, params: list[str],
                                 fingerprint: CallerFingerprint) -> AuditEvent | None:
        """Append ``pending`` only if the caller of ``params`` still has ``fingerprint``: the
        caller check and the audit row in one statement (one round trip). None, with nothing
        written, when the token, user, membership, teams, endpoint or config changed since."""
        row = await self.fetchone(_UNCHANGED_APPEND_SQL, [*pending.params, *fingerprint.unchanged_params()])
        if row is None:
            self._callers.pop(tuple(params), None)
            return None
        return audit_stored(pending, row)

    # ------------------------------------------------------------------ deferred rows

    def append_later(self, pending: PendingEvent) -> None:
        """Queue a row that must be written but need not be before anything else happens (a
        call's ``tool.call_completed``, the answer having left): the rows queued within
        ``MCP_AUDIT_BATCH_MS`` go in one statement and one commit (``APPEND_MANY_SQL``), which
        on a busy gateway takes most of a round trip off every call. ``close`` writes what is
        left; a batch that fails is retried, then logged with its events."""
        self._later.append(pending)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            try:  # the batch window, cut short by close()
                await asyncio.wait_for(self._closing.wait(), timeout=self.batch_seconds)
            except TimeoutError:
                pass
            while self._later:
                await self._flush()
        finally:
            self._flusher = None

    async def _flush(self) -> None:
        batch, self._later = self._later[:MAX_BATCH], self._later[MAX_BATCH:]
        for attempt, delay in enumerate((*BATCH_RETRIES, None)):
            try:
                await self._write_many(batch)
                return
            except psycopg.errors.UniqueViolation:
                if attempt == 0:
                    break  # not a lost answer: some row of the batch is at fault
                # One statement is all or nothing, and these public ids are new: the attempt
                # whose answer was lost did commit.
                logger.warning("%d audit rows were already written by the attempt that failed", len(batch))
                return
            except (psycopg.OperationalError, PoolTimeout, OSError) as exc:  # the database, not the rows
                if delay is None:
                    self._lost(batch, exc)
                    return
                logger.warning("writing %d audit rows failed (%s); retrying in %.1f s", len(batch), exc, delay)
                await asyncio.sleep(delay)
            except psycopg.Error:
                break
        # A row the database refuses (its actor or organization deleted meanwhile, say) must
        # not take the others with it: write them one by one.
        for pending in batch:
            try:
                await self.audit(pending)
            except (psycopg.Error, PoolTimeout, OSError) as exc:
                self._lost([pending], exc)

    async def _write_many(self, batch: list[PendingEvent]) -> None:
        assert self.pool is not None, "HotPathDatabase.open() first"
        conn = await self.pool.getconn()
        try:
            self.statements += 1
            cursor = await conn.execute(APPEND_MANY_SQL, append_many_params(batch))
            audit_stored_many(batch, await cursor.fetchall())
        finally:
            await self.pool.putconn(conn)

    @staticmethod
    def _lost(batch: list[PendingEvent], exc: BaseException) -> None:
        logger.error("could not write %d audit rows (%s); lost: %s", len(batch), exc,
                     [(p.event.event_type, p.event.target_id, str(p.event.public_id)) for p in batch])


_UNCHANGED_APPEND_SQL = append_where_sql(CALLER_UNCHANGED_SOURCE)
