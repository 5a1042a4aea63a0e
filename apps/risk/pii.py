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


#: Kinds the scanner reports that are secrets, not data about a person: shown to reviewers,
#: but not a "personal data" flag (docs/labelling-guide.md).
NON_PERSONAL_KINDS = frozenset({"credential"})


def is_personal(kind: str) -> bool:
    """True when a hit of ``kind`` is personal data (a password or API key is a secret, not PII)."""
    return kind not in NON_PERSONAL_KINDS


#: Nested objects whose personal fields belong to the operation's subject rather than to a
#: passing reference: a shopper's payment method or account info, a card, a bank account.
_SUBJECT_CONTAINER_WORDS = frozenset({"card", "cards", "bank", "shopper", "holder", "cardholder", "customer", "payer"})
_SUBJECT_CONTAINER_NAMES = frozenset({"paymentmethod", "accountinfo", "storedpaymentmethods", "shoppername"})
#: Path words meaning the operation is *about* people (membership, users, invitations): there,
#: a nested ``user`` / ``invitee`` / ``accessible_by`` object is the subject, not a reference.
PEOPLE_PATH_WORDS = frozenset(
    {"user", "users", "member", "members", "membership", "memberships", "collaborator", "collaborators",
     "invitation", "invitations", "invitee", "people", "person", "contact", "contacts", "customer",
     "customers", "shopper", "participant", "participants", "recipient", "recipients", "employee",
     "employees", "follower", "followers"}
)  # fmt: skip
_PERSON_CONTAINER_WORDS = frozenset({"user", "users", "invitee", "accessible", "member", "members", "person"})
PEOPLE_PATH_WORDS = PEOPLE_PATH_WORDS | {"collaboration", "collaborations"}
#: Resources that are themselves messages/comments: their text fields are message content.
MESSAGE_PATH_WORDS = frozenset({"message", "messages", "comment", "comments", "sms", "chat", "reply", "replies"})
_MESSAGE_FIELDS = frozenset({"body", "content", "text", "richtext", "message", "bodytext", "messagetext"})
#: Objects that are organisations or things, not people: their ``email`` / ``name`` is a
#: contact or label of the thing (GitHub organisation email, Box folder upload email).
_THING_CONTEXT_WORDS = frozenset(
    {"organization", "organisation", "org", "company", "merchant", "business", "enterprise", "team",
     "repository", "repo", "repos", "orgs", "folder", "file", "project", "workspace"}
)  # fmt: skip


@dataclass(frozen=True)
class PersonalData:
    """The PII verdict for one tool: ``flagged`` is what the operation carries or returns about
    people; ``incidental`` are hits in passing references (``created_by.login``, a repository's
    ``owner``), deep optional sub-schemas or path identifiers, reported but not flagged."""

    flagged: list[PiiHit]
    incidental: list[PiiHit]
    evidence: list[str]


def _segments(hit: PiiHit) -> list[str]:
    """``response.entries[].created_by.login`` -> ["entries[]", "created_by", "login"];
    ``response[].email`` -> ["email"] (the top-level array is the list itself)."""
    path = hit.path.split(".", 1)[1] if "." in hit.path else ""
    return [seg for seg in path.split(".") if seg]


def _container_is_subject(name: str, about_people: bool) -> bool:
    words = set(rules.split_words(name.replace("[]", "")))
    if words & _SUBJECT_CONTAINER_WORDS or "".join(rules.split_words(name)) in _SUBJECT_CONTAINER_NAMES:
        return True
    if about_people and words & _PERSON_CONTAINER_WORDS:
        return True
    return any(w.endswith("s") and rules.PII_WORDS.get(w[:-1]) for w in words)  # "emails": [{"email": ...}]


_LIST_WRAPPERS = frozenset({"entries", "items", "data", "results", "records", "values", "elements", "list"})


def _is_list_wrapper(segment: str, path_words: set[str]) -> bool:
    """``entries[]`` / ``items[]``, or a list named after the path's resource (Twilio's
    ``incoming_phone_numbers[]`` under ``/IncomingPhoneNumbers``): the list *is* the response."""
    words = set(rules.split_words(segment.replace("[]", "")))
    if words and words <= _LIST_WRAPPERS:
        return True
    singular = {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}
    return bool(words) and singular <= path_words | {w[:-1] for w in path_words if w.endswith("s")}


def _top_words(schema: Any, document: Any) -> set[str]:
    """Words of the ref name / title of a schema's top object (or of its items, for a list)."""
    roots: tuple[Any, ...] = (schema,) if document is None else (schema, document)
    target, name = deref(schema, roots)
    if target is not None and "array" in schema_types(target) and isinstance(target.get("items"), Mapping):
        target, name = deref(target["items"], roots)
    if target is None:
        return set()
    return _context_words(name, target.get("title"))


def personal_data(tool: ToolDef, hits: list[PiiHit], *, document: Any = None) -> PersonalData:
    """Split the scanner's hits into flagged personal data and incidental mentions.

    Flagged: a personal field sent or returned directly (``shopperEmail``, ``response[].email``,
    ``entries[].phone``), or inside an object that is the subject (a payment method, a card, the
    ``user`` of a membership).  Not flagged: path parameters (``/users/{username}`` names whom the
    call targets, it carries no data about them); people reached through references on a thing
    (``created_by``, ``owner``, ``assignee``); fields of a thing (an organisation's email, a
    folder's upload address); phone numbers and IP addresses that *are* the resource (numbers for
    sale, an IP allow-list).  When a read about people or messages declares no response schema
    (Notion ``GET /v1/users``), the path is the evidence.  Message/comment resources flag their
    text fields (``body``, ``content``, ``rich_text``) as message content.
    """
    words = _path_words(str(getattr(tool, "path", "") or ""))
    about_people = bool(words & PEOPLE_PATH_WORDS)
    method = str(getattr(tool, "method", "") or "").upper()
    arg_map = tool.arg_map if isinstance(tool.arg_map, Mapping) else {}
    path_args: set[str] = set()
    for key, mapping in arg_map.items():
        if isinstance(mapping, Mapping) and mapping.get("in") == "path":
            path_args |= {str(key), str(mapping.get("name", key))}
    inventory: set[str] = set()
    if {"phone", "number"} <= words:
        inventory |= {"phone", "address"}  # numbers for sale / owned: the number is the resource
    if {"ip", "address"} <= words or {"access", "control"} <= words:
        inventory.add("ip_address")
    response = _first_response(tool)
    thing_side: set[str] = set()
    last = _last_literal_words(str(getattr(tool, "path", "") or ""))
    if not about_people:
        if last & _THING_CONTEXT_WORDS:  # the resource itself is the thing (PATCH /orgs/{org})
            thing_side.add("request")
        for where, schema in (("request", tool.request_schema), ("response", response)):
            top = _top_words(schema, document) if isinstance(schema, Mapping) else set()
            if top & _THING_CONTEXT_WORDS and not top & rules.PERSON_CONTEXT_WORDS:
                thing_side.add(where)
    flagged: list[PiiHit] = []
    incidental: list[PiiHit] = []
    for hit in hits:
        segs = _segments(hit)
        if not hit.path.startswith(f"{hit.where}[]") and len(segs) > 1 and segs[0].endswith("[]"):
            if segs[0] == "body[]" or (hit.where == "response" and _is_list_wrapper(segs[0], words)):
                segs = segs[1:]  # a list response's items ("entries[]", "usage_records[]") or a list body
        direct = len(segs) <= 1
        if hit.kind in inventory or (hit.where == "request" and direct and segs and segs[0] in path_args):
            incidental.append(hit)
        elif direct and hit.where in thing_side:
            incidental.append(hit)
        elif all(_container_is_subject(c, about_people) for c in segs[:-1]):
            flagged.append(hit)
        else:
            incidental.append(hit)
    evidence: list[str] = []
    if MESSAGE_PATH_WORDS & words:
        for where, schema in (("request", tool.input_schema), ("response", response)):
            props = schema.get("properties") if isinstance(schema, Mapping) else None
            if isinstance(props, Mapping):
                for name in props:
                    if "".join(rules.split_words(str(name))) in _MESSAGE_FIELDS:
                        flagged.append(PiiHit(f"{where}.{name}", "message_content", where))
                        evidence.append(f"{where} field '{name}' of a message/comment resource: message content")
    if not flagged and method == "GET" and response is None:
        if last & PEOPLE_PATH_WORDS:
            flagged.append(PiiHit("response", "person", "response"))
            evidence.append("returns people (path names users/members; no response schema declared)")
        elif MESSAGE_PATH_WORDS & last:
            flagged.append(PiiHit("response", "message_content", "response"))
            evidence.append("returns messages/comments (no response schema declared)")
    if incidental and not flagged:
        refs = sorted({".".join(_segments(h)[:1]) or h.where for h in incidental})[:3]
        where = ", ".join(refs)
        evidence.append(f"personal fields only in references, identifiers or things ({where}): not flagged")
    return PersonalData(flagged, incidental, evidence)


def _first_response(tool: ToolDef) -> Mapping[str, Any] | None:
    responses = tool.responses if isinstance(tool.responses, Mapping) else {}
    for status, resp in responses.items():
        if str(status).startswith("2") and isinstance(resp, Mapping) and isinstance(resp.get("schema"), Mapping):
            return resp["schema"]
    return tool.output_schema if isinstance(tool.output_schema, Mapping) and tool.output_schema else None


def _last_literal_words(path: str) -> set[str]:
    segs = [seg for seg in path.split("?", 1)[0].replace("#", "/").split("/") if seg and "{" not in seg]
    return set(rules.split_words(segs[-1])) if segs else set()


def _path_words(path: str) -> set[str]:
    path = path.split("?", 1)[0].replace("#", "/")
    words = {w for seg in path.split("/") if seg and "{" not in seg for w in rules.split_words(seg)}
    return words | {w[:-1] for w in words if w.endswith("s") and len(w) > 3}  # "Numbers" -> "number"


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
