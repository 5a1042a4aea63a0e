"""Spec import benchmark: every document in ../shared/specs imported end to end.

For each spec: parse -> build tools -> quality -> classify -> score -> persist (Tool rows,
version made current, audit event), through ``apps.risk.analysis.spec_analyse``, the very
function the Celery task runs. Prints operations, seconds per stage and peak Python memory
(tracemalloc) of the analysis. The timed runs run without tracemalloc (it slows Python several
times over); the peak memory comes from one more, separate, untimed run of the same analysis.

    .venv/bin/python bench/import_specs.py [--runs 3]

Runs on a throwaway database (``mcpforge_bench_import_<pid>``, on the server of DATABASE_URL,
migrated and dropped at the end), its own Redis database and Celery queue (bench/isolation.py):
nothing is shared with a running instance. Target: Box (296 operations) under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.isolation import throwaway_database  # noqa: E402 - sets the bench's Redis and queue first

os.environ.setdefault("MCPFORGE_DEV_SECRET", "true")
SPECS = Path(os.environ.get("MCPFORGE_SPECS_DIR", ROOT.parent / "shared" / "specs"))
TARGET_BOX_S = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="imports per spec (median reported)")
    args = parser.parse_args()

    import django

    django.setup()
    with throwaway_database("import"):
        return _run(args)


def _run(args) -> int:
    from django.contrib.auth import get_user_model

    from apps.accounts.models import Organization
    from apps.accounts.services import organization_create
    from apps.projects.models import Project
    from apps.projects.services import project_create
    from apps.risk.analysis import spec_analyse
    from apps.specs.models import SpecVersion
    from apps.specs.services import spec_import

    users = get_user_model().objects
    owner = users.filter(email="bench@example.com").first() or users.create_user(
        username="bench@example.com", email="bench@example.com")
    org = Organization.objects.filter(slug="bench-import").first() or organization_create(
        name="Bench import", slug="bench-import", actor=owner)

    print(f"{'spec':32} {'ops':>5} {'total s':>8} {'parse':>7} {'build':>7} {'classify':>9} "
          f"{'persist':>8} {'peak MiB':>9}")
    failures = 0
    for path in sorted(p for p in SPECS.iterdir() if p.suffix in (".json", ".yaml", ".yml")):
        project = Project.objects.filter(organization=org, slug=path.stem.lower().replace(".", "-")[:60]).first()
        project = project or project_create(organization=org, name=path.stem, actor=owner)
        data = path.read_bytes()
        totals, stages = [], []
        version = None
        for _ in range(args.runs):
            version = spec_import(project=project, data=data, source=SpecVersion.Source.CLI, filename=path.name,
                                  actor=owner, run_async=False)
            started = time.perf_counter()
            spec_analyse(version_id=version.pk)
            totals.append(time.perf_counter() - started)
            version.refresh_from_db()
            if version.status != "ready":
                print(f"{path.name}: FAILED {version.error}")
                failures += 1
                break
            stages.append(_stage_ms(version))
        if version is None or version.status != "ready":
            continue
        # Peak memory: one more import of the same document, analysed under tracemalloc and not timed.
        extra = spec_import(project=project, data=data, source=SpecVersion.Source.CLI, filename=path.name,
                            actor=owner, run_async=False)
        tracemalloc.start()
        spec_analyse(version_id=extra.pk)
        peak_mib = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        total = statistics.median(totals)
        stage = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
        persist_ms = max(0.0, total * 1000 - sum(stage.values()))
        print(f"{path.name:32} {version.tool_count:>5} {total:>8.3f} {stage['parse']:>7.0f} {stage['build']:>7.0f} "
              f"{stage['classify']:>9.0f} {persist_ms:>8.0f} {peak_mib:>9.1f}")
        if path.name == "box.json" and total > TARGET_BOX_S:
            print(f"  box.json: {total:.3f} s is above the {TARGET_BOX_S} s target")
    print(f"(stage columns in ms; medians of {args.runs} runs timed without tracemalloc; peak = tracemalloc "
          f"peak of one separate, untimed run of the same analysis; load average {os.getloadavg()[0]:.2f})")
    return 1 if failures else 0


def _stage_ms(version) -> dict[str, float]:
    from apps.audit.models import AuditEvent

    event = (AuditEvent.objects.filter(event_type="spec.analysed", target_id=str(version.public_id))
             .order_by("-seq").first())
    timings = (event.payload or {}).get("timings_ms", {}) if event else {}
    return {k: float(timings.get(k, 0)) for k in ("parse", "build", "classify")}


if __name__ == "__main__":
    raise SystemExit(main())
