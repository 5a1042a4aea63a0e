"""The gateway's own PostgreSQL connection pool (``apps.gateway.db.ConnectionPool``) on the real
database: reuse, the bound and its timeout, no reuse of a connection a statement broke, and a
backend the server killed while idle."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from apps.gateway import selectors
from apps.gateway.db import ConnectionPool, HotPathDatabase, _connection_kwargs
from tests.gateway.conftest import make_token, run_async

pytestmark = pytest.mark.django_db(transaction=True)


async def backend_pid(pool: ConnectionPool) -> int:
    async with pool.connection() as conn:
        return (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]


def test_connections_are_reused_bounded_and_dropped_when_a_statement_fails():
    async def go():
        pool = ConnectionPool(_connection_kwargs(), size=1, timeout=0.3)
        try:
            first, again = await backend_pid(pool), await backend_pid(pool)
            # the only connection is busy: a second caller waits, then gets PoolTimeout
            async with pool.connection():
                with pytest.raises(PoolTimeout):
                    async with pool.connection():
                        pass
            # a statement cut short by a deadline leaves its connection unusable: not reused
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2), pool.connection() as conn:
                    await conn.execute("SELECT pg_sleep(5)")
            after_cancel = await backend_pid(pool)
            # an error inside the statement: same
            with pytest.raises(psycopg.errors.DivisionByZero):
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1 / 0")
            after_error = await backend_pid(pool)
        finally:
            await pool.close()
        return first, again, after_cancel, after_error

    first, again, after_cancel, after_error = run_async(go())
    assert first == again
    assert len({first, after_cancel, after_error}) == 3


def test_a_backend_killed_between_calls_costs_no_refusal(people):
    """The database restarts or an admin kills the connection: the caller lookup (read-only)
    is retried on a new connection, so the agent never notices."""
    raw = make_token(people.member, people.org)
    params = selectors.caller_params(raw_token=raw, org_slug=people.org.slug, project_slug="no-such-project",
                                     env_slug="development")

    async def go():
        hot = HotPathDatabase(2)
        await hot.open()
        try:
            killed = await backend_pid(hot.pool)
            with psycopg.connect(**_connection_kwargs()) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [killed])
            await asyncio.sleep(0.1)
            try:
                await hot.caller(raw_token=raw, params=params)
            except selectors.GatewayRefusal as refusal:  # the endpoint does not exist: a 404, not a 503
                outcome = refusal.status
            return killed, outcome, await backend_pid(hot.pool)
        finally:
            await hot.close()

    killed, outcome, now = run_async(go())
    assert outcome == 404 and now != killed
