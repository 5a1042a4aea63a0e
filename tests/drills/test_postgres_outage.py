"""Drill: the database goes away under a running gateway process, then comes back.

Restarting the shared Postgres would break the other test sessions on this machine, so the
outage is made for the pytest database only: new connections to it are refused (``ALTER
DATABASE ... ALLOW_CONNECTIONS false``) and every backend connected to it is terminated
(``pg_terminate_backend``) except the one pytest itself uses. To the gateway this is what a
restart looks like: its pooled connections die and reconnecting fails. Calls must fail closed
with a clear MCP error and reach no upstream; once connections are allowed again the gateway
recovers by itself (no restart)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from mcp.shared.exceptions import MCPError

from tests.gateway import conftest as gateway_conftest
from tests.gateway.conftest import run_client

from .conftest import gateway_process

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def echo(url: str, token: str, n: int):
    """The tool result, or the error the client raised (MCP error, HTTP status)."""
    try:
        return run_client(url, token, lambda client: client.call_tool("getEcho", {"thing": f"drill-{n}"}))
    except Exception as exc:  # noqa: BLE001 - whatever the client surfaced is what is asserted
        return exc


def admin():
    settings = connection.settings_dict
    return psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
                           user=settings["USER"] or "postgres", dbname="postgres", autocommit=True)


def outage(name: str, spare_pid: int) -> int:
    with admin() as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        return conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> %s AND pid <> pg_backend_pid()",
                            [name, spare_pid]).fetchone()[0]


def end_outage(name: str) -> None:
    with admin() as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def test_database_outage_fails_closed_then_recovers_without_restart(world, weird):
    name = connection.settings_dict["NAME"]
    connection.ensure_connection()
    spare = connection.connection.info.backend_pid  # pytest's own connection survives the drill
    token = world.tokens["member"]
    hits = gateway_conftest.UPSTREAM_HITS
    with gateway_process(MCP_RATE_LIMIT_PER_TOKEN="1000", MCP_RATE_LIMIT_PER_TOOL="1000") as base:
        url = weird.replace(world.url, base)
        before = [echo(url, token, n) for n in range(2)]  # the second is warm (cached caller)
        hits_before = len(hits)
        try:
            killed = outage(name, spare)
            during = [echo(url, token, n) for n in range(2)]  # ~10 s each: the pool's wait for a connection
            hits_during = len(hits) - hits_before
        finally:
            end_outage(name)
        recovered_at, after = None, None
        started = time.monotonic()
        while time.monotonic() - started < 60:
            after = echo(url, token, 99)
            if not isinstance(after, BaseException) and after.is_error is False:
                recovered_at = time.monotonic() - started
                break
            time.sleep(1)

    assert all(not isinstance(r, BaseException) and r.is_error is False for r in before), before
    assert killed >= 1  # the gateway's connections were there, and were cut
    assert hits_during == 0  # nothing reached the upstream while nothing could be audited
    for failure in during:
        assert isinstance(failure, BaseException), failure  # never a result
        text = failure.message if isinstance(failure, MCPError) else str(failure)
        assert "database" in text or "audit log" in text, text
    assert recovered_at is not None, after  # same process, no restart
