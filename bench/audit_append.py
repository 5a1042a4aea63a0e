#!/usr/bin/env python
"""Audit appends at a million events: O(1) whatever the table size and planner statistics.

Run alone: ``.venv/bin/python bench/audit_append.py [--events 1000000] [--appends 1000]``.
Needs Postgres; DATABASE_URL as for the app (only its server and user are used). It creates
its own database ``<DATABASE_URL's name>_bench_audit`` (migrated, dropped at the end), never
the app's: the name is derived, so two checkouts with their own databases never share it.

1. Loads ``--events`` keyed, correctly chained audit events into one organization with COPY
   (hashes computed here with chain.py, as audit_verify recomputes them), with autovacuum off
   on the table and no ANALYZE: the planner has no statistics, the situation of issue 22.
2. Times ``audit_record`` (one statement, autocommit) on that organization and on an empty
   one, in alternating blocks, so a slower phase of this shared machine weighs on both alike.
3. Times the audit page's query with filters (page 1 and page 20: 50 rows plus one
   below a seq, no count, as the page's ``seq_page`` runs them; and the REST list's count
   bounded at ``BoundedCountPagination.COUNT_CAP``), a full ``audit_verify`` of the big
   chain, then an incremental one after a signed checkpoint, all without statistics; last,
   the page queries again after ANALYZE, as in normal operation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("MCPFORGE_TESTING", "true")  # development audit key file

DB_SUFFIX = "_bench_audit"
EVENT_TYPES = ["tool.called", "tool.call_completed", "tool.called", "tool.call_completed", "approval.requested",
               "credential.updated", "project.updated", "member.added"]
COLUMNS = ("public_id, organization_id, seq, created_at, actor_id, actor_label, event_type, target_type, target_id, "
           "target_label, payload, request_id, ip, user_agent, prev_hash, hash, chain_version")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(org_id: int, count: int) -> tuple[str, float]:
    """COPY ``count`` chained, keyed events into ``org_id``; returns (head hash, seconds)."""
    import json
    import uuid

    from django.db import connection

    from apps.audit import chain, keys

    key = keys.org_key(org_id)
    start_time = datetime(2026, 1, 1, tzinfo=UTC)
    prev = chain.GENESIS
    started = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY audit_auditevent ({COLUMNS}) FROM STDIN") as copy:
        for seq in range(1, count + 1):
            event_type = EVENT_TYPES[seq % len(EVENT_TYPES)]
            created_at = start_time + timedelta(seconds=seq * 2)
            public_id = str(uuid.uuid4())
            target = ("tool", f"t{seq % 500}", f"getItem {seq % 500}")
            payload = {"i": seq, "arguments": {"id": seq % 1000}}
            if seq % 2 == 0:  # half the events name a project, a thousandth another one
                payload["project"] = "shop"
            elif seq % 1000 == 1:
                payload["project"] = "rare"
            prefix, suffix = chain.event_parts(
                actor="agent@bench.test", created_at=created_at.isoformat(), event_type=event_type,
                event_id=public_id, ip="10.0.0.1", organization=org_id, payload=payload, request_id=f"r{seq}",
                target=list(target), user_agent="bench/1")
            digest = chain.event_hash_from_parts(prefix, seq, suffix, prev, key)
            copy.write_row((public_id, org_id, seq, created_at, None, "agent@bench.test", event_type, *target,
                            json.dumps(payload), f"r{seq}", "10.0.0.1", "bench/1", prev, digest, chain.KEYED))
            prev = digest
    # The head row, as migration 0006 initialises it for existing chains, with the time-order
    # bound of 0010: the loaded events' times rise with their seq, so no lag.
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_chainhead (organization_id, seq, hash, max_created_at, max_lag) "
                       "VALUES (%s, %s, %s, %s, interval '0')", [org_id, count, prev, created_at])
    return prev, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events loaded into the big organization")
    parser.add_argument("--appends", type=int, default=1000, help="timed appends per organization")
    parser.add_argument("--block", type=int, default=50, help="appends per organization per turn")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    app_db = settings.DATABASES["default"]["NAME"]
    db_name = f"{app_db}{DB_SUFFIX}"[:63]
    if db_name == app_db or not db_name.endswith(DB_SUFFIX):  # setup_databases drops an existing one
        sys.exit(f"refusing: the bench database name {db_name!r} is not a bench-only name")
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = db_name
    print(f"Creating the database {db_name} (migrations take a moment)...", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        from apps.accounts.models import Organization
        from apps.audit.api import BoundedCountPagination
        from apps.audit.selectors import AuditFilters, audit_events, audit_page
        from apps.audit.services import audit_checkpoint_create, audit_record, audit_verify_organization

        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent SET (autovacuum_enabled = false)")
            cursor.execute("ALTER TABLE audit_chainhead SET (autovacuum_enabled = false)")
        owner = get_user_model().objects.create(username="bench@bench.test", email="bench@bench.test")
        big = Organization.objects.create(name="Big", slug="big", created_by=owner)
        empty = Organization.objects.create(name="Empty", slug="empty", created_by=owner)

        print(f"Loading {args.events:,} events into one organization (COPY)...", flush=True)
        _, load_seconds = load(big.pk, args.events)
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint, COALESCE(last_analyze, last_autoanalyze)::text "
                           "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
                           "WHERE c.relname = 'audit_auditevent'")
            reltuples, analyzed = cursor.fetchone()

        # The previous release's function (migration 0004: tail lookup in the events table,
        # unkeyed SHA-256), installed under another name for a side-by-side cost on an
        # organization of its own (it does not keep the head row).
        import importlib

        previous = importlib.import_module("apps.audit.migrations.0004_lock_key_for_large_ids").FORWARD
        with connection.cursor() as cursor:
            cursor.execute(previous.replace("FUNCTION mcpforge_audit_append(", "FUNCTION bench_previous_append("))
            cursor.execute("ALTER TABLE audit_auditevent ALTER COLUMN chain_version SET DEFAULT 1")  # its rows
        other = Organization.objects.create(name="Previous", slug="previous", created_by=owner)
        from apps.audit.services import _APPEND_TYPES

        casts = ", ".join(f"%s::{t}" for t in _APPEND_TYPES[:15])
        previous_sql = f"SELECT * FROM bench_previous_append({casts})"  # noqa: S608 (constants)

        def previous_append(org, i: int) -> None:
            from apps.audit.services import audit_prepare

            pending = audit_prepare(organization=org, event_type="tool.called", actor=owner, target_type="tool",
                                    target_id="t1", payload={"arguments": {"id": i}})
            with connection.cursor() as cursor:
                cursor.execute(previous_sql, pending.params[:15])

        def append(org, i: int) -> None:
            audit_record(organization=org, event_type="tool.called", actor=owner,
                         target_type="tool", target_id="t1", payload={"arguments": {"id": i}})

        scenarios = [("big", big, append), ("empty", empty, append), ("previous", other, previous_append)]
        print(f"Timing {args.appends} appends per organization...", flush=True)
        for _, org, write in scenarios:  # warm-up, untimed: connection, caches, the empty chain's head row
            for i in range(20):
                write(org, i)
        timings: dict[str, list[float]] = {name: [] for name, _, _ in scenarios}
        for turn in range(-(-args.appends // args.block)):
            for name, org, write in scenarios[::1 if turn % 2 else -1]:
                for i in range(args.block):
                    started = time.perf_counter()
                    write(org, i)
                    timings[name].append((time.perf_counter() - started) * 1000)

        # The lookup the append did before the head row, timed on its own for comparison.
        legacy = []
        with connection.cursor() as cursor:
            for _ in range(200):
                started = time.perf_counter()
                cursor.execute("SELECT seq, hash FROM audit_auditevent WHERE organization_id = %s "
                               "ORDER BY seq DESC LIMIT 1", [big.pk])
                cursor.fetchone()
                legacy.append((time.perf_counter() - started) * 1000)

        print("Timing the audit page with filters...", flush=True)
        day = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=args.events)).date()  # mid-log
        first_day = datetime(2026, 1, 1, tzinfo=UTC).date()
        # There is no free-text filter (a substring search reads the whole log: see selectors.py).
        cases = [
            ("no filter", AuditFilters()),
            ("actor (exact)", AuditFilters(actor="agent@bench.test")),
            ("actor, no match", AuditFilters(actor="nobody@bench.test")),
            ("action (event type, 1/8)", AuditFilters(event_type="approval.requested")),
            ("action prefix approval.", AuditFilters(event_type="approval.")),
            ("project (1/2)", AuditFilters(project="shop")),
            ("project, rare (1/2000)", AuditFilters(project="rare")),
            ("target (object id)", AuditFilters(target="t7")),
            ("date range, 2 mid-log days", AuditFilters(date_from=day, date_to=day + timedelta(days=2))),
            ("date range, first day", AuditFilters(date_from=first_day, date_to=first_day)),
            ("date range, open end (from mid-log)", AuditFilters(date_from=day)),
            ("date range + action", AuditFilters(event_type="tool.called", date_from=day,
                                                 date_to=day + timedelta(days=2))),
            ("date range + rare action", AuditFilters(event_type="member.added", date_from=day, date_to=day)),
            ("date range + actor", AuditFilters(actor="agent@bench.test", date_from=day, date_to=day)),
            ("date range + project", AuditFilters(project="shop", date_from=day, date_to=day)),
            ("date range, no event in it", AuditFilters(date_from=day.replace(year=2025),
                                                        date_to=day.replace(year=2025))),
        ]
        plans: dict[str, str] = {}

        def plan_of(qs) -> str:
            """The page-1 query's plan on this table, as the planner picks it now: scan nodes
            (with their index) and sorts, outermost first."""
            import json as _json

            sql, params = qs[:51].query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                tree = cursor.fetchone()[0]
                tree = _json.loads(tree) if isinstance(tree, str) else tree
            out = []

            def walk(node):
                kind = node["Node Type"]
                if "Scan" in kind or kind in ("Sort", "Incremental Sort", "Append", "Merge Append"):
                    name = node.get("Index Name", node.get("Relation Name", ""))
                    direction = " backward" if node.get("Scan Direction") == "Backward" else ""
                    out.append(f"{kind}{direction} {name}".strip())
                for child in node.get("Plans", []):
                    walk(child)

            walk(tree[0]["Plan"])
            return ", ".join(out)
        page_rows = []

        def timed(run) -> tuple[float, float, object]:
            runs, out = [], None
            for _ in range(5):
                started = time.perf_counter()
                out = run()
                runs.append((time.perf_counter() - started) * 1000)
            return statistics.median(runs), max(runs), out

        def time_pages(suffix: str) -> None:
            for label, filters in cases:
                qs = audit_events(big, filters, limit=BoundedCountPagination.COUNT_CAP + 1)  # as the REST list
                med1, max1, page = timed(lambda filters=filters: audit_page(big, filters, None))
                before = page.older_than
                for _ in range(18):  # to page 20, through the Older links
                    before = audit_page(big, filters, before).older_than if before else None
                med20, max20, _ = timed(lambda filters=filters, before=before: audit_page(big, filters, before))
                medc, _, counted = timed(lambda qs=qs: qs.order_by()[: BoundedCountPagination.COUNT_CAP + 1].count())
                page_rows.append((label + suffix, len(page.object_list), med1, max1, med20, max20, medc, counted))
                plans[label + suffix] = plan_of(audit_events(big, filters, limit=51))

        time_pages("")
        print("Verifying the big chain (full, then incremental after a checkpoint)...", flush=True)
        started = time.perf_counter()
        checked, brk = audit_verify_organization(big)
        full_seconds = time.perf_counter() - started
        assert brk is None, brk
        audit_checkpoint_create(organization=big)
        for i in range(100):
            audit_record(organization=big, event_type="tool.called", actor=owner, payload={"after": i})
        started = time.perf_counter()
        inc_checked, inc_brk = audit_verify_organization(big, incremental=True)
        inc_seconds = time.perf_counter() - started
        assert inc_brk is None, inc_brk
        with connection.cursor() as cursor:  # the page again, once the planner has statistics
            cursor.execute("ANALYZE audit_auditevent")
        time_pages(" (ANALYZEd)")
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)

    p50 = {k: statistics.median(v) for k, v in timings.items()}
    p99 = {k: pct(v, 0.99) for k, v in timings.items()}
    print(f"\nloaded {args.events:,} events in {load_seconds:.1f} s; planner statistics: reltuples={reltuples}, "
          f"last analyze={analyzed or 'never'} (autovacuum off)\n")
    print(f"{'append (one statement, autocommit)':<48}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}")
    print("-" * 72)
    for name, label in (("empty", "empty organization"), ("big", f"organization with {args.events:,} events"),
                        ("previous", "previous function (0004), empty organization")):
        print(f"{label:<48}{len(timings[name]):>6}{p50[name]:>9.3f}{p99[name]:>9.3f}")
    print(f"{'(old tail lookup alone, on the big organization)':<48}{len(legacy):>6}{statistics.median(legacy):>9.3f}"
          f"{pct(legacy, 0.99):>9.3f}")
    ratio = p50["big"] / p50["empty"]
    print(f"p50 big/empty = {ratio:.2f} (target 0.80-1.20: {'met' if 0.8 <= ratio <= 1.2 else 'NOT met'})\n")
    print(f"{'audit page (51 rows) / REST count':<40}{'rows':>5}{'p1 med':>8}{'p1 max':>8}{'p20 med':>9}"
          f"{'p20 max':>9}{'REST count':>12}{'counted':>9}   (ms)")
    print("-" * 103)
    for label, rows, med1, max1, med20, max20, medc, counted in page_rows:
        shown = f"{counted - 1:,}+" if counted > BoundedCountPagination.COUNT_CAP else f"{counted:,}"
        print(f"{label:<40}{rows:>5}{med1:>8.1f}{max1:>8.1f}{med20:>9.1f}{max20:>9.1f}{medc:>12.1f}{shown:>9}")
    print("\nplans of the page-1 queries (EXPLAIN; scans and sorts, outermost first):")
    for label, plan in plans.items():
        print(f"  {label:<46}{plan}")
    print(f"\naudit_verify, full: {checked:,} events in {full_seconds:.1f} s (target < 30 s: "
          f"{'met' if full_seconds < 30 else 'NOT met'})")
    print(f"audit_verify --incremental after a checkpoint: {inc_checked} events in {inc_seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
