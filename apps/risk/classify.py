"""Classify one MCP tool: read-only or not, destructive or not, billing/administrative, PII, risk.

The classifier errs on the side of caution, in this order of priority:

1. **Does it change state?**  The HTTP method is only the default.  A POST is read-only
   only with a positive read signal (``/search``, operationId ``getX``, summary "Get a
   list of ...", ``x-mcp-readonly``) *and* no write signal anywhere (a write/destructive
   verb, a money-moving resource, a credential being minted, a 201/202 response).  A GET
   changes state when its action says so (``/logout``, ``auth.revoke``, ``?action=delete``,
   summary "Revokes ...").  PUT/PATCH/DELETE and unknown methods always change state.
2. **Is it destructive (critical)?**  DELETE, a destructive verb (delete, revoke, cancel,
   capture, refund, terminate ...) in the operationId, summary or action segment, or a
   POST creating an action noun (``/refunds``, ``/captures``, ``/cancels``, ``/payments``).
3. **What does it touch?**  Billing / administrative keywords, weighted by where they were
   found (path and operationId count fully, summary and tags partly, parent segments only
   for strong words), plus money fields in request bodies and admin-only extensions.

A read that touches billing or administrative data stays ``read_only`` with the domain as
a tag; a write takes the most specific domain as its category (billing > administrative >
critical > side_effect).  No tool with billing/administrative/critical in its category or
tags is ever ``low``; a read returning personal data is at least ``medium``.

``classify_tools`` adds one cross-tool rule: a write below the path of a billing write is
billing too (see its docstring).  Use it, rather than ``classify_tool`` in a loop, whenever
the whole spec is at hand, so that a tool is classified the same way everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.specs.domain import ToolDef

from . import rules
from .pii import PiiHit, PiiScanner, personal_data, summarize_kinds
from .schemawalk import iter_fields

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_METHOD_WORDS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace"})
_ALL_VERBS = rules.READ_VERBS | rules.WRITE_VERBS | frozenset(rules.DESTRUCTIVE_VERBS)
_WRITE_OR_DESTROY = rules.WRITE_VERBS | frozenset(rules.DESTRUCTIVE_VERBS)
_CONNECTORS = frozenset({"or", "and"})
_EXTENSION_RE = re.compile(r"\.(json|xml|ya?ml|csv|txt|html?)$", re.IGNORECASE)
_VERSION_RE = re.compile(r"^(v\d+([._]\d+)*|\d+([._-]\d+)*)$", re.IGNORECASE)
_PARAM_RE = re.compile(r"\{[^}]*\}")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s|\n")


@dataclass
class Classification:
    """The classifier's verdict on one tool, with the reasons a security reviewer can check."""

    category: str  # read_only | side_effect | critical | administrative | billing
    tags: set[str]  # secondary categories: a refund is billing + {"critical"}
    risk_level: str  # low | medium | high | critical
    risk_score: int  # 0-100
    side_effect: bool
    pii: list[dict[str, str]]  # [{"path": "response.email", "kind": "email", "where": "response"}]
    reasons: list[str]
    annotations: dict[str, Any]  # MCP ToolAnnotations: title, readOnlyHint, destructiveHint, ...
    destructive: bool = False
    money_movement: bool = False
    open_world: bool = False

    @property
    def categories(self) -> set[str]:
        """Primary category plus tags: what approval rules and findings key on."""
        return {self.category} | set(self.tags)

    def has(self, category: str) -> bool:
        return category == self.category or category in self.tags

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "tags": sorted(self.tags),
            "risk_level": self.risk_level,
            "risk_score": self.risk_score,
            "side_effect": self.side_effect,
            "destructive": self.destructive,
            "money_movement": self.money_movement,
            "open_world": self.open_world,
            "pii": [dict(p) for p in self.pii],
            "reasons": list(self.reasons),
            "annotations": dict(self.annotations),
        }


# ---------------------------------------------------------------------------
# Feature extraction
# ---------------------------------------------------------------------------


@dataclass
class _Path:
    resource_raw: str = ""  # last literal segment, or the #fragment (Box: "#add_shared_link")
    resource: tuple[str, ...] = ()  # its words, lemmatised
    resource_exact: tuple[str, ...] = ()  # its words, not lemmatised (GET verb checks)
    action: tuple[str, ...] = ()  # words of a dotted/colon action ("auth.revoke", "levels:trim")
    scopes: list[tuple[str, ...]] = field(default_factory=list)
    ends_with_param: bool = False
    all_words: set[str] = field(default_factory=set)


def _parse_path(path: str) -> _Path:
    path, _, fragment = path.partition("#")
    path = path.split("?", 1)[0]
    out = _Path()
    literal: list[str] = []
    raw_segments = [s for s in path.split("/") if s]
    for seg in raw_segments:
        out.all_words.update(rules.lemma(w) for w in rules.split_words(seg))
        stripped = _EXTENSION_RE.sub("", _PARAM_RE.sub("", seg)).strip(".-_:~ ")
        if not stripped or _VERSION_RE.match(stripped):
            continue
        literal.append(stripped)
    out.ends_with_param = bool(raw_segments) and "{" in raw_segments[-1] and not fragment
    if fragment:
        out.resource_raw = fragment
        scopes = literal
    elif literal:
        out.resource_raw = literal[-1]
        scopes = literal[:-1]
    else:
        scopes = []
    out.all_words.update(rules.lemma(w) for w in rules.split_words(fragment))
    words = rules.split_words(out.resource_raw)
    out.resource_exact = words
    out.resource = tuple(rules.lemma(w) for w in words)
    for sep in (":", "."):
        if sep in out.resource_raw:
            tail = out.resource_raw.rsplit(sep, 1)[1]
            out.action = tuple(rules.lemma(w) for w in rules.split_words(tail))
            break
    out.scopes = [tuple(rules.lemma(w) for w in rules.split_words(s)) for s in scopes]
    return out


def _lemmas(text: str) -> tuple[str, ...]:
    return tuple(rules.lemma(w) for w in rules.split_words(text))


def _without_qualifier(words: tuple[str, ...]) -> tuple[str, ...]:
    """Drop a trailing "for ..." qualifier of an operationId or summary: GitHub's
    ``codespaces/delete-for-authenticated-user`` ("Delete a codespace for the authenticated
    user") deletes a codespace, not a user."""
    if "for" in words[1:]:
        return words[: words.index("for", 1)]
    return words


def _is_echo(op_words: tuple[str, ...], path: _Path) -> bool:
    """operationIds like ``delete_files_id`` / ``post-payments-{ref}-refunds`` only echo method + path."""
    if not op_words or op_words[0] not in _METHOD_WORDS:
        return False
    rest = set(op_words[1:]) - {"id", "ids"}
    return rest <= path.all_words


def _verbs(words: tuple[str, ...], *, skip_leading: bool, connectors: frozenset[str]) -> list[str]:
    """First verb (after skippable adverbs) plus verbs that follow a connector ("Add or update")."""
    found: list[str] = []
    start = 0
    if skip_leading:
        while start < len(words) and words[start] in rules.SUMMARY_SKIP_WORDS:
            start += 1
    if start < len(words):
        first = words[start]
        if start + 1 < len(words):
            first = rules.PHRASAL_VERBS.get((first, words[start + 1]), first)
        if first == "log" and "into" in words[start + 1 : start + 4]:
            first = "login"
        if first in _ALL_VERBS or first in rules.PHRASAL_VERBS.values():
            found.append(first)
    for i, word in enumerate(words[:-1]):
        if word in connectors and i >= start:
            nxt = words[i + 1]
            if i + 2 < len(words):
                nxt = rules.PHRASAL_VERBS.get((nxt, words[i + 2]), nxt)
            if nxt in _ALL_VERBS and nxt not in found:
                found.append(nxt)
    return found


def _path_verbs(path: _Path) -> list[str]:
    """Verbs in the action position of the path: ``auth.revoke``, ``levels:trim``, ``/logout``,
    ``terminate_sessions``, ``bulk_delete``.  Matched on the exact base word, so plural nouns
    (``/reports``, ``/runs``, ``/captures``) are resources, not actions."""
    if path.action:
        return [path.action[0]] if path.action[0] in _ALL_VERBS else []
    words = path.resource_exact
    found = [words[0]] if words and words[0] in _ALL_VERBS else []
    found += [w for w in words[1:] if w in rules.DESTRUCTIVE_VERBS and w not in found]
    return found


def _first_sentence(text: str, limit: int = 240) -> str:
    text = text.strip()
    if not text:
        return ""
    return _SENTENCE_RE.split(text, maxsplit=1)[0][:limit]


def _truthy(value: Any) -> bool | None:
    """Extension values are loosely typed: true, "true", "yes", 1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "1", "y", "on"):
            return True
        if low in ("false", "no", "0", "n", "off"):
            return False
    return None


class _Evidence:
    """Accumulates weighted keyword evidence per domain category, with the best reason for each."""

    def __init__(self) -> None:
        self.score: dict[str, float] = {}
        self.reasons: dict[str, list[tuple[float, str]]] = {}

    def add(self, category: str, amount: float, reason: str) -> None:
        if amount <= 0:
            return
        self.score[category] = self.score.get(category, 0.0) + amount
        self.reasons.setdefault(category, []).append((amount, reason))

    def categories(self) -> set[str]:
        return {c for c, s in self.score.items() if s >= rules.TAG_THRESHOLD - 1e-9}

    def top_reasons(self, category: str, limit: int = 2) -> list[str]:
        ranked = sorted(self.reasons.get(category, []), key=lambda r: -r[0])
        out: list[str] = []
        for _, reason in ranked:
            if reason not in out:
                out.append(reason)
            if len(out) >= limit:
                break
        return out


_SOURCE_LABEL = {
    "path": "path contains '{}'",
    "scope": "path contains '{}'",
    "operation": "operationId mentions '{}'",
    "summary": "summary mentions '{}'",
    "description": "description mentions '{}'",
    "tag": "tag mentions '{}'",
}


def _match_keywords(words: tuple[str, ...], source: str, evidence: _Evidence, seen: set[tuple[str, str]]) -> None:
    """Find keyword phrases (longest first, non-overlapping) in ``words`` and add their evidence."""
    if not words:
        return
    excluded: set[int] = set()
    for i in range(len(words) - 1):
        if (words[i], words[i + 1]) in rules.EXCLUDED_PHRASES:
            excluded.update((i, i + 1))
    used: set[int] = set()
    factor = rules.SOURCE_FACTOR[source]
    for size in range(min(rules.MAX_PHRASE_LEN, len(words)), 0, -1):
        for i in range(len(words) - size + 1):
            span = set(range(i, i + size))
            if span & used or (size == 1 and i in excluded):
                continue
            phrase = words[i : i + size]
            matched = rules.RULES_BY_PHRASE.get(phrase)
            if not matched:
                continue
            used |= span
            for rule in matched:
                if source == "scope" and not rule.scope_ok:
                    continue
                if rule.name_only and source not in ("path", "operation"):
                    continue
                if source == "description" and not rule.prose_ok:
                    continue  # prose mentions "users", "webhook", "certificate" in passing
                key = (rule.category + ":" + " ".join(rule.phrase), source)
                if key in seen:
                    continue
                seen.add(key)
                label = _SOURCE_LABEL[source].format(" ".join(phrase))
                evidence.add(rule.category, rule.weight * factor, f"{label} ({rule.reason})")


def _money_fields(schema: Any, document: Any = None, limit: int = 3) -> list[str]:
    names: list[str] = []
    if not isinstance(schema, Mapping):
        return names
    for visit in iter_fields(schema, document=document, max_depth=4, max_nodes=600):
        if rules.is_money_field(visit.name) and visit.name not in names:
            if "boolean" == visit.schema.get("type"):
                continue
            names.append(visit.name)
            if len(names) >= limit:
                break
    return names


def _response_schemas(tool: ToolDef) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    responses = tool.responses if isinstance(tool.responses, Mapping) else {}
    for status, resp in responses.items():
        if str(status).startswith("2") and isinstance(resp, Mapping) and isinstance(resp.get("schema"), Mapping):
            out.append(resp["schema"])
    if not out and isinstance(tool.output_schema, Mapping):
        out.append(tool.output_schema)
    return out


def _input_properties(tool: ToolDef) -> list[tuple[str, Mapping[str, Any], str]]:
    """(name, schema, location) of every top-level input: parameters and body fields."""
    out: list[tuple[str, Mapping[str, Any], str]] = []
    seen: set[str] = set()
    for param in tool.parameters if isinstance(tool.parameters, list) else []:
        name = getattr(param, "name", None)
        if isinstance(name, str):
            schema = getattr(param, "schema", None)
            out.append((name, schema if isinstance(schema, Mapping) else {}, str(getattr(param, "location", ""))))
            seen.add(name)
    props = tool.input_schema.get("properties") if isinstance(tool.input_schema, Mapping) else None
    arg_map = tool.arg_map if isinstance(tool.arg_map, Mapping) else {}
    if isinstance(props, Mapping):
        for name, schema in props.items():
            mapping = arg_map.get(name) if isinstance(arg_map.get(name), Mapping) else {}
            original = mapping.get("name", name) if isinstance(mapping, Mapping) else name
            if original in seen or name in seen:
                continue
            where = mapping.get("in", "body") if isinstance(mapping, Mapping) else "body"
            out.append((str(original), schema if isinstance(schema, Mapping) else {}, str(where)))
    return out


def _graphql_mode(tool: ToolDef, path: _Path) -> str | None:
    """ "query" when the body can only carry a GraphQL query, "any" when it may carry mutations."""
    schema = tool.request_schema if isinstance(tool.request_schema, Mapping) else None
    props = schema.get("properties") if schema else None
    has_query_prop = isinstance(props, Mapping) and isinstance(props.get("query"), Mapping)
    is_graphql = "graphql" in path.all_words or (
        has_query_prop and isinstance(props, Mapping) and ("variables" in props or "operationName" in props)
    )
    if not is_graphql:
        return None
    if not has_query_prop or not isinstance(props, Mapping):
        return "any"
    query = props["query"]
    samples: list[str] = []
    for key in ("const", "default", "example"):
        if isinstance(query.get(key), str):
            samples.append(query[key])
    for key in ("enum", "examples"):
        if isinstance(query.get(key), list):
            samples += [v for v in query[key] if isinstance(v, str)]
    if (
        samples
        and all(s.lstrip().startswith(("query", "{")) for s in samples)
        and not any("mutation" in s or "subscription" in s for s in samples)
    ):
        return "query"
    return "any"


def _action_param_verbs(inputs: list[tuple[str, Mapping[str, Any], str]]) -> list[tuple[str, str]]:
    """(param, verb) for enum values of action-like params: ``?action=delete``."""
    out: list[tuple[str, str]] = []
    for name, schema, _ in inputs:
        if name.lower() not in rules.ACTION_PARAM_NAMES:
            continue
        values = schema.get("enum")
        if not isinstance(values, list):
            items = schema.get("items")
            values = items.get("enum") if isinstance(items, Mapping) else None
        for value in values if isinstance(values, list) else []:
            if isinstance(value, str):
                for word in _lemmas(value):
                    if word in rules.GET_STATE_VERBS and (name, word) not in out:
                        out.append((name, word))
    return out


def _extension(tool: ToolDef, names: Iterable[str]) -> tuple[str, Any] | None:
    ext = tool.extensions if isinstance(tool.extensions, Mapping) else {}
    lowered = {str(k).lower(): (k, v) for k, v in ext.items()}
    for name in names:
        hit = lowered.get(name.lower())
        if hit is not None:
            return str(hit[0]), hit[1]
    return None


# ---------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------


@dataclass
class _Hint:
    """A vendor extension found on the operation: its spelling and its boolean value (None if unclear)."""

    key: str = ""
    value: bool | None = None


def _hint(tool: ToolDef, names: Iterable[str]) -> _Hint:
    found = _extension(tool, names)
    return _Hint(found[0], _truthy(found[1])) if found else _Hint()


@dataclass
class _Facts:
    """Everything the phases below look at, extracted once from the ToolDef."""

    tool: ToolDef
    method: str
    path: _Path
    op_sources: list[tuple[str, ...]]  # operationId words (unless it only echoes method+path), x-methodName
    op_verbs: list[str]
    summary: str
    description: str
    summary_source: str  # "summary", or "description" when its first sentence stands in
    summary_words: tuple[str, ...]
    summary_verbs: list[str]  # first verb + verbs after "or"/"and"
    purpose_verbs: list[str]  # ... + verbs after "to" ("Create jobs to terminate sessions")
    path_verbs: list[str]
    tag_words: list[tuple[str, ...]]
    inputs: list[tuple[str, Mapping[str, Any], str]]
    success_codes: list[str]
    action_params: list[tuple[str, str]]
    graphql: str | None
    readonly: _Hint
    consequential: _Hint
    destructive_hint: _Hint


def _extract(tool: ToolDef) -> _Facts:
    method = str(tool.method or "").strip().upper()
    path = _parse_path(str(tool.path or ""))
    op_words = _without_qualifier(_lemmas(str(tool.operation_id or "")))
    alt = _extension(tool, ("x-methodName", "x-operation-name"))
    alt_words = _lemmas(alt[1]) if alt and isinstance(alt[1], str) else ()
    op_sources = [w for w in (() if _is_echo(op_words, path) else op_words, alt_words) if w]
    op_verbs: list[str] = []
    for words in op_sources:
        for verb in _verbs(words, skip_leading=False, connectors=_CONNECTORS):
            # "postPayments" for a POST says nothing beyond the method
            if verb not in op_verbs and not (verb in _METHOD_WORDS and verb.upper() == method):
                op_verbs.append(verb)
    summary = str(tool.summary or "").strip()
    description = str(tool.description or "")
    summary_words = _lemmas(summary or _first_sentence(description))
    inputs = _input_properties(tool)
    responses = tool.responses if isinstance(tool.responses, Mapping) else {}
    return _Facts(
        tool=tool,
        method=method,
        path=path,
        op_sources=op_sources,
        op_verbs=op_verbs,
        summary=summary,
        description=description,
        summary_source="summary" if summary else "description",
        summary_words=summary_words,
        summary_verbs=_verbs(summary_words, skip_leading=True, connectors=_CONNECTORS),
        purpose_verbs=_verbs(summary_words, skip_leading=True, connectors=_CONNECTORS | {"to"}),
        path_verbs=_path_verbs(path),
        tag_words=[_lemmas(str(t)) for t in (tool.tags if isinstance(tool.tags, list) else [])],
        inputs=inputs,
        success_codes=sorted(str(code) for code in responses if str(code).startswith("2")),
        action_params=_action_param_verbs(inputs),
        graphql=_graphql_mode(tool, path),
        readonly=_hint(tool, rules.READ_ONLY_EXTENSIONS),
        consequential=_hint(tool, (rules.CONSEQUENTIAL_EXTENSION,)),
        destructive_hint=_hint(tool, rules.DESTRUCTIVE_EXTENSIONS),
    )


def _read_method_changes_state(f: _Facts) -> list[str]:
    """Why a GET/HEAD/OPTIONS changes state (empty: it does not)."""
    reasons: list[str] = []
    first_is_read = any(v in rules.READ_VERBS for v in f.op_verbs[:1] + f.summary_verbs[:1])
    for verb in f.path_verbs:
        if verb in rules.GET_STATE_VERBS and not first_is_read:
            reasons.append(f"{f.method} path action '{verb}' changes state")
            break
    for verb in f.op_verbs[:1]:
        if verb in rules.GET_STATE_VERBS:
            reasons.append(f"operationId verb '{verb}' changes state")
    for verb in f.summary_verbs:
        if verb in rules.GET_STATE_VERBS:
            reasons.append(f"{f.summary_source} verb '{verb}' changes state")
            break
    reasons += [f"parameter '{name}' can be '{verb}'" for name, verb in f.action_params]
    if f.consequential.value is True:
        reasons.append(f"{f.consequential.key}: true")
    if f.readonly.value is False:
        reasons.append(f"{f.readonly.key}: false")
    return reasons


def _post_read_signals(f: _Facts) -> tuple[list[str], list[str]]:
    """(signals that a POST only reads, signals that it writes).  Read-only needs the first and
    none of the second."""
    signals: list[str] = []
    if f.op_verbs[:1] and f.op_verbs[0] in rules.READ_VERBS:
        signals.append(f"operationId verb '{f.op_verbs[0]}'")
    if f.summary_verbs[:1] and f.summary_verbs[0] in rules.READ_VERBS:
        signals.append(f"{f.summary_source} verb '{f.summary_verbs[0]}'")
    action = f.path.action or f.path.resource
    if action and (
        action[0] in rules.READ_VERBS
        or (action[-1] in rules.READ_RESOURCE_NOUNS and action[0] not in _WRITE_OR_DESTROY)
    ):
        signals.append(f"path action '{f.path.resource_raw}'")
    if f.graphql == "query":
        signals.append("GraphQL body restricted to queries")
    if f.readonly.value is True:
        signals.append(f"{f.readonly.key}: true")
    if f.consequential.value is False:
        signals.append(f"{f.consequential.key}: false")

    blockers: list[str] = []
    write_verb = next((v for v in f.op_verbs + f.purpose_verbs + f.path_verbs if v in _WRITE_OR_DESTROY), None)
    if write_verb:
        blockers.append(f"write verb '{write_verb}'")
    head = f.path.resource[-1] if f.path.resource else ""
    if head in rules.ACTION_NOUNS and not f.path.ends_with_param:
        blockers.append(f"creates '{f.path.resource_raw}'")
    if head in rules.CREDENTIAL_NOUNS or "_".join(f.path.resource) in rules.CREDENTIAL_NOUNS:
        blockers.append(f"mints a credential ('{f.path.resource_raw}')")
    if f.success_codes and set(f.success_codes) <= {"201", "202"}:
        blockers.append(f"{'/'.join(f.success_codes)} response (creates or starts something)")
    if f.graphql == "any":
        blockers.append("GraphQL endpoint accepts mutations")
    if f.consequential.value is True:
        blockers.append(f"{f.consequential.key}: true")
    if f.readonly.value is False:
        blockers.append(f"{f.readonly.key}: false")
    blockers += [f"parameter '{name}' can be '{verb}'" for name, verb in f.action_params]
    return signals, blockers


def _changes_state(f: _Facts) -> tuple[bool, list[str]]:
    """Phase 1: does calling the tool change anything?  (side_effect, reasons)"""
    if f.method in _READ_METHODS:
        why = _read_method_changes_state(f)
        return bool(why), [f"{f.method} method", *why]
    if f.method == "POST":
        signals, blockers = _post_read_signals(f)
        if signals and not blockers:
            return False, ["POST method", "POST that only reads: " + ", ".join(signals)]
        if signals:
            return True, ["POST method", f"read signal ({signals[0]}) overridden by {blockers[0]}"]
        return True, ["POST method", *(["GraphQL endpoint accepts mutations"] if f.graphql == "any" else [])]
    if f.method in ("PUT", "PATCH", "DELETE"):
        return True, [f"{f.method} method"]
    return True, [f"unknown method '{f.method or '?'}' treated as a write"]


def _destruction(f: _Facts) -> list[tuple[str, rules.DestructiveVerb]]:
    """Phase 2 (writes only): the destructive / money-moving actions found, with where."""
    hits: list[tuple[str, rules.DestructiveVerb]] = []

    def add(verb: str, where: str) -> None:
        spec = rules.DESTRUCTIVE_VERBS.get(verb)
        if spec and all(spec.verb != known.verb for _, known in hits):
            hits.append((where, spec))

    for verb in f.op_verbs:
        add(verb, f"operationId verb '{verb}'")
    for verb in f.purpose_verbs:
        add(verb, f"{f.summary_source} verb '{verb}'")
    for verb in f.path_verbs:
        add(verb, f"path action '{verb}'")
    head = f.path.resource[-1] if f.path.resource else ""
    if f.method == "POST" and head in rules.ACTION_NOUNS and not f.path.ends_with_param:
        add(rules.ACTION_NOUNS[head], f"POST creates '{f.path.resource_raw}'")
    for name, verb in f.action_params:
        add(verb, f"parameter '{name}' can be '{verb}'")
    return hits


def _domain_evidence(
    f: _Facts, side_effect: bool, document: Any, inherited: Mapping[str, str] | None
) -> tuple[_Evidence, set[str], str]:
    """Phase 3: billing / administrative evidence.  Returns (evidence, categories declared by a
    ``x-mcp-category`` extension, that extension's key)."""
    evidence = _Evidence()
    seen: set[tuple[str, str]] = set()
    _match_keywords(f.path.resource, "path", evidence, seen)
    for scope in f.path.scopes:
        _match_keywords(scope, "scope", evidence, seen)
    for words in f.op_sources:
        _match_keywords(words, "operation", evidence, seen)
    _match_keywords(_without_qualifier(f.summary_words), f.summary_source, evidence, seen)
    if f.summary:
        _match_keywords(_lemmas(f.description[:300]), "description", evidence, seen)
    for words in f.tag_words:
        _match_keywords(words, "tag", evidence, seen)

    tool = f.tool
    request_money = _money_fields(tool.request_schema, document) if tool.request_schema else []
    names = set(f.path.resource).union(*f.op_sources)
    if names & rules.ORDER_NOUNS:
        money = request_money or next(
            (m for m in (_money_fields(s, document) for s in _response_schemas(tool)) if m), []
        )
        if money:
            evidence.add(rules.BILLING, 1.0, f"order with money fields ({', '.join(money)})")
    if side_effect and request_money:
        # one money field is a detail (Twilio's MaxPrice on "Send a message"); amount + currency is a payment
        evidence.add(rules.BILLING, 0.5 * len(request_money), f"request body has {', '.join(request_money)}")
    ext = tool.extensions if isinstance(tool.extensions, Mapping) else {}
    for key, value in ext.items():
        if any(marker in str(key).lower() for marker in rules.ADMIN_EXTENSION_MARKERS) and _truthy(value):
            evidence.add(rules.ADMINISTRATIVE, 2.0, f"{key}: true")
    for category, why in (inherited or {}).items():
        evidence.add(category, rules.TAG_THRESHOLD, why)
    declared: set[str] = set()
    cat_ext = _extension(tool, rules.CATEGORY_EXTENSIONS)
    if cat_ext:
        values = cat_ext[1] if isinstance(cat_ext[1], list) else [cat_ext[1]]
        declared = {str(v).strip().lower() for v in values} & {rules.BILLING, rules.ADMINISTRATIVE, rules.CRITICAL}
        for value in sorted(declared - {rules.CRITICAL}):
            evidence.add(value, 2.0, f"{cat_ext[0]}: {value}")
    return evidence, declared, cat_ext[0] if cat_ext else "", request_money


def _charge_evidence(f: _Facts, hits: list[tuple[str, rules.DestructiveVerb]], request_money: list[str]) -> str:
    """Why a billing-topic write moves money or changes what is charged ("" when it does not:
    storing a card, deleting a payment token, transferring a repository, updating a payout's
    metadata)."""
    if _metadata_only_update(f):
        return ""
    if request_money:
        return f"request body has {', '.join(request_money)}"
    for where, spec in hits:
        if spec.money:
            return f"{where}: {spec.reason}"
    for where, spec in hits:
        if spec.verb in rules.CHARGE_CHANGE_VERBS and f.method != "DELETE":
            return f"{where}: {spec.reason} (a charge)"
        if spec.verb == "transfer" and where.startswith("POST creates"):
            return f"{where}: transfers funds"
    sources = [f.path.resource, *f.op_sources] + ([] if f.method == "DELETE" else [f.summary_words])
    for words in sources:
        for i, word in enumerate(words):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if word in rules.CHARGE_WORDS and nxt not in rules.CHARGE_WORD_NOT_BEFORE:
                return f"names what is charged ('{word}')"
    return ""


def _metadata_only_update(f: _Facts) -> bool:
    """An update of an existing object whose body holds only descriptive fields (metadata,
    description, name): ``POST /v1/payouts/{payout}`` with ``metadata``."""
    if f.method not in ("POST", "PUT", "PATCH") or not f.path.ends_with_param:
        return False
    body = [name for name, _, where in f.inputs if where == "body"]
    return bool(body) and all("".join(rules.split_words(n)) in rules.METADATA_FIELDS for n in body)


def _reversible_removal(f: _Facts) -> bool:
    """Summary "Remove a label from an issue" / "Unassign ... from ...": an association is taken
    away and can be put back (not "Remove comment", not "permanently")."""
    words = f.summary_words
    if not words or not set(f.summary_verbs[:1]) & rules.REVERSIBLE_REMOVAL_VERBS or "from" not in words:
        return False
    removed = [w for w in words[1 : words.index("from")] if w not in ("a", "an", "the", "all")]
    return bool(removed) and removed[-1] in rules.REVERSIBLE_REMOVAL_OBJECTS and not set(words) & rules.PERMANENT_WORDS


def _open_world(f: _Facts, side_effect: bool) -> tuple[bool, str]:
    """Does the tool reach beyond the upstream API (MCP openWorldHint)?  (flag, reason)"""
    url_inputs = [name for name, schema, _ in f.inputs if rules.is_url_param(name, schema)]
    if url_inputs:
        return True, "takes URL inputs the upstream will contact: " + ", ".join(url_inputs[:3])
    verbs = set(f.op_verbs[:1] + f.summary_verbs[:1])
    if side_effect and (verbs & rules.OPEN_WORLD_VERBS or set(f.path.resource) & rules.OPEN_WORLD_NOUNS):
        return True, "reaches people or systems outside the API (messages, calls, invitations)"
    return False, ""


@dataclass
class _Verdict:
    """Inputs of the risk score."""

    category: str
    tags: set[str]
    side_effect: bool
    destructive: bool
    money_movement: bool
    open_world: bool
    permanent: bool
    bulk: bool
    hits: list[PiiHit]


def _risk_score(v: _Verdict) -> tuple[int, list[str]]:
    """Base by category + tag bonuses + signal bonuses, capped for non-destructive tools, then
    raised to the floors of ``rules.SCORE_FLOOR``.  Returns (score, extra reasons)."""
    reasons: list[str] = []
    score = rules.CATEGORY_BASE_SCORE[v.category] + sum(rules.TAG_BONUS.get(t, 0) for t in v.tags)
    response_pii = [h for h in v.hits if h.where == "response"]
    sensitive = any(h.kind in rules.SENSITIVE_PII_KINDS for h in v.hits)
    if not v.side_effect and response_pii:
        score += rules.SIGNAL_BONUS["pii_read"]
        if any(h.kind in rules.SENSITIVE_PII_KINDS for h in response_pii):
            score += rules.SIGNAL_BONUS["pii_read_sensitive"]
    elif v.side_effect and v.hits:
        score += rules.SIGNAL_BONUS["pii_write"] + (rules.SIGNAL_BONUS["pii_write_sensitive"] if sensitive else 0)
    if v.open_world:
        score += rules.SIGNAL_BONUS["open_world"]
    if v.permanent and v.side_effect:
        score += rules.SIGNAL_BONUS["permanent"]
        reasons.append("described as permanent / irreversible")
    if v.bulk and v.side_effect:
        score += rules.SIGNAL_BONUS["bulk"]
        reasons.append("bulk operation")
    if not v.destructive and not v.money_movement:
        score = min(score, rules.NON_DESTRUCTIVE_CEILING)

    categories = {v.category} | v.tags
    floors: list[tuple[int, str]] = []
    if categories & rules.SENSITIVE_CATEGORIES:
        touched = "/".join(sorted(categories & rules.SENSITIVE_CATEGORIES))
        floors.append((rules.SCORE_FLOOR["sensitive_tag"], f"touches {touched}"))
    if not v.side_effect and response_pii:
        floors.append((rules.SCORE_FLOOR["pii_read"], "returns personal data"))
    if v.destructive:
        floors.append((rules.SCORE_FLOOR["critical_write"], "destructive"))
        if rules.ADMINISTRATIVE in categories:
            floors.append((rules.SCORE_FLOOR["admin_destructive"], "destroys identities, access or credentials"))
    if v.money_movement:
        floors.append((rules.SCORE_FLOOR["money_movement"], "moves money"))
    floor, why = max(floors, default=(0, ""), key=lambda item: item[0])
    if score < floor:
        reasons.append(f"raised to {rules.risk_level_for(floor)}: {why}")
        score = floor
    return max(0, min(100, score)), reasons


def classify_tool(
    tool: ToolDef, *, pii_scanner: PiiScanner | None = None, inherited: Mapping[str, str] | None = None
) -> Classification:
    """Classify one tool.  Never raises on malformed input: unknown shapes are treated cautiously.

    ``inherited``: domain categories the tool gets from related operations (``{"billing": reason}``),
    filled by ``classify_tools``.
    """
    scanner = pii_scanner or PiiScanner()
    f = _extract(tool)

    # 1. does it change state?
    side_effect, reasons = _changes_state(f)

    # 2. is it destructive / does it move money?
    hits = _destruction(f) if side_effect else []
    destructive = side_effect and (f.method == "DELETE" or bool(hits) or f.destructive_hint.value is True)
    if destructive and f.destructive_hint.value is not True and _reversible_removal(f):
        hits = [h for h in hits if h[1].verb not in rules.REVERSIBLE_REMOVAL_VERBS]
        destructive = bool(hits)
        reasons.append(f"summary '{f.summary[:60]}': removes an association, which can be restored")
    if side_effect and f.readonly.value is True and (hits or f.method != "POST"):
        reasons.append(f"{f.readonly.key} ignored: contradicted by the operation")
    if side_effect and f.method == "DELETE":
        reasons.append("DELETE removes a resource" + (" (204 No Content)" if "204" in f.success_codes else ""))
    reasons += [f"{where}: {spec.reason}" for where, spec in hits[:3]]
    if side_effect and f.destructive_hint.value is True:
        reasons.append(f"{f.destructive_hint.key}: true")

    # 3. what does it touch?
    evidence, declared, declared_key, request_money = _domain_evidence(f, side_effect, scanner.document, inherited)
    domains = evidence.categories()
    if rules.CRITICAL in declared and side_effect and not destructive:
        destructive = True
        reasons.append(f"{declared_key}: critical")
    charge = _charge_evidence(f, hits, request_money) if side_effect and rules.BILLING in domains else ""
    money_movement = bool(charge) and any(spec.money or spec.verb in rules.MONEY_IF_BILLING for _, spec in hits)

    # category: reads stay read_only with domain tags; writes take the most specific domain
    tags: set[str] = set(domains)
    if side_effect:
        if destructive:
            tags.add(rules.CRITICAL)
        primary = set(tags)
        if rules.BILLING in primary and rules.BILLING not in declared and not (inherited or {}).get(rules.BILLING):
            if charge:
                reasons.append(f"billing write: {charge}")
            else:
                primary.discard(rules.BILLING)
                why = "only metadata is updated" if _metadata_only_update(f) else "no money moves"
                reasons.append(f"touches billing, but {why} and nothing charged changes: not a billing write")
        admin_why = {r for _, r in evidence.reasons.get(rules.ADMINISTRATIVE, [])}
        if destructive and rules.ADMINISTRATIVE in primary and admin_why and rules.ADMINISTRATIVE not in declared:
            if all(rules.ORG_CONTAINER_REASON in r for r in admin_why):
                primary.discard(rules.ADMINISTRATIVE)
                reasons.append("destroys an organisation/account container: critical rather than administrative")
        category = next((c for c in rules.WRITE_CATEGORY_PRECEDENCE if c in primary), rules.SIDE_EFFECT)
        tags.discard(category)
    else:
        category = rules.READ_ONLY
    for domain in (rules.BILLING, rules.ADMINISTRATIVE):
        if domain in domains:
            reasons += evidence.top_reasons(domain)

    # personal data
    personal = personal_data(tool, scanner.scan_tool(tool), document=scanner.document)
    pii_hits = personal.flagged
    for where in ("response", "request"):
        kinds = summarize_kinds(pii_hits, where)
        if kinds:
            reasons.append(f"{where} contains " + ", ".join(kinds))
    fields = [h.path for h in pii_hits if "." in h.path]
    if fields:
        more = f" (+{len(fields) - 4} more)" if len(fields) > 4 else ""
        reasons.append("personal fields: " + ", ".join(fields[:4]) + more)
    reasons += personal.evidence

    open_world, open_world_reason = _open_world(f, side_effect)
    if open_world_reason:
        reasons.append(open_world_reason)

    long_text = f"{f.summary} {f.description[:600]}".lower()
    permanent = bool(set(long_text.split()) & rules.PERMANENT_WORDS) or any(
        phrase in long_text for phrase in rules.PERMANENT_PHRASES
    )
    bulk = bool(set(f.summary_words[:3]) & rules.BULK_WORDS) or ("list" in f.path.resource and f.method != "GET")
    score, score_reasons = _risk_score(
        _Verdict(category, tags, side_effect, destructive, money_movement, open_world, permanent, bulk, pii_hits)
    )
    reasons += score_reasons
    scopes = _security_scopes(tool)
    if scopes:
        reasons.append("requires security scopes: " + ", ".join(scopes[:6]))
    reasons.append(_decision(category, f, side_effect))

    # MCP annotations (readOnly/destructive/idempotent/openWorld hints)
    # Hints clients may auto-approve on: readOnlyHint only for a safe HTTP method (a POST that
    # looks like a search still gets none; an admin override of the category can say otherwise),
    # idempotentHint only where HTTP or an explicit extension promises it.
    safe_method = f.method in _READ_METHODS
    idempotent = (not side_effect and safe_method) or f.method in ("PUT", "DELETE")
    idem = _hint(tool, rules.IDEMPOTENT_EXTENSIONS)
    if (side_effect or not safe_method) and idem.value is not None:
        idempotent = idem.value
    title = f.summary or _first_sentence(f.description, 80) or str(tool.name or "")
    return Classification(
        category=category,
        tags=tags,
        risk_level=rules.risk_level_for(score),
        risk_score=score,
        side_effect=side_effect,
        pii=[h.to_dict() for h in pii_hits],
        reasons=_dedupe(reasons),
        annotations={
            "title": title.rstrip("."),
            "readOnlyHint": not side_effect and safe_method,
            "destructiveHint": destructive,
            "idempotentHint": idempotent,
            "openWorldHint": open_world,
        },
        destructive=destructive,
        money_movement=money_movement,
        open_world=open_world,
    )


def _security_scopes(tool: ToolDef) -> list[str]:
    """OAuth scopes the operation requires (``payments:write``, ``admin:org``): evidence a
    reviewer reads alongside the verdict."""
    out: list[str] = []
    for requirement in tool.security if isinstance(tool.security, list) else []:
        if isinstance(requirement, Mapping):
            for values in requirement.values():
                for scope in values if isinstance(values, list) else []:
                    if isinstance(scope, str) and scope and scope not in out:
                        out.append(scope)
    return out


_DECISION = {
    rules.READ_ONLY: "read-only: reads only, nothing above changes state",
    rules.SIDE_EFFECT: "side-effect: a write with no destructive, money or identity/access evidence",
    rules.CRITICAL: "critical: destroys or irreversibly closes something, moving no money",
    rules.ADMINISTRATIVE: "administrative: identity, access, credentials or account configuration",
    rules.BILLING: "billing: money moves or what is charged changes",
}


def _decision(category: str, f: _Facts, side_effect: bool) -> str:
    """The last reason: the category and the action that decided it (method and verb)."""
    verb = next(iter(f.op_verbs + f.summary_verbs + f.path_verbs), "")
    action = f"{f.method or '?'}" + (f", verb '{verb}'" if verb else "")
    return f"Decision: {_DECISION.get(category, category)} ({action})"


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _path_key(path: str) -> tuple[str, ...]:
    """Segments of a path with parameters as ``{}`` and file extensions / fragments dropped."""
    path = path.partition("#")[0].split("?", 1)[0]
    out: list[str] = []
    for seg in path.split("/"):
        if not seg:
            continue
        out.append("{}" if "{" in seg else _EXTENSION_RE.sub("", seg).lower())
    return tuple(out)


def classify_tools(tools: Iterable[ToolDef], *, document: Any = None) -> dict[str, Classification]:
    """Classify many tools sharing one PII memo (fast on big specs).  Keyed by tool name.

    Second pass - billing is inherited downwards: a write below the path of a billing write is
    billing too (Twilio's undescribed ``POST /IncomingPhoneNumbers/Local.json`` sits below
    ``POST /IncomingPhoneNumbers.json``, "Purchase a phone-number").  Only billing is
    inherited, only by writes, only from tools whose own evidence made them billing, and
    never transitively: money is the costly mistake, and a parent's admin nature says little
    about its sub-resources.

    ``document``: optional OpenAPI document to resolve ``#/components/...`` refs left in schemas.
    """
    tools = list(tools)
    scanner = PiiScanner(document=document)
    result = {tool.name: classify_tool(tool, pii_scanner=scanner) for tool in tools}
    sources = [
        (_path_key(str(t.path or "")), f"{str(t.method).upper()} {t.path}")
        for t in tools
        if result[t.name].side_effect and result[t.name].has(rules.BILLING)
    ]
    if not sources:
        return result
    for tool in tools:
        current = result[tool.name]
        if current.has(rules.BILLING) or str(tool.method or "").upper() != "POST":
            continue
        key = _path_key(str(tool.path or ""))
        if key and key[-1] == "{}":
            continue  # updating an existing item (a number's webhooks) is not buying another one
        parent = next(
            (label for prefix, label in sources if prefix and len(prefix) < len(key) and key[: len(prefix)] == prefix),
            None,
        )
        if parent:
            why = f"below billing operation '{parent}'"
            result[tool.name] = classify_tool(tool, pii_scanner=scanner, inherited={rules.BILLING: why})
    return result
