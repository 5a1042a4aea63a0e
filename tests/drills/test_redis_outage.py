"""Drill: Redis goes away under a running gateway process and comes back.

The gateway (a real uvicorn process) points at a Redis of this test's own; the shared Redis is
never touched. While it is down, tools/call is refused with the rate limiter's error and
nothing is sent upstream, while web pages keep answering; once it is back the next call goes
through, without restarting anything."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client
from mcp.shared.exceptions import MCPError

from apps.audit.models import AuditEvent
from tests.gateway.conftest import run_client

from .conftest import endpoint, gateway_process

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def call_order(url: str, token: str):
    """The tool result, or the MCPError the gateway answered with."""
    try:
        return run_client(url, token, lambda client: client.call_tool("getOrderById", {"orderId": 1}))
    except MCPError as exc:
        return exc


def test_redis_outage_refuses_calls_keeps_pages_and_recovers(world, own_redis):
    session = Client()
    session.force_login(world.people.member)
    cookies = {"sessionid": session.cookies["sessionid"].value}
    token = world.tokens["member"]
    project_page = f"/o/{world.people.org.slug}/p/{world.project.slug}/"

    with gateway_process(REDIS_URL=own_redis.url, MCP_RATE_LIMIT_PER_TOKEN="1000") as base:
        mcp = endpoint(world, base)
        before = call_order(mcp, token)

        own_redis.stop()
        during = [call_order(mcp, token) for _ in range(2)]
        with httpx.Client(base_url=base, cookies=cookies, timeout=10) as web, \
                httpx.Client(base_url=base, timeout=10) as anonymous:
            # the project page reads the (Redis) cache: it must degrade, not fail
            pages = [web.get("/healthz").status_code, anonymous.get("/accounts/login/").status_code,
                     web.get(project_page).status_code]
        refusals = list(AuditEvent.objects.filter(organization=world.people.org, event_type="tool.call_denied")
                        .values_list("payload__reason", flat=True))

        own_redis.start()  # same port, empty: the limiter reconnects and reloads its script
        after = call_order(mcp, token)

    assert not isinstance(before, MCPError) and before.is_error is False
    for refused in during:
        assert isinstance(refused, MCPError), refused
        assert "rate limiter is unavailable" in refused.message
        assert refused.error.data["reason"] == "rate_limiter_unavailable"
    assert pages == [200, 200, 200]
    assert refusals == ["rate_limiter_unavailable"] * 2  # each refusal is audited
    assert not isinstance(after, MCPError) and after.is_error is False
