"""Benchmark of approval-condition evaluation: what every governed tool call pays.

    python bench/conditions.py [--repeat 200]

No Django, no database: ``conditions.select_policy_tier`` on a three-tier policy
(``amount > 100000``, ``amount > 1000`` and ``note matches "(?i)wire|offshore"``) as the
gateway calls it (raw tier dicts, validated per call), for typical and adversarial
arguments. Prints the median time per call, the first (cold: compiles the pattern) call,
and the tier chosen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from apps.governance import condition_regex, conditions  # noqa: E402

TIERS = [
    {"when": [{"field": "amount", "operator": ">", "value": 100000}], "approvals": 3, "order": "sequential"},
    {"when": [{"field": "amount", "operator": ">", "value": 1000}], "approvals": 2},
    {"when": [{"field": "note", "operator": "matches", "value": "(?i)wire|offshore"}], "approvals": 2},
    {"approvals": 1},
]
REDOS = [{"when": [{"field": "note", "operator": "matches", "value": "^(a+)+$"}], "approvals": 2}, {"approvals": 1}]

CASES = [
    ("int amount", TIERS, {"amount": 5000, "note": "refund"}),
    ("small int, short note", TIERS, {"amount": 5, "note": "refund for order 1234"}),
    ("numeric string", TIERS, {"amount": "5000.00", "note": "x"}),
    ("Arabic-Indic digits", TIERS, {"amount": "٥٠٠٠", "note": "x"}),
    ("undecidable '5000abc'", TIERS, {"amount": "5000abc", "note": "x"}),
    ("note 4 KB (no match)", TIERS, {"amount": 5, "note": "x" * 4096}),
    ("note 1 MB + 'wire'", TIERS, {"amount": 5, "note": "x" * 1_000_000 + "wire"}),
    ("amount 1 MB of digits", TIERS, {"amount": "1" * 1_000_000, "note": "x"}),
    ("ReDoS ^(a+)+$ on 100k", REDOS, {"note": "a" * 100_000 + "!"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"{'case':<26} {'median':>10} {'first':>10}  tier")
    condition_regex.cached_regex.cache_clear()
    for name, tiers, arguments in CASES:
        times = []
        repeat = args.repeat if len(str(arguments)) < 10_000 else max(5, args.repeat // 20)
        for _ in range(repeat):
            start = time.perf_counter()
            tier = conditions.select_policy_tier(tiers, arguments)
            times.append(time.perf_counter() - start)
        chosen = f"{tier.index} ({tier.approvals} approvals{', undecidable' if tier.undecided else ''})"
        print(f"{name:<26} {statistics.median(times) * 1e6:>8.0f}µs {times[0] * 1e6:>8.0f}µs  {chosen}")


if __name__ == "__main__":
    main()
