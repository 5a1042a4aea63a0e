"""Per-token and per-tool call limits in Redis: fixed one-minute windows.

A fixed window (INCR on ``mcpforge:rl:<scope>:<id>:<minute>`` with a two-minute expiry) costs
one command for all the limits of a call (a Lua script run with EVALSHA: one reply to parse
instead of two per limit from a pipeline) and is exact within its minute; its known
weakness, up to twice the limit across a window boundary, is acceptable for a budget meant
to stop runaway agents, not to meter billing.

* per token (``MCP_RATE_LIMIT_PER_TOKEN``): one agent's budget, counted on tools/list and
  tools/call;
* per tool (``MCP_RATE_LIMIT_PER_TOOL``): protects the upstream operation in one environment,
  all callers combined, counted on tools/call.

Redis unreachable means the call is refused (fail closed, like the audit log): a gateway that
cannot count cannot promise its limits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

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
    def __init__(self, url: str):
        self._redis = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._hit = self._redis.register_script(HIT_SCRIPT)  # EVALSHA, loaded on first use

    async def close(self) -> None:
        await self._redis.aclose()

    async def hit(self, limits: Sequence[Limit], *, now: float | None = None) -> Verdict:
        """Count one hit against every active limit; the first exceeded one is reported."""
        active = [limit for limit in limits if limit.per_minute > 0]
        if not active:
            return Verdict(True)
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
        keys = [f"{PREFIX}:{limit.scope}:{limit.key}:{window}" for limit in active]
        try:
            counts = await self._hit(keys=keys, args=[WINDOW_SECONDS * 2])
        except (RedisError, OSError):
            return Verdict(False, unavailable=True)
        for limit, count in zip(active, counts, strict=True):
            if int(count) > limit.per_minute:
                return Verdict(False, scope=limit.scope, limit=limit.per_minute, retry_after=retry_after)
        return Verdict(True)
