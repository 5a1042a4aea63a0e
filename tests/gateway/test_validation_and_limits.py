"""Argument validation (JSON Schema 2020-12) and the Redis rate limiter, on their own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings

from apps.gateway.ratelimit import Limit, RateLimiter, ScriptClient, parse_url
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
            ttl = await limiter._redis.call("TTL", f"mcpforge:rl:token:{key}:{int(now // 60)}")
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


def test_the_script_is_reloaded_and_a_dropped_connection_replaced():
    """SCRIPT FLUSH (a Redis restart forgets scripts) and a server-side kill of the kept
    connection: the next hits still count, without an 'unavailable' verdict."""
    async def scenario():
        limiter = RateLimiter(settings.REDIS_URL)
        key = uuid.uuid4().hex
        now = 60 * 16_000_000 + 5.0
        try:
            first = await limiter.hit([Limit("token", key, 100)], now=now)
            await limiter._redis.call("SCRIPT", "FLUSH")
            after_flush = await limiter.hit([Limit("token", key, 100)], now=now)
            _, writer = limiter._redis._idle[-1]
            host, port = writer.get_extra_info("sockname")[:2]
            admin = ScriptClient(settings.REDIS_URL)
            assert await admin.call("CLIENT", "KILL", "ADDR", f"{host}:{port}") == 1  # from another connection
            await admin.close()
            after_kill = await limiter.hit([Limit("token", key, 100)], now=now)
            count = await limiter._redis.call("GET", f"mcpforge:rl:token:{key}:{int(now // 60)}")
        finally:
            await limiter.close()
        return first, after_flush, after_kill, count

    first, after_flush, after_kill, count = run_async(scenario())
    assert first.allowed and after_flush.allowed and after_kill.allowed
    assert count == b"3"


class FakeRedis:
    """A RESP server that records commands and answers from a script of replies."""

    def __init__(self, replies: list[bytes]):
        self.replies = replies
        self.commands: list[list[bytes]] = []

    async def handle(self, reader, writer) -> None:
        try:
            while self.replies:
                header = await reader.readline()
                if not header:
                    return
                args = []
                for _ in range(int(header[1:])):
                    size = int((await reader.readline())[1:])
                    args.append((await reader.readexactly(size + 2))[:-2])
                self.commands.append(args)
                writer.write(self.replies.pop(0))
                await writer.drain()
        finally:
            writer.close()


def fake_redis_run(replies: list[bytes], url_template: str, limits: list[Limit]):
    async def scenario():
        fake = FakeRedis(replies)
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            limiter = RateLimiter(url_template.format(port=port))
            try:
                verdict = await limiter.hit(limits)
            finally:
                await limiter.close()
        return verdict, fake.commands

    return run_async(scenario())


def test_handshake_noscript_fallback_and_error_replies():
    limits = [Limit("token", "t1", 5), Limit("tool", "e1:getItem", 1)]
    verdict, commands = fake_redis_run(
        [b"+OK\r\n", b"+OK\r\n", b"-NOSCRIPT No matching script.\r\n", b"*2\r\n:1\r\n:2\r\n"],
        "redis://agent:s%40cret@127.0.0.1:{port}/3", limits)
    assert [c[0] for c in commands] == [b"AUTH", b"SELECT", b"EVALSHA", b"EVAL"]
    assert commands[0] == [b"AUTH", b"agent", b"s@cret"] and commands[1] == [b"SELECT", b"3"]
    assert commands[2][2] == b"2" and commands[2][5] == b"120"
    assert commands[2][3].startswith(b"mcpforge:rl:token:t1:") and commands[2][4].startswith(b"mcpforge:rl:tool:e1:")
    assert commands[3][1].strip().startswith(b"local counts")
    assert not verdict.allowed and verdict.scope == "tool" and verdict.limit == 1  # 2 > 1

    refused, _ = fake_redis_run([b"-WRONGPASS invalid username-password pair\r\n"],
                                "redis://:bad@127.0.0.1:{port}/0", limits)
    broken, _ = fake_redis_run([b"HTTP/1.1 400 Bad Request\r\n\r\n"], "redis://127.0.0.1:{port}/0", limits)
    script_error, _ = fake_redis_run([b"-ERR Error running script\r\n"], "redis://127.0.0.1:{port}", limits)
    assert refused.unavailable and broken.unavailable and script_error.unavailable


def test_redis_urls():
    assert parse_url("redis://127.0.0.1:6379/15").db == 15
    assert parse_url("rediss://u:p%40w@cache.internal/2") == parse_url("rediss://u:p%40w@cache.internal:6379?db=2")
    secure = parse_url("rediss://u:p%40w@cache.internal/2")
    assert secure.tls and secure.password == "p@w" and secure.username == "u" and secure.host == "cache.internal"
    assert parse_url("unix:///run/redis.sock?db=4").path == "/run/redis.sock"
    with pytest.raises(ValueError, match="redis://"):
        parse_url("http://127.0.0.1:6379")
    with pytest.raises(ValueError, match="database number"):
        parse_url("redis://127.0.0.1/abc")
