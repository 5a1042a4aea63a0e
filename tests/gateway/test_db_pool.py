"""The gateway's PostgreSQL pool (psycopg_pool, configured by ``apps.gateway.db.new_pool``) on the
real database: reuse, the bound and its timeout, no reuse of a connection a cancelled statement
left busy, and a backend the server killed while idle."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from apps.gateway import selectors
from apps.gateway.db import HotPathDatabase, _connection_kwargs, new_pool
from tests.gateway.conftest import make_token, run_async

pytestmark = pytest.mark.django_db(transaction=True)


async def backend_pid(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as conn:
        return (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]


def test_connections_are_reused_bounded_and_dropped_when_a_statement_is_cut_short():
    async def go():
        pool = new_pool(_connection_kwargs(), size=1, timeout=0.3)
        await pool.open(wait=True)
        try:
            first, again = await backend_pid(pool), await backend_pid(pool)
            # the only connection is busy: a second caller waits, then gets PoolTimeout
            async with pool.connection():
                with pytest.raises(PoolTimeout):
                    async with pool.connection():
                        pass
            # a statement cut short by a deadline is cancelled on the server; its connection is
            # lent again only once idle (the next statement gets its own answer)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2), pool.connection() as conn:
                    await conn.execute("SELECT pg_sleep(5)")
            after_cancel = await backend_pid(pool)
            # an error inside an autocommit statement leaves the connection idle and usable
            with pytest.raises(psycopg.errors.DivisionByZero):
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1 / 0")
            async with pool.connection() as conn:
                usable = (await (await conn.execute("SELECT 1")).fetchone())[0]
            with psycopg.connect(**_connection_kwargs()) as admin:  # nothing left running on the server
                sleeping = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' "
                                         "AND state = 'active' AND pid = %s", [first]).fetchone()[0]
        finally:
            await pool.close()
        return first, again, after_cancel, usable, sleeping

    first, again, after_cancel, usable, sleeping = run_async(go())
    assert first == again
    assert after_cancel > 0
    assert usable == 1 and sleeping == 0


def test_backends_killed_between_calls_cost_no_refusal(people):
    """The database restarts or an admin kills the connections: the caller lookup and the
    token's touch (read-only, idempotent) are retried on a new connection after the pool has
    dropped every dead idle one, so the agent never notices."""
    raw = make_token(people.member, people.org)
    params = selectors.caller_params(raw_token=raw, org_slug=people.org.slug, project_slug="no-such-project",
                                     env_slug="development")

    async def go():
        hot = HotPathDatabase(3)
        await hot.open()
        try:
            async with hot.pool.connection() as a, hot.pool.connection() as b:  # two idle ones afterwards
                killed = {(await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0] for conn in (a, b)}
            with psycopg.connect(**_connection_kwargs()) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(killed)])
            await asyncio.sleep(0.1)
            outcomes = []
            for _ in range(3):
                try:
                    await hot.caller(raw_token=raw, params=params)
                except selectors.GatewayRefusal as refusal:  # the endpoint does not exist: a 404, not a 503
                    outcomes.append(refusal.status)
            return killed, outcomes, await backend_pid(hot.pool)
        finally:
            await hot.close()

    killed, outcomes, now = run_async(go())
    assert outcomes == [404, 404, 404] and now not in killed
