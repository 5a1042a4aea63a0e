"""Issue 16: the rate-limit round trip overlaps the planning of a call. The gateway starts the
hit, yields with ``let_hit_send`` and then plans (CPU on the loop); if the command is not
written by then, the Redis round trip follows the planning instead (as it did after the move
to redis-py, whose socket timeout cost a second turn). Real Redis."""

import asyncio
import uuid

from django.conf import settings

from apps.gateway import ratelimit
from apps.gateway.ratelimit import Limit, RateLimiter, let_hit_send

from .conftest import run_async


def test_a_hit_has_written_its_command_after_let_hit_send(monkeypatch):
    written: list[bytes] = []
    write, writelines = asyncio.StreamWriter.write, asyncio.StreamWriter.writelines

    def record_write(self, data):
        written.append(bytes(data))
        return write(self, data)

    def record_writelines(self, data):
        data = [bytes(chunk) for chunk in data]
        written.append(b"".join(data))
        return writelines(self, data)

    async def scenario():
        limiter = RateLimiter(settings.REDIS_URL, prefix=f"mcpforge:rl:send-{uuid.uuid4().hex}")
        limits = [Limit("token", "1", 1000), Limit("tool", "2", 1000)]
        try:
            await limiter.hit(limits)  # a kept connection, the script loaded
            monkeypatch.setattr(asyncio.StreamWriter, "write", record_write)
            monkeypatch.setattr(asyncio.StreamWriter, "writelines", record_writelines)
            sent_in_time = []
            for _ in range(5):
                written.clear()
                task = asyncio.ensure_future(limiter.hit(limits))
                await let_hit_send()
                sent_in_time.append(any(b"EVALSHA" in chunk.upper() for chunk in written))
                assert (await task).allowed
            return sent_in_time
        finally:
            monkeypatch.undo()
            await limiter.close()

    assert run_async(scenario()) == [True] * 5, f"a hit needs more than SEND_TURNS={ratelimit.SEND_TURNS} turns"
