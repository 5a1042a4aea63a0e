"""Benchmark of the egress guard's per-call cost (apps/core/egress.py).

    python bench/egress.py [--number 20000]

No network: names go through a stub resolver. The gateway runs ``checked_address`` (the
async twin, same code) on every upstream call, so its cost matters; ``classify`` uncached is
the table walk a new address pays once.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from apps.core import egress  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=20000)
    n = parser.parse_args().number

    def stub(host, port):
        return ["93.184.215.14", "2606:4700::1111"]

    rows = []
    for label, fn in [
        ("checked_address IPv4 literal (cached)", lambda: egress.checked_address("93.184.215.14", 443,
                                                                                 allow_private=False)),
        ("checked_address IPv6 literal (cached)", lambda: egress.checked_address("[2606:4700::1111]", 443,
                                                                                 allow_private=False)),
        ("checked_address name, 2 answers", lambda: egress.checked_address("api.example.com", 443,
                                                                           allow_private=False, resolve=stub)),
        ("classify IPv4, uncached", lambda: egress._classify.__wrapped__(ipaddress.IPv4Address("93.184.215.14"))),
        ("classify IPv6 6to4, uncached", lambda: egress._classify.__wrapped__(ipaddress.IPv6Address("2002:808:808::"))),
    ]:
        seconds = min(timeit.repeat(fn, number=n, repeat=3)) / n
        rows.append((label, seconds * 1e6))
    width = max(len(label) for label, _ in rows)
    print(f"{'operation'.ljust(width)}  µs/call")
    for label, micro in rows:
        print(f"{label.ljust(width)}  {micro:7.2f}")


if __name__ == "__main__":
    main()
