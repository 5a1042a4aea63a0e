"""Labelled operations for measuring the classifier: the file format and the scoring.

Pure module (no Django): ``bench/classify_eval.py`` scores the classifier against the
hand-labelled set in ``tests/data/classify_eval/labels.yaml``, and the override export
(``apps.risk.services.overrides_export``) writes reviewers' overrides in the same format,
so a reviewer's correction becomes one more labelled example.

One label::

    {"spec": "box.json", "operation": "DELETE /files/{file_id}", "category": "critical",
     "pii": false, "pii_kinds": [], "notes": "...", "source": "hand"}

``pii`` may be ``None`` (unknown: an override says nothing about personal data); such a
label counts for category accuracy only.  The labelling rules are in
``docs/labelling-guide.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import rules

HIGH_RISK = frozenset({rules.BILLING, rules.CRITICAL, rules.ADMINISTRATIVE})
CSV_FIELDS = ("spec", "operation", "category", "pii", "pii_kinds", "notes", "source")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class LabelError(ValueError):
    """A label file that cannot be read: the message names the row and the problem."""


@dataclass(frozen=True)
class Label:
    """One operation and what a reviewer says it is."""

    spec: str
    operation: str  # "METHOD /path", as ToolDef.operation_key
    category: str
    pii: bool | None = None
    pii_kinds: tuple[str, ...] = ()
    notes: str = ""
    source: str = "hand"

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "operation": self.operation,
            "category": self.category,
            "pii": self.pii,
            "pii_kinds": list(self.pii_kinds),
            "notes": self.notes,
            "source": self.source,
        }


def split_of(spec: str, operation: str) -> str:
    """``"heldout"`` for a fixed third of the operations, else ``"tuning"``.

    Decided by a hash of the key, never by hand, so nobody picks which examples to hide."""
    digest = hashlib.sha256(f"{spec}|{operation}".encode()).hexdigest()
    return "heldout" if int(digest, 16) % 3 == 0 else "tuning"


def _parse_bool(value: Any, where: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise LabelError(f"{where}: pii must be true, false or empty, not {value!r}")


def label_from_mapping(row: Mapping[str, Any], where: str) -> Label:
    """Validate one row (fail closed: unknown categories and malformed keys are refused)."""
    spec = str(row.get("spec") or "").strip()
    operation = " ".join(str(row.get("operation") or "").split())
    category = str(row.get("category") or "").strip()
    if not spec:
        raise LabelError(f"{where}: 'spec' is missing")
    method, _, path = operation.partition(" ")
    if not method.isalpha() or not path.startswith("/"):
        raise LabelError(f"{where}: 'operation' must look like 'GET /path', not {operation!r}")
    if category not in rules.CATEGORIES:
        raise LabelError(f"{where}: unknown category {category!r} (one of {', '.join(rules.CATEGORIES)})")
    kinds = row.get("pii_kinds") or ()
    if isinstance(kinds, str):
        kinds = [k for k in kinds.replace(";", ",").split(",") if k.strip()]
    return Label(
        spec=spec,
        operation=f"{method.upper()} {path}",
        category=category,
        pii=_parse_bool(row.get("pii"), where),
        pii_kinds=tuple(str(k).strip() for k in kinds),
        notes=str(row.get("notes") or ""),
        source=str(row.get("source") or "hand"),
    )


def load_labels(text: str, *, fmt: str = "auto") -> list[Label]:
    """Labels from YAML/JSON (``{"labels": [...]}`` or a bare list) or CSV (``CSV_FIELDS``)."""
    stripped = text.lstrip()
    if fmt == "auto":
        fmt = "json" if stripped.startswith(("{", "[")) else ("csv" if stripped.startswith("spec,") else "yaml")
    if fmt == "csv":
        rows: list[Any] = list(csv.DictReader(io.StringIO(text)))
    else:
        if fmt == "json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise LabelError(f"not valid JSON: {exc}") from exc
        else:
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise LabelError(f"not valid YAML: {exc}") from exc
        rows = data.get("labels") if isinstance(data, Mapping) else data
        if not isinstance(rows, list):
            raise LabelError("expected a list of labels (or {'labels': [...]})")
    out = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise LabelError(f"label {i}: expected a mapping")
        out.append(label_from_mapping(row, f"label {i}"))
    return out


def dump_json(labels: Iterable[Label]) -> str:
    return json.dumps({"version": 1, "labels": [lab.to_dict() for lab in labels]}, indent=1) + "\n"


def dump_csv(labels: Iterable[Label]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for lab in labels:
        row = lab.to_dict()
        row["pii"] = "" if lab.pii is None else str(lab.pii).lower()
        row["pii_kinds"] = ",".join(lab.pii_kinds)
        writer.writerow(row)
    return buf.getvalue()


def method_baseline(method: str) -> str:
    """The naive rule the classifier must beat: GET reads, DELETE is critical, the rest writes."""
    method = method.upper()
    if method in _READ_METHODS:
        return rules.READ_ONLY
    return rules.CRITICAL if method == "DELETE" else rules.SIDE_EFFECT


@dataclass(frozen=True)
class Prediction:
    """What the classifier said about one labelled operation."""

    category: str
    risk_level: str
    pii: bool


@dataclass
class Scores:
    """Accuracy, confusion matrix, PII precision/recall and the high-risk-rated-low count."""

    total: int = 0
    correct: int = 0
    baseline_correct: int = 0
    by_spec: Counter[str] = field(default_factory=Counter)
    by_spec_correct: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_category_correct: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    pii_tp: int = 0
    pii_fp: int = 0
    pii_fn: int = 0
    pii_labelled: int = 0
    high_risk_low: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, label: Label, pred: Prediction) -> None:
        self.total += 1
        ok = pred.category == label.category
        self.correct += ok
        self.baseline_correct += method_baseline(label.operation.split(" ", 1)[0]) == label.category
        self.by_spec[label.spec] += 1
        self.by_spec_correct[label.spec] += ok
        self.by_category[label.category] += 1
        self.by_category_correct[label.category] += ok
        self.confusion[(label.category, pred.category)] += 1
        if not ok:
            self.errors.append(f"{label.spec} {label.operation}: labelled {label.category}, got {pred.category}")
        if label.category in HIGH_RISK and pred.risk_level == "low":
            self.high_risk_low.append(f"{label.spec} {label.operation}")
        if label.pii is not None:
            self.pii_labelled += 1
            if pred.pii and label.pii:
                self.pii_tp += 1
            elif pred.pii:
                self.pii_fp += 1
                self.errors.append(f"{label.spec} {label.operation}: PII flagged, labelled none")
            elif label.pii:
                self.pii_fn += 1
                self.errors.append(f"{label.spec} {label.operation}: PII missed ({', '.join(label.pii_kinds)})")

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def baseline_accuracy(self) -> float:
        return self.baseline_correct / self.total if self.total else 0.0

    @property
    def pii_precision(self) -> float:
        flagged = self.pii_tp + self.pii_fp
        return self.pii_tp / flagged if flagged else 1.0

    @property
    def pii_recall(self) -> float:
        actual = self.pii_tp + self.pii_fn
        return self.pii_tp / actual if actual else 1.0
