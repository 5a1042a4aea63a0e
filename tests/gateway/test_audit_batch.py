"""The gateway's deferred audit rows (``HotPathDatabase.append_later``): gathered for
``MCP_AUDIT_BATCH_MS`` and written in one statement; a row the database refuses loses only
itself; ``close`` writes whatever is still queued."""

from __future__ import annotations

import asyncio
import logging

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import audit_prepare, audit_verify_organization
from apps.gateway.db import HotPathDatabase
from tests.gateway.conftest import run_async

pytestmark = pytest.mark.django_db(transaction=True)


def completion(org, actor, n: int):
    return audit_prepare(organization=org, event_type="tool.call_completed", actor=actor,
                         payload={"n": n, "outcome": "ok"})


def run(coro):
    return run_async(coro)  # on a helper thread if this one runs a loop (Playwright, earlier in the suite)


def test_rows_queued_together_are_written_in_one_statement(people):
    org = people.org

    async def go() -> int:
        hot = HotPathDatabase(2, batch_ms=50)
        await hot.open()
        for n in range(6):
            hot.append_later(completion(org, people.member, n))
        await asyncio.sleep(0.3)  # past the batch window: written without waiting for close
        written = hot.statements
        await hot.close()
        return written

    assert run(go()) == 1
    stored = list(AuditEvent.objects.filter(organization=org, event_type="tool.call_completed").order_by("seq"))
    assert [e.payload["n"] for e in stored] == [0, 1, 2, 3, 4, 5]
    assert audit_verify_organization(org)[1] is None


def test_close_writes_what_is_still_queued(people):
    async def go() -> None:
        hot = HotPathDatabase(1, batch_ms=60_000)  # a window that would never end on its own
        await hot.open()
        hot.append_later(completion(people.org, people.member, 1))
        hot.append_later(completion(people.org, people.member, 2))
        await asyncio.wait_for(hot.close(), timeout=5)

    run(go())  # close() cuts the window short: well inside the timeout
    assert AuditEvent.objects.filter(organization=people.org, event_type="tool.call_completed").count() == 2


def test_a_refused_row_loses_only_itself(people, caplog):
    from django.contrib.auth import get_user_model

    ghost = get_user_model().objects.create(username="ghost@acme.test", email="ghost@acme.test")
    doomed = completion(people.org, ghost, 99)
    get_user_model().objects.filter(pk=ghost.pk).delete()  # its row now violates the actor foreign key

    async def go() -> None:
        hot = HotPathDatabase(2, batch_ms=20)
        await hot.open()
        hot.append_later(completion(people.org, people.member, 1))
        hot.append_later(doomed)
        hot.append_later(completion(people.org, people.member, 2))
        await asyncio.sleep(0.3)
        await hot.close()

    with caplog.at_level(logging.ERROR, logger="mcpforge.gateway"):
        run(go())
    stored = [e.payload["n"] for e in
              AuditEvent.objects.filter(organization=people.org, event_type="tool.call_completed").order_by("seq")]
    assert stored == [1, 2]
    assert "could not write 1 audit rows" in caplog.text and str(doomed.event.public_id) in caplog.text
    assert audit_verify_organization(people.org)[1] is None


def test_tricky_values_reach_the_chain_exactly(people):
    """The batch travels as one JSON text: quotes, backslashes, newlines, astral characters and
    a "seq": inside a string come back as they were, and the chain verifies."""
    from apps.core import request_context

    payloads = [
        {"n": 0, "quotes": "'\"''", "backslashes": "\\ \\\\ \\u0041 \\\"", "lines": "a\nb\r\nc\u2028d"},
        {"n": 1, "note": '"seq":1,"seq":2', "seq": '{"seq":3}', "astral": "😀𝄞\U0010fffd", "cjk": "監査"},
        {"n": 2, "nested": [{"seq": 4}, None, 2**70, 0.1, True], "percent": "%s %(x)s"},
    ]
    contexts = [request_context.RequestContext(request_id='r"1', ip="2001:db8::7", user_agent="ua\\🦊"),
                request_context.RequestContext()]
    pending = []
    for n, payload in enumerate(payloads):
        with request_context.active(contexts[n % 2]):
            pending.append(audit_prepare(organization=people.org, event_type="tool.call_completed",
                                         actor=people.member if n % 2 else None, target_label=f"t'\"{n}\n",
                                         payload=payload))

    async def go() -> None:
        hot = HotPathDatabase(1, batch_ms=20)
        await hot.open()
        for p in pending:
            hot.append_later(p)
        await hot.close()
        assert hot.statements == 1

    run(go())
    stored = list(AuditEvent.objects.filter(organization=people.org, event_type="tool.call_completed").order_by("seq"))
    assert [e.payload for e in stored] == payloads
    assert [e.public_id for e in stored] == [p.event.public_id for p in pending]
    for row, p in zip(stored, pending, strict=True):
        assert row.hash == p.event.hash and row.chain_content() == p.event.chain_content()
    assert (stored[0].actor_id, stored[0].ip, stored[1].ip) == (None, "2001:db8::7", None)
    assert audit_verify_organization(people.org)[1] is None
