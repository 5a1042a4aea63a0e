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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.specs.domain import ToolDef

from . import rules
from .pii import PiiScanner, summarize_kinds
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


def classify_tool(tool: ToolDef, *, pii_scanner: PiiScanner | None = None) -> Classification:
    """Classify one tool.  Never raises on malformed input: unknown shapes are treated cautiously."""
    scanner = pii_scanner or PiiScanner()
    reasons: list[str] = []
    method = str(tool.method or "").strip().upper()
    path = _parse_path(str(tool.path or ""))

    op_id = str(tool.operation_id or "")
    op_words = _lemmas(op_id)
    op_echo = _is_echo(op_words, path)
    alt = _extension(tool, ("x-methodName", "x-operation-name"))
    alt_words = _lemmas(str(alt[1])) if alt and isinstance(alt[1], str) else ()
    op_sources = [w for w in (() if op_echo else op_words, alt_words) if w]

    summary = str(tool.summary or "").strip()
    description = str(tool.description or "")
    summary_source = "summary" if summary else "description"
    summary_words = _lemmas(summary or _first_sentence(description))
    long_text = f"{summary} {description[:600]}".lower()
    tag_words = [_lemmas(str(t)) for t in (tool.tags if isinstance(tool.tags, list) else [])]

    inputs = _input_properties(tool)
    responses = tool.responses if isinstance(tool.responses, Mapping) else {}
    success_codes = sorted(str(s) for s in responses if str(s).startswith("2"))

    # ---- verbs ----------------------------------------------------------------------
    op_verbs: list[str] = []
    for words in op_sources:
        for verb in _verbs(words, skip_leading=False, connectors=_CONNECTORS):
            # "postPayments" for a POST says nothing beyond the method
            if verb not in op_verbs and not (verb in _METHOD_WORDS and verb.upper() == method):
                op_verbs.append(verb)
    summary_verbs = _verbs(summary_words, skip_leading=True, connectors=_CONNECTORS)
    summary_purpose_verbs = _verbs(summary_words, skip_leading=True, connectors=_CONNECTORS | {"to"})
    first_verbs = [v for v in (op_verbs[:1] + summary_verbs[:1])]
    path_action_words = path.action or path.resource
    path_verbs = _path_verbs(path)

    # ---- extensions -------------------------------------------------------------------
    ro_ext = _extension(tool, rules.READ_ONLY_EXTENSIONS)
    ro_hint = _truthy(ro_ext[1]) if ro_ext else None
    cons_ext = _extension(tool, (rules.CONSEQUENTIAL_EXTENSION,))
    consequential = _truthy(cons_ext[1]) if cons_ext else None
    destr_ext = _extension(tool, rules.DESTRUCTIVE_EXTENSIONS)
    destr_hint = _truthy(destr_ext[1]) if destr_ext else None

    action_params = _action_param_verbs(inputs)
    graphql = _graphql_mode(tool, path)

    # ---- 1. does it change state? ----------------------------------------------------
    write_reasons: list[str] = []
    read_reasons: list[str] = []
    if method in _READ_METHODS:
        first_is_read = any(v in rules.READ_VERBS for v in first_verbs)
        for verb in path_verbs:
            if verb in rules.GET_STATE_VERBS and not first_is_read:
                write_reasons.append(f"{method} path action '{verb}' changes state")
                break
        for verb in op_verbs[:1]:
            if verb in rules.GET_STATE_VERBS:
                write_reasons.append(f"operationId verb '{verb}' changes state")
        for verb in summary_verbs:
            if verb in rules.GET_STATE_VERBS:
                write_reasons.append(f"{summary_source} verb '{verb}' changes state")
                break
        for name, verb in action_params:
            write_reasons.append(f"parameter '{name}' can be '{verb}'")
        if consequential is True:
            write_reasons.append(f"{cons_ext[0] if cons_ext else ''}: true")
        if ro_hint is False:
            write_reasons.append(f"{ro_ext[0] if ro_ext else ''}: false")
        side_effect = bool(write_reasons)
        reasons.append(f"{method} method")
        if side_effect:
            reasons += write_reasons
    elif method == "POST":
        reasons.append("POST method")
        read_signals: list[str] = []
        if op_verbs[:1] and op_verbs[0] in rules.READ_VERBS:
            read_signals.append(f"operationId verb '{op_verbs[0]}'")
        if summary_verbs[:1] and summary_verbs[0] in rules.READ_VERBS:
            read_signals.append(f"{summary_source} verb '{summary_verbs[0]}'")
        if path_action_words and (
            path_action_words[0] in rules.READ_VERBS
            or (path_action_words[-1] in rules.READ_RESOURCE_NOUNS and path_action_words[0] not in _WRITE_OR_DESTROY)
        ):
            read_signals.append(f"path action '{path.resource_raw}'")
        if graphql == "query":
            read_signals.append("GraphQL body restricted to queries")
        if ro_hint is True:
            read_signals.append(f"{ro_ext[0] if ro_ext else ''}: true")
        if consequential is False:
            read_signals.append(f"{cons_ext[0] if cons_ext else ''}: false")
        blockers: list[str] = []
        for verb in op_verbs + summary_purpose_verbs + path_verbs:
            if verb in rules.WRITE_VERBS or verb in rules.DESTRUCTIVE_VERBS:
                blockers.append(f"write verb '{verb}'")
                break
        head = path.resource[-1] if path.resource else ""
        if head in rules.ACTION_NOUNS and not path.ends_with_param:
            blockers.append(f"creates '{path.resource_raw}'")
        if head in rules.CREDENTIAL_NOUNS or "_".join(path.resource) in rules.CREDENTIAL_NOUNS:
            blockers.append(f"mints a credential ('{path.resource_raw}')")
        if success_codes and set(success_codes) <= {"201", "202"}:
            blockers.append(f"{'/'.join(success_codes)} response (creates or starts something)")
        if graphql == "any":
            blockers.append("GraphQL endpoint accepts mutations")
        if consequential is True:
            blockers.append(f"{cons_ext[0] if cons_ext else ''}: true")
        if ro_hint is False:
            blockers.append(f"{ro_ext[0] if ro_ext else ''}: false")
        for name, verb in action_params:
            blockers.append(f"parameter '{name}' can be '{verb}'")
        if read_signals and not blockers:
            side_effect = False
            read_reasons.append("POST that only reads: " + ", ".join(read_signals))
            reasons += read_reasons
        else:
            side_effect = True
            if read_signals:
                reasons.append(f"read signal ({read_signals[0]}) overridden by {blockers[0]}")
            elif graphql == "any":
                reasons.append("GraphQL endpoint accepts mutations")
    else:
        side_effect = True
        reasons.append(
            f"{method} method"
            if method in ("PUT", "PATCH", "DELETE")
            else f"unknown method '{method or '?'}' treated as a write"
        )
        if ro_hint is True:
            reasons.append(f"{ro_ext[0] if ro_ext else ''}: true ignored for {method or 'this method'}")

    # ---- 2. is it destructive? --------------------------------------------------------
    destructive_hits: list[tuple[str, rules.DestructiveVerb]] = []

    def _destroy(verb: str, where: str) -> None:
        spec = rules.DESTRUCTIVE_VERBS.get(verb)
        if spec and all(spec.verb != s.verb for _, s in destructive_hits):
            destructive_hits.append((where, spec))

    if side_effect:
        for verb in op_verbs:
            _destroy(verb, f"operationId verb '{verb}'")
        for verb in summary_purpose_verbs:
            _destroy(verb, f"{summary_source} verb '{verb}'")
        for verb in path_verbs:
            _destroy(verb, f"path action '{verb}'")
        head = path.resource[-1] if path.resource else ""
        if method == "POST" and head in rules.ACTION_NOUNS and not path.ends_with_param:
            _destroy(rules.ACTION_NOUNS[head], f"POST creates '{path.resource_raw}'")
        for name, verb in action_params:
            _destroy(verb, f"parameter '{name}' can be '{verb}'")
    if side_effect and ro_hint is True and (destructive_hits or method != "POST"):
        reasons.append(f"{ro_ext[0] if ro_ext else 'read-only hint'} ignored: contradicted by the operation")
    destructive = side_effect and (method == "DELETE" or bool(destructive_hits) or destr_hint is True)
    money_movement = any(spec.money for _, spec in destructive_hits)
    if side_effect:
        if method == "DELETE":
            reasons.append("DELETE removes a resource" + (" (204 No Content)" if "204" in success_codes else ""))
        for where, spec in destructive_hits[:3]:
            reasons.append(f"{where}: {spec.reason}")
        if destr_hint is True:
            reasons.append(f"{destr_ext[0] if destr_ext else ''}: true")
    permanent = any(w in long_text.split() for w in rules.PERMANENT_WORDS) or any(
        p in long_text for p in rules.PERMANENT_PHRASES
    )

    # ---- 3. what does it touch? ----------------------------------------------------------
    evidence = _Evidence()
    seen: set[tuple[str, str]] = set()
    _match_keywords(path.resource, "path", evidence, seen)
    for scope in path.scopes:
        _match_keywords(scope, "scope", evidence, seen)
    for words in op_sources:
        _match_keywords(words, "operation", evidence, seen)
    _match_keywords(summary_words, summary_source, evidence, seen)
    if summary:
        _match_keywords(_lemmas(description[:300]), "description", evidence, seen)
    for words in tag_words:
        _match_keywords(words, "tag", evidence, seen)

    order_words = set(path.resource)
    for words in op_sources:
        order_words.update(words)
    request_money = _money_fields(tool.request_schema, scanner.document) if tool.request_schema else []
    if order_words & rules.ORDER_NOUNS:
        money = request_money or next(
            (m for m in (_money_fields(s, scanner.document) for s in _response_schemas(tool)) if m), []
        )
        if money:
            evidence.add(rules.BILLING, 1.0, f"order with money fields ({', '.join(money)})")
    if side_effect and request_money:
        # one money field is a detail (Twilio's MaxPrice on "Send a message"); amount + currency is a payment
        evidence.add(rules.BILLING, 0.5 * len(request_money), f"request body has {', '.join(request_money)}")
    ext = tool.extensions if isinstance(tool.extensions, Mapping) else {}
    for key, value in ext.items():
        low = str(key).lower()
        if any(marker in low for marker in rules.ADMIN_EXTENSION_MARKERS) and _truthy(value):
            evidence.add(rules.ADMINISTRATIVE, 2.0, f"{key}: true")
    cat_ext = _extension(tool, rules.CATEGORY_EXTENSIONS)
    declared: set[str] = set()
    if cat_ext:
        values = cat_ext[1] if isinstance(cat_ext[1], list) else [cat_ext[1]]
        declared = {str(v).strip().lower() for v in values} & {rules.BILLING, rules.ADMINISTRATIVE, rules.CRITICAL}
        for value in sorted(declared - {rules.CRITICAL}):
            evidence.add(value, 2.0, f"{cat_ext[0]}: {value}")
    domains = evidence.categories()
    if rules.BILLING in domains and any(spec.verb in rules.MONEY_IF_BILLING for _, spec in destructive_hits):
        money_movement = True  # a transfer of funds, not of folder ownership
    if rules.CRITICAL in declared and side_effect and not destructive:
        destructive = True
        reasons.append(f"{cat_ext[0] if cat_ext else ''}: critical")

    # ---- category -----------------------------------------------------------------------
    tags: set[str] = set(domains)
    if side_effect:
        if destructive:
            tags.add(rules.CRITICAL)
        category = next((c for c in rules.WRITE_CATEGORY_PRECEDENCE if c in tags), rules.SIDE_EFFECT)
        tags.discard(category)
    else:
        category = rules.READ_ONLY
    for domain in (rules.BILLING, rules.ADMINISTRATIVE):
        if domain in domains:
            reasons += evidence.top_reasons(domain)

    # ---- PII ---------------------------------------------------------------------------
    hits = scanner.scan_tool(tool)
    pii = [h.to_dict() for h in hits]
    response_kinds = summarize_kinds(hits, "response")
    request_kinds = summarize_kinds(hits, "request")
    if response_kinds:
        reasons.append("response contains " + ", ".join(response_kinds))
    if request_kinds:
        reasons.append("request contains " + ", ".join(request_kinds))

    # ---- open world ----------------------------------------------------------------------
    url_inputs = [name for name, schema, _ in inputs if rules.is_url_param(name, schema)]
    open_world_words = set(op_verbs[:1] + summary_verbs[:1])
    open_world = bool(url_inputs) or (
        side_effect
        and (bool(open_world_words & rules.OPEN_WORLD_VERBS) or bool(set(path.resource) & rules.OPEN_WORLD_NOUNS))
    )
    if open_world:
        if url_inputs:
            reasons.append("takes URL inputs the upstream will contact: " + ", ".join(url_inputs[:3]))
        else:
            reasons.append("reaches people or systems outside the API (messages, calls, invitations)")

    # ---- score ---------------------------------------------------------------------------
    score = rules.CATEGORY_BASE_SCORE[category]
    for tag in sorted(tags):
        score += rules.TAG_BONUS.get(tag, 0)
    sensitive_pii = any(h.kind in rules.SENSITIVE_PII_KINDS for h in hits)
    if not side_effect and response_kinds:
        score += rules.SIGNAL_BONUS["pii_read"]
        if any(h.kind in rules.SENSITIVE_PII_KINDS and h.where == "response" for h in hits):
            score += rules.SIGNAL_BONUS["pii_read_sensitive"]
    elif side_effect and hits:
        score += rules.SIGNAL_BONUS["pii_write"]
        if sensitive_pii:
            score += rules.SIGNAL_BONUS["pii_write_sensitive"]
    if open_world:
        score += rules.SIGNAL_BONUS["open_world"]
    if permanent and side_effect:
        score += rules.SIGNAL_BONUS["permanent"]
        reasons.append("described as permanent / irreversible")
    if side_effect and (set(summary_words[:3]) & rules.BULK_WORDS or "list" in path.resource and method != "GET"):
        score += rules.SIGNAL_BONUS["bulk"]
        reasons.append("bulk operation")

    if not destructive and not money_movement and score > rules.NON_DESTRUCTIVE_CEILING:
        score = rules.NON_DESTRUCTIVE_CEILING
    all_categories = {category} | tags
    floor = 0
    floor_reason = ""
    if all_categories & rules.SENSITIVE_CATEGORIES:
        floor, floor_reason = (
            rules.SCORE_FLOOR["sensitive_tag"],
            "touches " + "/".join(sorted(all_categories & rules.SENSITIVE_CATEGORIES)),
        )
    if not side_effect and response_kinds and rules.SCORE_FLOOR["pii_read"] > floor:
        floor, floor_reason = rules.SCORE_FLOOR["pii_read"], "returns personal data"
    if destructive and rules.SCORE_FLOOR["critical_write"] > floor:
        floor, floor_reason = rules.SCORE_FLOOR["critical_write"], "destructive"
    if destructive and rules.ADMINISTRATIVE in all_categories and rules.SCORE_FLOOR["admin_destructive"] > floor:
        floor, floor_reason = rules.SCORE_FLOOR["admin_destructive"], "destroys identities, access or credentials"
    if money_movement and rules.BILLING in all_categories and rules.SCORE_FLOOR["money_movement"] > floor:
        floor, floor_reason = rules.SCORE_FLOOR["money_movement"], "moves money"
    if score < floor:
        reasons.append(f"raised to {rules.risk_level_for(floor)}: {floor_reason}")
        score = floor
    score = max(0, min(100, score))
    level = rules.risk_level_for(score)

    # ---- MCP annotations -----------------------------------------------------------------
    idem_ext = _extension(tool, rules.IDEMPOTENT_EXTENSIONS)
    idempotent = (not side_effect) or method in ("PUT", "DELETE")
    if idem_ext is not None and _truthy(idem_ext[1]) is not None and side_effect:
        idempotent = bool(_truthy(idem_ext[1]))
    title = summary or _first_sentence(description, 80) or str(tool.name or "")
    annotations: dict[str, Any] = {
        "title": title.rstrip("."),
        "readOnlyHint": not side_effect,
        "destructiveHint": bool(destructive),
        "idempotentHint": bool(idempotent),
        "openWorldHint": bool(open_world),
    }
    return Classification(
        category=category,
        tags=tags,
        risk_level=level,
        risk_score=int(score),
        side_effect=side_effect,
        pii=pii,
        reasons=_dedupe(reasons),
        annotations=annotations,
        destructive=bool(destructive),
        money_movement=money_movement and side_effect,
        open_world=open_world,
    )


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def classify_tools(tools: Iterable[ToolDef], *, document: Any = None) -> dict[str, Classification]:
    """Classify many tools sharing one PII memo (fast on big specs).  Keyed by tool name.

    ``document``: optional OpenAPI document to resolve ``#/components/...`` refs left in schemas.
    """
    scanner = PiiScanner(document=document)
    return {tool.name: classify_tool(tool, pii_scanner=scanner) for tool in tools}
