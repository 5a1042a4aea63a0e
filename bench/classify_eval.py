"""Classifier accuracy against hand-labelled operations (and exported reviewer overrides).

    python bench/classify_eval.py [--labels FILE] [--specs DIR ...] [--overrides FILE ...] [--errors]

No Django, no database: the same parse -> build_tools -> classify_tools path as the import.
Prints, for the tuning split, the held-out split (a fixed third chosen by a hash of the
operation, never used to tune rules) and each overrides file separately:

* category accuracy overall, per spec and per labelled category, and the HTTP-method baseline
  (GET reads, DELETE is critical, anything else is a side effect);
* the confusion matrix (rows: label, columns: classifier);
* PII precision / recall (a "PII flag" is any personal-data hit; secrets such as passwords
  and tokens are reported by the classifier but are not personal data, see the guide);
* how many billing / critical / administrative operations were rated ``low`` (must be 0).

``--errors`` lists every disagreement. Labels: ``tests/data/classify_eval/labels.yaml``;
rules for labelling: ``docs/labelling-guide.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from apps.inventory.toolgen import build_tools  # noqa: E402
from apps.risk import rules  # noqa: E402
from apps.risk.classify import classify_tools  # noqa: E402
from apps.risk.evalset import Label, LabelError, Prediction, Scores, load_labels, split_of  # noqa: E402
from apps.risk.pii import is_personal  # noqa: E402
from apps.specs.parse import load_document  # noqa: E402

DATA = REPO / "tests" / "data" / "classify_eval"
DEFAULT_SPECS = [DATA / "specs", REPO.parent / "shared" / "specs"]
SHORT = {"read_only": "read", "side_effect": "side", "critical": "crit", "administrative": "admin", "billing": "bill"}


def predict(spec_path: Path) -> dict[str, Prediction]:
    parsed = load_document(spec_path.read_bytes(), filename=spec_path.name)
    tools = build_tools(parsed)
    verdicts = classify_tools(tools, document=parsed.document)
    out: dict[str, Prediction] = {}
    for tool in tools:
        c = verdicts[tool.name]
        out[tool.operation_key] = Prediction(c.category, c.risk_level, any(is_personal(h["kind"]) for h in c.pii))
    return out


def find_spec(name: str, dirs: list[Path]) -> Path | None:
    return next((d / name for d in dirs if (d / name).is_file()), None)


def report(title: str, scores: Scores, show_errors: bool) -> None:
    print(f"\n=== {title}: {scores.total} operations ===")
    if not scores.total:
        return
    print(
        f"category accuracy   {scores.accuracy:.3f}  ({scores.correct}/{scores.total})"
        f"   method-rule baseline {scores.baseline_accuracy:.3f}"
    )
    print(
        f"PII precision       {scores.pii_precision:.3f}  recall {scores.pii_recall:.3f}"
        f"  (tp {scores.pii_tp}, fp {scores.pii_fp}, fn {scores.pii_fn}; {scores.pii_labelled} with a PII label)"
    )
    listed = f"  {scores.high_risk_low}" if scores.high_risk_low else ""
    print(f"high-risk rated low {len(scores.high_risk_low)}{listed}")
    print("\nper spec                          n   accuracy")
    for spec in sorted(scores.by_spec):
        n = scores.by_spec[spec]
        print(f"  {spec:<30} {n:>4}   {scores.by_spec_correct[spec] / n:.3f}")
    print("\nper category (recall)             n   accuracy")
    for cat in rules.CATEGORIES:
        n = scores.by_category[cat]
        if n:
            print(f"  {cat:<30} {n:>4}   {scores.by_category_correct[cat] / n:.3f}")
    print("\nconfusion (rows: label, columns: classifier)")
    print("  " + " " * 15 + "".join(f"{SHORT[c]:>7}" for c in rules.CATEGORIES))
    for true in rules.CATEGORIES:
        if scores.by_category[true]:
            cells = "".join(f"{scores.confusion[(true, pred)]:>7}" for pred in rules.CATEGORIES)
            print(f"  {true:<15}{cells}")
    if show_errors and scores.errors:
        print("\nerrors")
        for line in scores.errors:
            print("  " + line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=DATA / "labels.yaml", help="hand labels (YAML/JSON/CSV)")
    parser.add_argument("--specs", type=Path, action="append", help="folders holding the specs (repeatable)")
    parser.add_argument(
        "--overrides",
        type=Path,
        action="append",
        default=[],
        help="overrides exported from MCPForge (JSON or CSV), scored as extra labels",
    )
    parser.add_argument("--split", choices=("tuning", "heldout", "both"), default="both")
    parser.add_argument("--errors", action="store_true", help="list every disagreement")
    args = parser.parse_args()
    dirs = args.specs or DEFAULT_SPECS

    groups: dict[str, list[Label]] = defaultdict(list)
    try:
        for label in load_labels(args.labels.read_text(encoding="utf-8")):
            groups[split_of(label.spec, label.operation)].append(label)
        for path in args.overrides:
            groups[f"overrides {path.name}"] += load_labels(path.read_text(encoding="utf-8"))
    except (OSError, LabelError) as exc:
        print(f"cannot read labels: {exc}", file=sys.stderr)
        return 2

    predictions: dict[str, dict[str, Prediction]] = {}
    missing: list[str] = []
    for labels in groups.values():
        for label in labels:
            if label.spec in predictions or label.spec in missing:
                continue
            path = find_spec(label.spec, dirs)
            if path is None:
                missing.append(label.spec)
                continue
            predictions[label.spec] = predict(path)

    order = [g for g in ("tuning", "heldout") if args.split in (g, "both")]
    order += sorted(g for g in groups if g.startswith("overrides"))
    for group in order:
        scores = Scores()
        unmatched = []
        for label in groups.get(group, []):
            pred = predictions.get(label.spec, {}).get(label.operation)
            if pred is None:
                unmatched.append(f"{label.spec} {label.operation}")
                continue
            scores.add(label, pred)
        report(group, scores, args.errors)
        if unmatched:
            print(f"  not scored (spec or operation not found): {len(unmatched)}: {unmatched[:5]}")
    if missing:
        print(f"\nspecs not found in {', '.join(map(str, dirs))}: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
