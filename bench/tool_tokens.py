#!/usr/bin/env python
"""The tools/list token bill of every spec in ../shared/specs, counted with the real tokenizer.

    .venv/bin/python bench/tool_tokens.py

Columns: operations; tokens of the full listing (what main served); of the compact listing
(``apps.inventory.compact``: shared $defs, annotations dropped, descriptions cut, no
outputSchema, deep nesting summarised past 4,000 tokens per tool) and its heaviest tool;
of the search-first listing (``…/search/`` endpoint: the meta-tools only, whatever the API
size). No database needed.
Targets (issue 20): Adyen compact <= 30,000 with no tool over 4,000; Box <= 150,000;
Twilio <= 50,000; search-first <= 3,000 everywhere.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPECS = Path(os.environ.get("MCPFORGE_SPECS_DIR", ROOT.parent / "shared" / "specs"))
TARGETS = {"adyen-checkout-v71.json": 30_000, "box.json": 150_000, "twilio-api-v2010.json": 50_000}
TOOL_TARGET = 4_000
SEARCH_TARGET = 3_000


def main() -> int:
    import django

    from apps.inventory.compact import TOOL_TOKEN_BUDGET, compact_definition
    from apps.inventory.tokens import definition_tokens, listing_tokens
    from apps.inventory.toolgen import build_tools, tool_definition
    from apps.specs.parse import load_document

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")
    django.setup()  # for the status tool's definition; no database is touched
    from apps.gateway.search_first import meta_tool_definitions
    from apps.gateway.selectors import BUILTIN_STATUS_DEFINITION

    search = listing_tokens(meta_tool_definitions(BUILTIN_STATUS_DEFINITION))

    print(f"{'spec':28} {'ops':>4} {'full':>10} {'compact':>9} {'max tool':>9} {'search-first':>13} "
          f"{'compact ms':>11}  verdict")
    failures = 0
    for path in sorted(p for p in SPECS.iterdir() if p.suffix in (".json", ".yaml", ".yml")):
        tools = build_tools(load_document(path.read_bytes(), filename=path.name))
        full = [tool_definition(t) for t in tools]
        started = time.perf_counter()
        compact = [compact_definition(d, budget=TOOL_TOKEN_BUDGET, count=definition_tokens) for d in full]
        elapsed = (time.perf_counter() - started) * 1000
        full_tokens, compact_tokens = listing_tokens(full), listing_tokens(compact)
        heaviest = max((definition_tokens(d) for d in compact), default=0)
        problems = []
        if path.name in TARGETS and compact_tokens > TARGETS[path.name]:
            problems.append(f"compact > {TARGETS[path.name]:,}")
        if heaviest > TOOL_TARGET:
            problems.append(f"a tool > {TOOL_TARGET:,}")
        if search > SEARCH_TARGET:
            problems.append(f"search-first > {SEARCH_TARGET:,}")
        failures += bool(problems)
        shown = f"{search:,}"
        print(f"{path.name:28} {len(tools):>4} {full_tokens:>10,} {compact_tokens:>9,} {heaviest:>9,} {shown:>13} "
              f"{elapsed:>11.0f}  {'; '.join(problems) or 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
