"""Run every benchmark in bench/ in turn (each prints its own table). `make bench`."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/audit_append.py (a million-row load, minutes) runs on its own
BENCHES = ["import_specs.py", "classify.py", "classify_eval.py", "conditions.py", "egress.py", "tool_tokens.py",
           "report.py", "gateway.py", "redos.py", "libraries.py"]


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"\n== bench/{name}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
