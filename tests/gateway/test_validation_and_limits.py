"""Argument validation (JSON Schema 2020-12) and the Redis rate limiter, on their own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio
from django.conf import settings

from apps.gateway import ratelimit
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


def test_the_script_is_reloaded_and_a_dropped_connection_replaced():
    """SCRIPT FLUSH (a Redis restart forgets scripts) and a server-side kill of the kept
    connection: the next hits still count, without an 'unavailable' verdict."""
    async def scenario():
        limiter = RateLimiter(settings.REDIS_URL)
        key = uuid.uuid4().hex
        now = 60 * 16_000_000 + 5.0
        try:
            first = await limiter.hit([Limit("token", key, 100)], now=now)
            await limiter._redis.script_flush()
            after_flush = await limiter.hit([Limit("token", key, 100)], now=now)
            admin = redis.asyncio.Redis.from_url(settings.REDIS_URL)
            name = f"rl-{key}"
            await limiter._redis.client_setname(name)  # the connection the limiter keeps
            clients = [c for c in await admin.client_list() if c["name"] == name]
            assert len(clients) == 1
            assert await admin.client_kill_filter(_id=clients[0]["id"]) == 1  # from another connection
            await admin.aclose()
            after_kill = await limiter.hit([Limit("token", key, 100)], now=now)
            count = await limiter._redis.get(f"mcpforge:rl:token:{key}:{int(now // 60)}")
        finally:
            await limiter.close()
        return first, after_flush, after_kill, count

    first, after_flush, after_kill, count = run_async(scenario())
    assert first.allowed and after_flush.allowed and after_kill.allowed
    assert count == b"3"


async def read_command(reader) -> list[bytes] | None:
    """One RESP command (an array of bulk strings) from a client; None once it has closed."""
    header = await reader.readline()
    if not header:
        return None
    args = []
    for _ in range(int(header[1:])):
        size = int((await reader.readline())[1:])
        args.append((await reader.readexactly(size + 2))[:-2])
    return args


class FakeRedis:
    """A RESP server that records commands and answers from a script of replies."""

    def __init__(self, replies: list[bytes]):
        self.replies = replies
        self.commands: list[list[bytes]] = []

    async def handle(self, reader, writer) -> None:
        try:
            while self.replies:
                args = await read_command(reader)
                if args is None:
                    return
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


def test_error_replies_and_garbage_fail_closed():
    """Whatever a server answers instead of the script's counts (an authentication error, a
    script error, something that is not Redis at all), the verdict is 'unavailable'."""
    limits = [Limit("token", "t1", 5), Limit("tool", "e1:getItem", 1)]
    many = 20  # redis-py's handshake and retries may ask more than once
    refused, _ = fake_redis_run([b"-WRONGPASS invalid username-password pair\r\n"] * many,
                                "redis://:bad@127.0.0.1:{port}/0", limits)
    broken, _ = fake_redis_run([b"HTTP/1.1 400 Bad Request\r\n\r\n"] * many, "redis://127.0.0.1:{port}/0", limits)
    script_error, _ = fake_redis_run([b"-ERR Error running script\r\n"] * many, "redis://127.0.0.1:{port}", limits)
    wrong_shape, _ = fake_redis_run([b"+OK\r\n"] * many, "redis://127.0.0.1:{port}", limits)
    assert refused.unavailable and broken.unavailable and script_error.unavailable and wrong_shape.unavailable
    assert not (refused.allowed or broken.allowed or script_error.allowed or wrong_shape.allowed)


def test_a_redis_url_redis_py_cannot_read_stops_the_gateway_from_starting():
    with pytest.raises(ValueError):
        RateLimiter("http://127.0.0.1:6379")


def test_a_hit_cut_short_by_the_timeout_never_leaves_its_reply_to_the_next(monkeypatch):
    """The limiter sets no socket timeout of its own (redis-py would wrap every write in a task):
    a hit is bounded as a whole by ``TIMEOUT_SECONDS``. A server that answers too late makes
    that hit 'unavailable'; its late reply (a count over the limit) must not be read by the
    next hit as that hit's own answer: the cut-short connection is not handed out again."""
    monkeypatch.setattr(ratelimit, "TIMEOUT_SECONDS", 0.3)
    over, under = b"*1\r\n:999\r\n", b"*1\r\n:1\r\n"

    async def handle(reader, writer, delays=[0.8, 0.0, 0.0], replies=[over, under, under]):  # noqa: B006
        try:
            while (args := await read_command(reader)) is not None:
                if args[0].upper() in (b"EVALSHA", b"EVAL"):
                    await asyncio.sleep(delays.pop(0))
                    writer.write(replies.pop(0))
                elif args[0].upper() == b"HELLO":  # as a RESP2-only server: redis-py falls back to RESP2
                    writer.write(b"-ERR unknown command 'HELLO'\r\n")
                else:  # the rest of it (CLIENT SETINFO, SELECT)
                    writer.write(b"+OK\r\n")
                await writer.drain()
        except (ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def scenario():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            limiter = RateLimiter(f"redis://127.0.0.1:{port}/0")
            try:
                started = asyncio.get_running_loop().time()
                late = await limiter.hit([Limit("token", "t", 5)])
                waited = asyncio.get_running_loop().time() - started
                await asyncio.sleep(0.6)  # the late reply has been sent by now
                after = await limiter.hit([Limit("token", "t", 5)])
            finally:
                await limiter.close()
        return late, waited, after

    late, waited, after = run_async(scenario())
    assert late.unavailable and not late.allowed and waited < 0.7
    assert after.allowed, after  # its own count (1), not the late 999
