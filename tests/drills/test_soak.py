"""Soak: two gateway processes and two Celery workers under 50 concurrent clients.

Bounded: about 20 s of load on loopback (the whole test well under two minutes on an idle
machine). Two uvicorn processes on their own ports (what ``--workers 2`` forks, made
addressable so every assertion can name the process), every client alternating between them,
and the shared state is only Postgres and Redis. Asserted:

* rate limits are exact across processes: a burst of 2 x limit calls with one token through
  both processes lets exactly ``limit`` through;
* a token revoked mid-run is refused by both processes from the next call on;
* every call that succeeded has both audit rows (``tool.called`` and ``tool.call_completed``),
  found by the request id the client sent;
* approved calls delivered twice each to two workers are executed exactly once.

Figures (calls, throughput, p50/p99) are printed for README's scaling notes."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack

import httpx
import pytest

from apps.audit.models import AuditEvent
from tests.conftest import wait_for
from tests.gateway.conftest import make_token, run_async

from .conftest import endpoint, gateway_process

pytestmark = [pytest.mark.soak, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

CLIENTS = 50
SECONDS = 20
LIMIT = 200  # per token per minute, in both processes together
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2025-11-25"}


def body(name: str, arguments: dict) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


async def call(http: httpx.AsyncClient, url: str, token: str) -> tuple[str, str, float]:
    """(request id, outcome, seconds): outcome is ok | tool_error | rate_limited | http_<status> | rpc_<code>."""
    request_id = uuid.uuid4().hex
    started = time.monotonic()
    try:
        response = await http.post(url, json=body("getOrderById", {"orderId": 1}),
                                   headers={**HEADERS, "Authorization": f"Bearer {token}", "X-Request-Id": request_id})
    except httpx.TransportError as exc:
        return request_id, f"transport_{type(exc).__name__}", time.monotonic() - started
    elapsed = time.monotonic() - started
    if response.status_code != 200:
        return request_id, f"http_{response.status_code}", elapsed
    answer = response.json()
    if "error" in answer:
        data = answer["error"].get("data") or {}
        return request_id, data.get("reason") or f"rpc_{answer['error']['code']}", elapsed
    return request_id, "tool_error" if answer["result"].get("isError") else "ok", elapsed


def test_two_processes_two_workers_fifty_clients(world, people):
    from apps.accounts.models import ApiToken
    from apps.accounts.services import token_revoke
    from apps.approvals import services as approvals
    from apps.approvals.models import ApprovalRequest
    from apps.inventory.selectors import current_tools
    from tests.approvals.conftest import requirement
    from tests.approvals.test_worker_drill import start_worker, stop

    member = people.member
    tokens = [make_token(member, people.org, name=f"soak-{i}") for i in range(CLIENTS)]
    doomed = tokens[0]  # revoked mid-run
    burst_tokens = [make_token(member, people.org, name=f"burst-{i}") for i in range(2)]
    env = {"MCP_RATE_LIMIT_PER_TOKEN": str(LIMIT), "MCP_RATE_LIMIT_PER_TOOL": "0", "MCP_DB_ASYNC_CONNECTIONS": "10"}

    with ExitStack() as stack:
        bases = [stack.enter_context(gateway_process(**env)) for _ in range(2)]
        urls = [endpoint(world, base) for base in bases]
        workers = [start_worker(f"soak-{i}") for i in range(2)]
        stack.callback(lambda: [stop(w) for w in workers])

        # -- rate limit exactness across processes
        async def burst(token: str) -> tuple[Counter, int, int]:
            window = int(time.time() // 60)
            async with httpx.AsyncClient(timeout=30) as http:
                results = await asyncio.gather(*(call(http, urls[i % 2], token) for i in range(2 * LIMIT)))
            return Counter(outcome for _, outcome, _ in results), window, int(time.time() // 60)

        for token in burst_tokens:  # a second try if the burst straddled a minute boundary
            burst_counts, start_window, end_window = run_async(burst(token))
            if start_window == end_window:
                break

        # -- the load, with a revocation in the middle
        revoked_at: list[float] = []
        results: list[tuple[int, str, str, float, float, str]] = []

        async def client(i: int, http: httpx.AsyncClient, deadline: float) -> None:
            n = 0
            while time.monotonic() < deadline:
                url = urls[(i + n) % 2]
                started = time.monotonic()
                request_id, outcome, elapsed = await call(http, url, tokens[i])
                results.append((i, request_id, outcome, started, elapsed, url))
                n += 1

        async def load() -> None:
            deadline = time.monotonic() + SECONDS
            limits = httpx.Limits(max_connections=CLIENTS * 2, max_keepalive_connections=CLIENTS * 2)
            async with httpx.AsyncClient(timeout=60, limits=limits) as http:
                await asyncio.gather(*(client(i, http, deadline) for i in range(CLIENTS)))

        def revoke_later() -> None:
            time.sleep(SECONDS / 2)
            token_revoke(token=ApiToken.objects.get(organization=people.org, name="soak-0"), actor=people.owner)
            revoked_at.append(time.monotonic())

        revoker = threading.Thread(target=revoke_later)
        revoker.start()
        load_started = time.monotonic()
        run_async(load())
        load_seconds = time.monotonic() - load_started
        revoker.join()

        async def after_revocation() -> list[str]:
            async with httpx.AsyncClient(timeout=30) as http:
                return [(await call(http, url, doomed))[1] for url in urls]

        refused_everywhere = run_async(after_revocation())

        # -- approved calls, each delivered twice, two workers
        from apps.approvals import tasks

        tool = current_tools(world.project).get(operation_key="POST /store/order")
        requests = [approvals.approval_request_create(
            tool=tool, environment=world.environment, requester=people.admin, token=None,
            arguments={"id": i, "petId": 1, "quantity": 1, "status": "placed", "complete": False},
            justification="soak", requirement=requirement()) for i in range(10)]
        for request in requests:
            approvals.approval_decide(request=request, reviewer=people.reviewer, decision="approve", comment="ok")
            tasks.execute_approved_request.delay(request.pk)  # a duplicate delivery
        ids = [r.pk for r in requests]
        wait_for(lambda: not ApprovalRequest.objects.filter(pk__in=ids, status__in=["approved", "executing"]).exists(),
                 timeout=120)
    # the gateways are stopped: their last outcome rows are written

    outcomes = Counter(outcome for _, _, outcome, _, _, _ in results)
    ok = [r for r in results if r[2] == "ok"]
    latencies = sorted(r[4] for r in ok)
    print(f"\nSOAK: {len(results)} calls in {load_seconds:.1f} s ({len(results) / load_seconds:.0f}/s) by {CLIENTS} "
          f"clients over 2 processes; outcomes {dict(outcomes)}; ok p50 {statistics.median(latencies) * 1000:.0f} ms "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms; burst {dict(burst_counts)}")

    assert start_window == end_window, "both bursts straddled a minute boundary"
    assert burst_counts["ok"] == LIMIT and burst_counts["rate_limited"] == LIMIT

    assert refused_everywhere == ["http_401", "http_401"]
    late = [r for r in results if r[0] == 0 and r[3] > revoked_at[0]]
    assert all(r[2] == "http_401" for r in late), Counter(r[2] for r in late)
    assert set(outcomes) <= {"ok", "http_401"}, outcomes  # nothing else went wrong under load
    assert len(ok) > CLIENTS * 5

    ids_ok = [r[1] for r in ok]
    rows = Counter(AuditEvent.objects.filter(organization=people.org, request_id__in=ids_ok)
                   .values_list("request_id", "event_type"))
    missing = [rid for rid in ids_ok if rows[(rid, "tool.called")] != 1 or rows[(rid, "tool.call_completed")] != 1]
    assert missing == [], f"{len(missing)} of {len(ids_ok)} calls lack an audit row"

    executed = Counter(AuditEvent.objects.filter(organization=people.org, event_type="approval.executed")
                       .values_list("target_id", flat=True))
    assert len(executed) == 10 and set(executed.values()) == {1}
    finished = dict(ApprovalRequest.objects.filter(pk__in=ids).values_list("status", "failure_reason"))
    assert set(finished) == {"executed"}, finished
