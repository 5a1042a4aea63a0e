"""Find personal data in a tool's request and response schemas.

Why schemas and not descriptions: the schema is the contract of what an agent will
send and receive, and field names are far less ambiguous than prose.  The name tables
live in ``rules.py`` (``PII_*``); this module is the walker.

A field is personal data when its ``format`` says so (``email``, ``phone-number``,
``ipv4``) or its *words* do: ``shopperEmail``, ``date_of_birth``, ``billingAddress``.
Exclusions keep configuration out (``email_template_id``, ``emailEnabled``,
``phone_number_sid``, ``hostname``, ``file_name``): booleans, enums (except gender),
ids/sids, templates, flags.  A bare ``name`` / ``display_name`` / ``login`` counts only
inside an object that describes a person (its ref name or title says User, Customer,
Shopper ..., or it is reached through ``created_by``, ``owner``, ``collaborators``);
a bare ``number`` counts only inside a card.

Walking is memoised per ``PiiScanner`` (one per spec): Box's 296 tools share a few
hundred component schemas, each of which is walked once per (context, depth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apps.specs.domain import ToolDef

from . import rules
from .schemawalk import deref, schema_types

MAX_DEPTH = 6
MAX_HITS_PER_SCHEMA = 40

PERSON = "person"
CARD = "card"
_CARD_CONTEXT_WORDS = frozenset({"card", "cards", "carddetails"})
_CARD_ONLY_NAMES = {"number": "card_number", "encryptednumber": "card_number"}
# "identityCard.number", "IdCard", "drivingLicenceCard": a government-issued card, not a payment card
_ID_CARD_WORDS = frozenset({"identity", "identification", "id", "national", "citizen", "residence", "voter",
                            "driver", "drivers", "driving"})
IDENTITY_CARD = "identity"

#: What each kind is, in words (the stored kind names are terse: ``card_number`` is a payment
#: card's number, ``national_id`` any government-issued identity number).
KIND_LABELS = {
    "card_number": "payment card number", "card_cvc": "payment card security code",
    "national_id": "government ID number", "passport": "passport number", "tax_id": "tax ID",
    "bank_account": "bank account", "date_of_birth": "date of birth", "ip_address": "IP address",
}


def kind_label(kind: object) -> str:
    """The kind of personal data as shown to people (inventory, reports)."""
    text = str(kind or "")
    return KIND_LABELS.get(text, text.replace("_", " "))


def _card_context(words: set[str] | frozenset[str]) -> str:
    """"" (no card), IDENTITY_CARD, or CARD (a payment card) for an object's name words."""
    if not words & _CARD_CONTEXT_WORDS:
        return ""
    return IDENTITY_CARD if words & _ID_CARD_WORDS else CARD
_OBJECT_KINDS = frozenset({"address", "name"})  # an object of this kind is reported whole


@dataclass(frozen=True)
class PiiHit:
    """One personal-data field: ``path`` like ``response.entries[].created_by.login``."""

    path: str
    kind: str
    where: str  # request | response

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind, "where": self.where}


@lru_cache(maxsize=16384)
def _name_kind(name: str, person: bool, card: bool | str) -> str | None:
    """Kind of personal data a field *name* denotes, ignoring its schema (cached: names repeat)."""
    words = rules.split_words(name)
    if not words:
        return None
    joined = "".join(words)
    if words[0] in rules.PII_EXCLUDE_PREFIXES and len(words) > 1:
        return None
    exact = rules.PII_EXACT_NAMES.get(joined)
    if exact:
        return exact
    if any(w in rules.PII_EXCLUDE_WORDS for w in words):
        return None
    if person and joined in rules.PERSON_ONLY_NAMES:
        return rules.PERSON_ONLY_NAMES[joined]
    if card and joined in _CARD_ONLY_NAMES:
        return "national_id" if card == IDENTITY_CARD else _CARD_ONLY_NAMES[joined]
    content = [w for w in words if w not in ("of", "the", "and")]
    for pair in zip(content, content[1:], strict=False):
        kind = rules.PII_WORD_PAIRS.get(pair)
        if kind:
            return kind
    for i, word in enumerate(content):
        kind = rules.PII_WORDS.get(word)
        if kind and all(w in rules.PII_HEAD_TAILS for w in content[i + 1 :]):
            return kind  # "homePhone", "email_value" - but not "passwordChangeDate", "emailSubject"
    if content[-1] == "ip":
        return "ip_address"
    if content[-1] in ("address", "addresses") and (
        len(content) == 1 or content[-2] not in rules.PII_ADDRESS_NOT_PERSONAL
    ):
        return "address"
    return None


def field_pii_kind(
    name: Any, schema: Mapping[str, Any] | None = None, *, person: bool = False, card: bool | str = False
) -> str | None:
    """Kind of personal data held by property ``name`` with ``schema``, or None.

    ``person``/``card``: the property sits in an object describing a person / a card.
    """
    if not isinstance(name, str) or not name:
        return None
    schema = schema if isinstance(schema, Mapping) else {}
    types = schema_types(schema)
    items = schema.get("items")
    if "array" in types and isinstance(items, Mapping):
        types = types | schema_types(items)
    if "boolean" in types:
        return None
    fmt = schema.get("format")
    by_format = rules.PII_FORMATS.get(fmt) if isinstance(fmt, str) else None
    kind = _name_kind(name, person, card)
    if by_format and (kind is None or kind == by_format or kind == "username"):
        kind = by_format
    elif by_format and kind not in rules.SENSITIVE_PII_KINDS:
        kind = by_format
    if kind is None:
        return None
    if isinstance(schema.get("enum"), list) and kind != "gender":
        return None  # an enum holds codes, not a person's data
    return kind


def _context_words(*texts: Any) -> set[str]:
    words: set[str] = set()
    for text in texts:
        if isinstance(text, str) and text:
            words.update(rules.split_words(text))
    return words


class PiiScanner:
    """Finds personal data in tools' schemas, memoising shared sub-schemas across tools.

    One instance per spec: memo keys are object identities, valid while the schemas live
    (the memo holds a reference to each schema so identities are never reused).
    """

    def __init__(
        self, *, document: Any = None, max_depth: int = MAX_DEPTH, max_hits: int = MAX_HITS_PER_SCHEMA
    ) -> None:
        self.document = document
        self.max_depth = max_depth
        self.max_hits = max_hits
        self._memo: dict[tuple[int, bool, bool, int], tuple[tuple[tuple[str, str], ...], Any]] = {}
        self._in_progress: set[int] = set()

    # -- public -------------------------------------------------------------------------
    def scan_schema(self, schema: Any, where: str, prefix: str | None = None) -> list[PiiHit]:
        """PII fields below ``schema``; paths start with ``prefix`` (default: ``where``)."""
        if not isinstance(schema, Mapping):
            return []
        roots: tuple[Any, ...] = (schema,) if self.document is None else (schema, self.document)
        head = where if prefix is None else prefix
        found = self._walk(schema, roots, False, False, 0)
        return [PiiHit(f"{head}{suffix}", kind, where) for suffix, kind in found]

    def scan_tool(self, tool: ToolDef) -> list[PiiHit]:
        """Request PII from the input schema, response PII from the 2xx response schemas."""
        hits: list[PiiHit] = []
        input_schema = getattr(tool, "input_schema", None)
        if isinstance(input_schema, Mapping) and input_schema:
            hits += self.scan_schema(input_schema, "request")
        else:
            hits += self.scan_schema(getattr(tool, "request_schema", None), "request")
        response_schemas = []
        responses = getattr(tool, "responses", None)
        if isinstance(responses, Mapping):
            for status, response in responses.items():
                if str(status).startswith("2") and isinstance(response, Mapping):
                    if isinstance(response.get("schema"), Mapping):
                        response_schemas.append(response["schema"])
        if not response_schemas and isinstance(getattr(tool, "output_schema", None), Mapping):
            response_schemas.append(tool.output_schema)
        for schema in response_schemas:
            hits += self.scan_schema(schema, "response")
        unique: dict[tuple[str, str], PiiHit] = {}
        for hit in hits:
            unique.setdefault((hit.where, hit.path), hit)
        return sorted(unique.values(), key=lambda h: (h.where != "request", h.path.count("."), h.path))

    # -- walking --------------------------------------------------------------------------
    def _walk(
        self, node: Any, roots: tuple[Any, ...], person: bool, card: bool | str, depth: int
    ) -> tuple[tuple[str, str], ...]:
        target, ref_name = deref(node, roots)
        if target is None:
            return ()
        own = _context_words(ref_name, target.get("title"))
        person = person or bool(own & rules.PERSON_CONTEXT_WORDS)
        card = card or _card_context(own)
        key = (id(target), person, card, depth)
        cached = self._memo.get(key)
        if cached is not None:
            return cached[0]
        if id(target) in self._in_progress:
            return ()
        self._in_progress.add(id(target))
        try:
            found = self._walk_uncached(target, roots, person, card, depth)
        finally:
            self._in_progress.discard(id(target))
        self._memo[key] = (found, target)
        return found

    def _walk_uncached(
        self, target: dict[str, Any], roots: tuple[Any, ...], person: bool, card: bool | str, depth: int
    ) -> tuple[tuple[str, str], ...]:
        out: dict[str, str] = {}
        for key in ("allOf", "anyOf", "oneOf"):
            branches = target.get(key)
            if isinstance(branches, list):
                for branch in branches:
                    out.update(self._walk(branch, roots, person, card, depth))
        props = target.get("properties")
        if isinstance(props, Mapping):
            for name, sub in props.items():
                if len(out) >= self.max_hits:
                    break
                sub_target, _ = deref(sub, roots)
                if sub_target is None:
                    continue
                kind = field_pii_kind(name, sub_target, person=person, card=card)
                if kind:
                    out.setdefault(f".{name}", kind)
                is_object = bool(schema_types(sub_target) & {"object"}) or "properties" in sub_target
                if kind in _OBJECT_KINDS and is_object:
                    continue  # "billingAddress": {...} is reported once, not street by street
                if depth < self.max_depth:
                    words = set(rules.split_words(str(name)))
                    child_person = bool(words & rules.PERSON_CONTEXT_WORDS)
                    child_card = _card_context(words)
                    for suffix, sub_kind in self._walk(sub_target, roots, child_person, child_card, depth + 1):
                        out.setdefault(f".{name}{suffix}", sub_kind)
        items = target.get("items")
        if isinstance(items, Mapping) and depth < self.max_depth:
            for suffix, kind in self._walk(items, roots, person, card, depth + 1):
                out.setdefault(f"[]{suffix}", kind)
        extra = target.get("additionalProperties")
        if isinstance(extra, Mapping) and depth < self.max_depth:
            for suffix, kind in self._walk(extra, roots, person, card, depth + 1):
                out.setdefault(f".*{suffix}", kind)
        return tuple(list(out.items())[: self.max_hits])


def find_pii(tool: ToolDef, *, scanner: PiiScanner | None = None) -> list[dict[str, str]]:
    """``[{"path", "kind", "where"}]`` for one tool (convenience wrapper over ``PiiScanner``)."""
    return [hit.to_dict() for hit in (scanner or PiiScanner()).scan_tool(tool)]


def summarize_kinds(hits: list[PiiHit] | list[dict[str, str]], where: str) -> list[str]:
    """Distinct kinds found on one side, in first-seen order ("email, phone")."""
    kinds: list[str] = []
    for hit in hits:
        h_where = hit["where"] if isinstance(hit, dict) else hit.where
        h_kind = hit["kind"] if isinstance(hit, dict) else hit.kind
        if h_where == where and h_kind not in kinds:
            kinds.append(h_kind)
    return kinds
