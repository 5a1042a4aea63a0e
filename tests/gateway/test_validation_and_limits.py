"""Argument validation (JSON Schema 2020-12) and the Redis rate limiter, on their own."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from apps.gateway.ratelimit import Limit, RateLimiter
from apps.gateway.validation import SchemaBroken, argument_errors
from tests.gateway.conftest import run_async

SCHEMA = {
    "type": "object",
    "properties": {
        "petId": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "enum": ["available", "sold"]},
        "since": {"type": "string", "format": "date-time"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["petId"],
    "additionalProperties": False,
}


def test_valid_arguments_pass():
    assert argument_errors(SCHEMA, {"petId": 3, "status": "sold", "since": "2024-01-02T03:04:05Z"}) == []


def test_problems_are_named_with_their_path():
    problems = argument_errors(SCHEMA, {"petId": 0, "status": "lost", "tags": ["a", 5], "x": 1})
    text = " | ".join(problems)
    assert "petId: 0 is less than the minimum of 1" in text
    assert "status: 'lost' is not one of ['available', 'sold']" in text
    assert "tags[1]: 5 is not of type 'string'" in text
    assert "Additional properties are not allowed ('x' was unexpected)" in text
    assert argument_errors(SCHEMA, {}) == ["(arguments): 'petId' is a required property"]


def test_formats_are_checked():
    assert argument_errors(SCHEMA, {"petId": 1, "since": "yesterday"}) == [
        "since: 'yesterday' is not a 'date-time'"]


def test_non_object_arguments_and_broken_schemas():
    assert argument_errors(SCHEMA, ["petId"]) == ["arguments must be a JSON object"]
    with pytest.raises(SchemaBroken):
        argument_errors({"type": "no-such-type"}, {}, cache_key="broken")


def test_too_many_problems_are_summarised():
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(8)}}
    problems = argument_errors(schema, {f"p{i}": "x" for i in range(8)})
    assert len(problems) == 6 and problems[-1] == "... and 3 more"


def test_fixed_window_limits_in_redis():
    async def scenario():
        limiter = RateLimiter(settings.REDIS_URL)
        key = uuid.uuid4().hex
        try:
            now = 60 * 16_000_000 + 20.0  # 20 s into a minute
            verdicts = [await limiter.hit([Limit("token", key, 3), Limit("tool", key, 0)], now=now) for _ in range(4)]
            next_minute = await limiter.hit([Limit("token", key, 3)], now=now + 60)
            unlimited = await limiter.hit([Limit("token", key, 0)], now=now)
            # two limits in one script call: the tool's is the one exceeded
            both = [await limiter.hit([Limit("token", key + "b", 10), Limit("tool", key + "b", 1)], now=now)
                    for _ in range(2)]
            ttl = await limiter._redis.ttl(f"mcpforge:rl:token:{key}:{int(now // 60)}")
        finally:
            await limiter.close()
        return verdicts, next_minute, unlimited, both, ttl

    verdicts, next_minute, unlimited, both, ttl = run_async(scenario())
    assert 60 < ttl <= 120  # set once, at the first hit of the window
    assert both[0].allowed and not both[1].allowed and both[1].scope == "tool" and both[1].limit == 1
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].scope == "token" and verdicts[-1].limit == 3 and verdicts[-1].retry_after == 40
    assert next_minute.allowed and unlimited.allowed


def test_unreachable_redis_fails_closed():
    async def scenario():
        limiter = RateLimiter("redis://127.0.0.1:1/0")
        try:
            return await limiter.hit([Limit("token", "x", 5)])
        finally:
            await limiter.close()

    verdict = run_async(scenario())
    assert not verdict.allowed and verdict.unavailable
