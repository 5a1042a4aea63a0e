"""Benchmark of the pure analysis on every real spec: parse, build tools, classify, score.

    python bench/classify.py [--repeat 5] [--specs DIR]

No Django, no database: exactly the functions the import worker and ``manage.py scan``
run. Prints one row per spec with the median of ``--repeat`` runs per stage, and the
total of the first (cold) run:

* parse    - apps.specs.parse.load_document (YAML/JSON, validation, 2.0 -> 3.x)
* build    - apps.inventory.toolgen.build_tools (MCP tools from operations)
* classify - apps.risk.classify.classify_tools (category, risk, PII, annotations)
* score    - quality + security findings and apps.risk.score.compute_score
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from apps.inventory.quality import quality_findings  # noqa: E402
from apps.inventory.toolgen import build_tools  # noqa: E402
from apps.risk.classify import classify_tools  # noqa: E402
from apps.risk.score import compute_score, security_findings  # noqa: E402
from apps.specs.parse import load_document  # noqa: E402

DEFAULT_SPECS = REPO.parent / "shared" / "specs"


def run_once(data: bytes, filename: str) -> tuple[dict[str, float], int, int]:
    times: dict[str, float] = {}
    start = time.perf_counter()
    parsed = load_document(data, filename=filename)
    times["parse"] = time.perf_counter() - start

    start = time.perf_counter()
    tools = build_tools(parsed)
    times["build"] = time.perf_counter() - start

    start = time.perf_counter()
    classifications = classify_tools(tools, document=parsed.document)
    times["classify"] = time.perf_counter() - start

    start = time.perf_counter()
    findings = security_findings(tools, classifications, parsed, None) + quality_findings(tools)
    score = compute_score(findings, classifications)
    times["score"] = time.perf_counter() - start
    return times, len(tools), score.score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per spec; the median is shown (5)")
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS, help=f"folder of specs ({DEFAULT_SPECS})")
    args = parser.parse_args()
    specs = sorted(p for p in args.specs.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
    if not specs:
        print(f"no specs in {args.specs}", file=sys.stderr)
        return 2
    stages = ("parse", "build", "classify", "score")
    columns = " ".join(f"{s + ' ms':>11}" for s in stages)
    header = f"{'spec':<28} {'tools':>5} {columns} {'total ms':>9} {'1st run':>8} score"
    print(header)
    print("-" * len(header))
    for path in specs:
        data = path.read_bytes()
        runs = [run_once(data, path.name) for _ in range(max(1, args.repeat))]
        medians = {s: statistics.median(r[0][s] for r in runs) * 1000 for s in stages}
        tools, score = runs[0][1], runs[0][2]
        cells = " ".join(f"{medians[s]:>11.1f}" for s in stages)
        first = sum(runs[0][0].values()) * 1000
        print(f"{path.name:<28} {tools:>5} {cells} {sum(medians.values()):>9.1f} {first:>8.1f} {score:>5}")
    print(f"\nmedian of {args.repeat} runs per spec ('1st run': the cold first run, caches empty); "
          f"Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
