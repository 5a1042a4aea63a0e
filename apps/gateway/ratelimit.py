"""Per-token and per-tool call limits in Redis: fixed one-minute windows.

A fixed window (INCR on ``<prefix>:<scope>:<id>:<minute>`` with a two-minute expiry) costs
one command for all the limits of a call (a Lua script run with EVALSHA: one reply to parse
instead of two per limit from a pipeline) and is exact within its minute; its known
weakness, up to twice the limit across a window boundary, is acceptable for a budget meant
to stop runaway agents, not to meter billing.

* per token (``MCP_RATE_LIMIT_PER_TOKEN``): one agent's budget, counted on tools/list and
  tools/call;
* per tool (``MCP_RATE_LIMIT_PER_TOOL``): protects the upstream operation in one environment,
  all callers combined, counted on tools/call.

The prefix (``MCP_RATE_LIMIT_PREFIX``, by default ``mcpforge:rl:<database name>``) keeps the
counters of each instance apart: a second instance or a benchmark sharing the Redis database
has other database ids, and must not spend a real agent's budget.

Redis unreachable means the call is refused (fail closed, like the audit log): a gateway that
cannot count cannot promise its limits.

The script is sent by redis-py's asyncio client with the hiredis reply parser
(``redis.asyncio`` ``Script``: EVALSHA, reloaded with EVAL after a Redis restart forgot it),
to the server named by ``REDIS_URL`` (any URL redis-py reads: redis://, rediss://, unix://).
bench/libraries.py measured it against the hand-written RESP client this module used to carry
(now in bench/retired.py): about 60-100 µs more CPU per call on this machine, under the 100 µs
that would justify keeping our own. Every hit is bounded by ``TIMEOUT_SECONDS`` as a whole
(connect, redis-py's retries, the reply).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio
import redis.exceptions

logger = logging.getLogger("mcpforge.gateway")

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
TIMEOUT_SECONDS = 2.0
MAX_CONNECTIONS = 64  # per gateway process; a hit holds one only for its round trip
# Event-loop turns a hit takes, on a kept connection, before its command is written: the hit's
# task runs in the next turn and, with no socket timeout (see RateLimiter), redis.asyncio 8.x
# writes within that step (a socket timeout made it two: the write ran in a wait_for task of its
# own); tests/gateway/test_ratelimit_send.py fails if a redis-py upgrade needs more.
SEND_TURNS = 1


async def let_hit_send() -> None:
    """Yield the event loop ``SEND_TURNS`` times, so that a hit started just before has written
    its command: its Redis round trip then runs while the caller works on (the gateway plans
    the call) instead of after that work. Too few turns leave the command unsent: the round
    trip then follows the planning (a loopback round trip at the median, several
    milliseconds at the 90th percentile on a loaded machine: Redis waiting for a CPU while
    the loop plans)."""
    for _ in range(SEND_TURNS):
        await asyncio.sleep(0)


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
    def __init__(self, url: str, prefix: str = PREFIX):
        # a URL redis-py cannot read raises ValueError here, at the gateway's start
        # No socket_timeout: every hit is bounded as a whole by asyncio.timeout in _counts. With
        # one, redis-py wraps each write in asyncio.wait_for (in Python 3.11 a task of its own,
        # so the command left one event-loop turn later) and each read in a timeout context,
        # on every call; a hit cut short by the outer timeout is cancelled, and redis-py then
        # disconnects the connection rather than hand it out again with a reply unread.
        self._redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=None, socket_connect_timeout=TIMEOUT_SECONDS,
            max_connections=MAX_CONNECTIONS, retry_on_timeout=False)
        self._prefix = prefix
        self._script = self._redis.register_script(HIT_SCRIPT)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _counts(self, keys: list[str]) -> list[int]:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            reply = await self._script(keys=keys, args=[WINDOW_SECONDS * 2])
        if not isinstance(reply, list) or len(reply) != len(keys):
            raise redis.exceptions.ResponseError(f"unexpected reply to the rate-limit script: {reply!r}"[:200])
        return reply

    async def hit(self, limits: Sequence[Limit], *, now: float | None = None) -> Verdict:
        """Count one hit against every active limit; the first exceeded one is reported."""
        active = [limit for limit in limits if limit.per_minute > 0]
        if not active:
            return Verdict(True)
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
        keys = [f"{self._prefix}:{limit.scope}:{limit.key}:{window}" for limit in active]
        try:
            counts = await self._counts(keys)
        except Exception:  # noqa: BLE001 - whatever went wrong, nothing was counted: refuse (fail closed)
            logger.warning("rate limiter unavailable", exc_info=True)
            return Verdict(False, unavailable=True)
        for limit, count in zip(active, counts, strict=True):
            if int(count) > limit.per_minute:
                return Verdict(False, scope=limit.scope, limit=limit.per_minute, retry_after=retry_after)
        return Verdict(True)
