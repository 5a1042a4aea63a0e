"""Snapshot of the full analysis of every spec in ../shared/specs, to prove a speed-up changed
no result: the stored Tool rows (every column but ids and timestamps), the version's findings,
score, warnings and token estimate, the governance pins and the audit events (payload without
the timings), for a first import and a re-import of each document.

    .venv/bin/python bench/analysis_snapshot.py OUT.json            # write a snapshot
    .venv/bin/python bench/analysis_snapshot.py OUT.json --compare BEFORE.json
    .venv/bin/python bench/analysis_snapshot.py OUT.json --profile box.json   # cProfile of one import

Runs on a throwaway database (bench/isolation.py), like bench/import_specs.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.isolation import throwaway_database  # noqa: E402 - sets the bench's Redis and queue first

os.environ.setdefault("MCPFORGE_DEV_SECRET", "true")
SPECS = Path(os.environ.get("MCPFORGE_SPECS_DIR", ROOT.parent / "shared" / "specs"))
SKIP = {"id", "pk", "created_at", "updated_at", "spec_version", "spec_version_id", "organization",
        "organization_id", "project", "project_id", "public_id", "environment", "environment_id",
        "tool", "tool_id", "pinned_at", "changed_at", "changed_by", "changed_by_id"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--compare", help="an earlier snapshot: exit 1 and list the differences")
    parser.add_argument("--profile", help="a spec file name: print a cProfile of its second import")
    args = parser.parse_args()

    import django

    django.setup()
    with throwaway_database("snapshot"):
        snap = _run(args)
    Path(args.out).write_text(json.dumps(snap, indent=1, sort_keys=True, default=str))
    if not args.compare:
        return 0
    before = json.loads(Path(args.compare).read_text())
    after = json.loads(Path(args.out).read_text())
    diffs = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    for key in diffs:
        print("DIFFERENT:", key)
    print(f"{len(set(before) | set(after)) - len(diffs)} identical, {len(diffs)} different "
          f"({sum(len(v) if isinstance(v, list) else 1 for v in after.values())} rows/values compared)")
    return 1 if diffs else 0


def _row(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields
            if f.name not in SKIP and f.attname not in SKIP}


def _run(args) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.accounts.services import organization_create
    from apps.audit.models import AuditEvent
    from apps.governance.models import ToolSetting
    from apps.inventory.models import Tool
    from apps.projects.services import project_create
    from apps.risk.analysis import spec_analyse
    from apps.specs.models import SpecVersion
    from apps.specs.services import spec_import

    owner = get_user_model().objects.create_user(username="snap@example.com", email="snap@example.com")
    org = organization_create(name="Snapshot", slug="snapshot", actor=owner)
    snap: dict = {}
    for path in sorted(p for p in SPECS.iterdir() if p.suffix in (".json", ".yaml", ".yml")):
        project = project_create(organization=org, name=path.stem, actor=owner)
        data = path.read_bytes()
        for run in (1, 2):
            version = spec_import(project=project, data=data, source=SpecVersion.Source.CLI, filename=path.name,
                                  actor=owner, run_async=False)
            first_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            profiler = None
            if args.profile == path.name and run == 2:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            with CaptureQueriesContext(connection) as queries:
                spec_analyse(version_id=version.pk)
            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            print(f"{path.name} run {run}: {len(queries)} queries")
            if profiler is not None:
                from collections import Counter

                shapes = Counter(q["sql"][:150] for q in queries.captured_queries)
                for sql, n in shapes.most_common(12):
                    print(f"  {n:>4} x {sql}")
            version.refresh_from_db()
            key = f"{path.name}#{run}"
            snap[f"{key}/version"] = {k: getattr(version, k) for k in (
                "status", "error", "title", "api_version", "openapi_version", "servers", "security_schemes",
                "warnings", "findings", "score", "tool_count", "token_estimate", "is_current")}
            snap[f"{key}/tools"] = [_row(t) for t in Tool.objects.filter(spec_version=version).order_by("position")]
            snap[f"{key}/settings"] = [_row(s) for s in ToolSetting.objects.filter(project=project).order_by(
                "environment__position", "operation_key")]
            events = []
            for e in AuditEvent.objects.filter(seq__gt=first_seq).order_by("seq"):
                payload = dict(e.payload or {})
                payload.pop("timings_ms", None)
                events.append({"event_type": e.event_type, "actor_label": e.actor_label,
                               "target_type": getattr(e, "target_type", None),
                               "target_label": e.target_label, "payload": payload})
            snap[f"{key}/audit"] = events
    return snap


if __name__ == "__main__":
    raise SystemExit(main())
