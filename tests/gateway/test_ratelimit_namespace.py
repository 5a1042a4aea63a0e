"""Issue 18, item 14: rate-limit counters are namespaced per instance, so a benchmark or a second
instance on the same Redis database never spends a real agent's budget. Real Redis."""

import uuid

import pytest
from django.conf import settings

from apps.gateway.ratelimit import Limit, RateLimiter

from .conftest import run_async


def test_two_instances_on_one_redis_database_keep_separate_counters():
    token_id = "7"  # the same database id in both instances

    async def scenario():
        tag = uuid.uuid4().hex
        real = RateLimiter(settings.REDIS_URL, prefix=f"mcpforge:rl:prod-{tag}")
        bench = RateLimiter(settings.REDIS_URL, prefix=f"mcpforge:rl:bench-{tag}")
        now = 60 * 16_000_000 + 5.0
        try:
            spent = [await bench.hit([Limit("token", token_id, 3)], now=now) for _ in range(5)]
            agent = await real.hit([Limit("token", token_id, 3)], now=now)
            key = await real._redis.exists(f"mcpforge:rl:prod-{tag}:token:{token_id}:{int(now // 60)}")
        finally:
            await real.close()
            await bench.close()
        return spent, agent, key

    spent, agent, key = run_async(scenario())
    assert not spent[-1].allowed  # the benchmark exhausted its own budget
    assert agent.allowed and key == 1  # the agent's counter is untouched


@pytest.mark.django_db(transaction=True)
def test_the_gateway_counts_under_the_instance_prefix(world):
    import redis

    from .conftest import list_names

    prefix = settings.MCP_RATE_LIMIT_PREFIX
    # settings name the configured database (the test runner's "test_" copy comes later)
    assert prefix == "mcpforge:rl:" + settings.DATABASES["default"]["NAME"].removeprefix("test_")
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert list_names(world.endpoint(), world.tokens["member"])
    ours = [k.decode() for k in client.scan_iter(f"{prefix}:token:*")]
    assert ours


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_call_is_audited_against_its_tool(world, settings):
    """Issue 18, item 9: the refusal names the tool, not only the environment."""
    from mcp.shared.exceptions import MCPError

    from .conftest import audit_events

    settings.MCP_RATE_LIMIT_PER_TOOL = 1

    async def two_calls(client):
        await client.call_tool("getOrderById", {"orderId": 1})
        try:
            await client.call_tool("getOrderById", {"orderId": 1})
        except MCPError as exc:
            return exc
        return None

    assert run_async_client(world, two_calls) is not None
    (denied,) = audit_events(world.people.org, "tool.call_denied")
    assert denied.payload["reason"] == "rate_limited"
    assert denied.target_type == "tool" and "getOrderById" in denied.target_label


def run_async_client(world, fn):
    from .conftest import run_client

    return run_client(world.endpoint(), world.tokens["member"], fn)
