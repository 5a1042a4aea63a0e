"""Every rule the risk classifier applies, as data, in one place.

The classifier (``classify.py``) is deliberately dumb plumbing: it tokenises an
operation (path, operationId, summary, tags, extensions, schemas) and looks the
tokens up in the tables below.  To teach MCPForge a new word, add it to a table
here; every table entry carries the reason shown to the security team.

Vocabulary used throughout:

* **category** - the primary class of a tool: ``read_only``, ``side_effect``,
  ``critical`` (irreversible/destructive), ``administrative`` (identity, access,
  credentials, org settings, compliance), ``billing`` (money).
* **domain tags** - ``billing`` / ``administrative`` are *what the tool touches*
  (a GET that lists refunds is read-only but tagged billing); ``critical`` is
  *what the tool does* (destroys, revokes, moves money).  A write's primary
  category is the most specific of billing > administrative > critical >
  side_effect; the others stay as secondary tags.

Matching is on whole words after splitting camelCase/snake_case and mapping
inflections back to a base form ("Refunds", "refunded" -> "refund"), never on
raw substrings, so "priceList" is not "price" + "list" by accident of text but
by tokens, and "filename" never matches "name".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# ---------------------------------------------------------------------------
# Categories, levels, scores
# ---------------------------------------------------------------------------

READ_ONLY = "read_only"
SIDE_EFFECT = "side_effect"
CRITICAL = "critical"
ADMINISTRATIVE = "administrative"
BILLING = "billing"
CATEGORIES = (READ_ONLY, SIDE_EFFECT, CRITICAL, ADMINISTRATIVE, BILLING)

#: Which category wins as the primary one for a side-effecting tool, most specific first.
#: A refund is "billing" (tagged critical); deleting a user is "administrative" (tagged critical).
WRITE_CATEGORY_PRECEDENCE = (BILLING, ADMINISTRATIVE, CRITICAL, SIDE_EFFECT)

#: Categories that must never be rated ``low``, whether primary or secondary (tags).
SENSITIVE_CATEGORIES = frozenset({BILLING, ADMINISTRATIVE, CRITICAL})

RISK_LEVELS = ("low", "medium", "high", "critical")

#: Base risk score of the primary category (0-100 scale).
CATEGORY_BASE_SCORE: dict[str, int] = {
    READ_ONLY: 5,
    SIDE_EFFECT: 35,
    CRITICAL: 60,
    ADMINISTRATIVE: 60,
    BILLING: 60,
}

#: Added when a category is present as a secondary tag (not the primary category).
TAG_BONUS: dict[str, int] = {CRITICAL: 20, BILLING: 15, ADMINISTRATIVE: 15}

#: Extra points for other signals; each one is also a line in ``reasons``.
SIGNAL_BONUS: dict[str, int] = {
    "pii_read": 20,  # a read-only tool returning personal data: exfiltration risk
    "pii_read_sensitive": 10,  # ... card / national id / bank / passport / tax / birth date / credential
    "pii_write": 5,  # a write handling personal data (in or out)
    "pii_write_sensitive": 5,
    "open_world": 10,  # reaches people/hosts beyond the upstream API (SMS, calls, URLs)
    "permanent": 10,  # "permanently", "irreversible", "cannot be undone"
    "bulk": 5,  # bulk / batch operations
}

#: "critical" is reserved for tools that destroy or move money: anything else tops out at "high".
NON_DESTRUCTIVE_CEILING = 74

#: Minimum score per condition, so that e.g. a billing read is never "low".
SCORE_FLOOR: dict[str, int] = {
    "sensitive_tag": 25,  # any billing / administrative / critical category or tag -> >= medium
    "pii_read": 25,  # read-only tool returning PII -> >= medium
    "critical_write": 55,  # destructive write -> >= high
    "money_movement": 80,  # moves money (refund, capture, payment, payout...) -> critical
    "admin_destructive": 75,  # destroys identities / credentials / access -> critical
}

#: score >= threshold -> level (checked from the top).
LEVEL_THRESHOLDS: tuple[tuple[int, str], ...] = ((75, "critical"), (50, "high"), (25, "medium"), (0, "low"))


def risk_level_for(score: int) -> str:
    """Map a 0-100 score to low/medium/high/critical using ``LEVEL_THRESHOLDS``."""
    for threshold, level in LEVEL_THRESHOLDS:
        if score >= threshold:
            return level
    return "low"


# ---------------------------------------------------------------------------
# Tokenising
# ---------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@lru_cache(maxsize=65536)
def split_words(text: str) -> tuple[str, ...]:
    """Split an identifier or a sentence into lower-case words.

    ``getPaymentMethods`` -> get, payment, methods; ``shopperIP`` -> shopper, ip;
    ``post_oauth2_token#refresh`` -> post, oauth, 2, token, refresh.
    """
    text = text.replace("OAuth", "Oauth").replace("oAuth", "oauth")
    return tuple(t.lower() for t in _TOKEN_RE.findall(text))


def _inflections(word: str) -> set[str]:
    """Regular English inflections of a base word (plural, 3rd person, past, gerund)."""
    forms = {word + "s", word + "ed", word + "ing"}
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms |= {word + "es"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}  # stop -> stopped, cancel -> cancelled
    return forms


# ---------------------------------------------------------------------------
# Verbs: what an operation *does*
# ---------------------------------------------------------------------------

#: Verbs meaning "only reads".  A POST whose action verb is one of these (and which
#: shows no write signal at all) is read-only: POST /search, Adyen "Get a list of
#: available payment methods", Box "execute_read".  "return" is intentionally absent
#: (POST /orders/{id}/return is a refund-like write).
READ_VERBS = frozenset(
    {
        "get", "list", "find", "search", "query", "fetch", "retrieve", "read", "lookup", "show",
        "view", "describe", "check", "validate", "verify", "count", "download", "preview",
        "calculate", "estimate", "browse", "inspect", "poll", "compare", "filter", "explain",
        "autocomplete", "suggest", "look",
    }
)  # fmt: skip

#: Nouns that, as the last path segment of a POST, denote a read (POST /search, /query).
READ_RESOURCE_NOUNS = frozenset(
    {"search", "query", "lookup", "list", "count", "find", "get", "preview", "estimate", "autocomplete",
     "suggestion", "typeahead", "read"}
)  # fmt: skip

#: Verbs meaning a non-destructive write.  "run" and "execute" are deliberately neutral:
#: Box's POST /metadata_queries/execute_read reads, POST /jobs/{id}/run is a write anyway (POST).
WRITE_VERBS = frozenset(
    {
        "create", "add", "update", "set", "put", "post", "patch", "modify", "edit", "upload", "send",
        "submit", "start", "restore", "copy", "move", "assign", "invite", "apply", "promote", "resend",
        "make", "place", "trigger", "approve", "reject", "publish", "import", "enable",
        "activate", "register", "subscribe", "unsubscribe", "login", "logout", "signin", "signout",
        "signup", "sign", "generate", "forward", "rename", "replace", "attach", "link", "merge", "mark",
        "schedule", "change", "issue", "grant", "accept", "confirm", "complete", "commit", "append",
        "force", "initiate", "invoke", "request", "book", "reserve", "save", "store", "write", "insert",
        "upsert", "provision", "install", "deploy", "lock", "unlock", "pin", "unpin", "share", "notify",
        "dequeue", "enqueue", "redirect", "refresh", "rotate", "regenerate", "reply", "follow",
        "unfollow", "mute", "archive", "unarchive", "exchange", "authenticate", "connect", "join",
        "leave", "pause", "resume", "retry", "reprocess", "sync", "transcribe", "dial",
        "checkin", "setup", "optin", "optout", "backup", "return", "reopen", "restart", "unblock",
        "authorize", "ask", "extract", "report",
    }
)  # fmt: skip


@dataclass(frozen=True)
class DestructiveVerb:
    """A verb whose effect cannot simply be undone; ``money`` when it moves money."""

    verb: str
    reason: str
    money: bool = False


#: Critical verbs: irreversible, destructive or money-moving.  ``money=True`` also
#: raises the risk floor to "critical" when the tool is billing-tagged.
DESTRUCTIVE_VERBS: dict[str, DestructiveVerb] = {
    v.verb: v
    for v in (
        DestructiveVerb("delete", "deletes data"),
        DestructiveVerb("remove", "removes data"),
        DestructiveVerb("purge", "purges data"),
        DestructiveVerb("erase", "erases data"),
        DestructiveVerb("destroy", "destroys a resource"),
        DestructiveVerb("wipe", "wipes data"),
        DestructiveVerb("shred", "shreds data"),
        DestructiveVerb("truncate", "truncates data"),
        DestructiveVerb("drop", "drops data"),
        DestructiveVerb("clear", "clears data"),
        DestructiveVerb("flush", "flushes data"),
        DestructiveVerb("discard", "discards data"),
        DestructiveVerb("trash", "moves content to the trash"),
        DestructiveVerb("overwrite", "overwrites data"),
        DestructiveVerb("cleanup", "cleans up data"),
        DestructiveVerb("revoke", "revokes access or credentials"),
        DestructiveVerb("invalidate", "invalidates credentials or sessions"),
        DestructiveVerb("expire", "expires access"),
        DestructiveVerb("terminate", "terminates sessions or processes"),
        DestructiveVerb("kill", "kills a process"),
        DestructiveVerb("abort", "aborts an operation"),
        DestructiveVerb("stop", "stops an in-flight process"),
        DestructiveVerb("cancel", "cancels an operation"),
        DestructiveVerb("close", "closes a resource"),
        DestructiveVerb("void", "voids a transaction"),
        DestructiveVerb("reset", "resets state"),
        DestructiveVerb("rollback", "rolls back state"),
        DestructiveVerb("disable", "disables a resource"),
        DestructiveVerb("deactivate", "deactivates a resource"),
        DestructiveVerb("suspend", "suspends a resource"),
        DestructiveVerb("ban", "bans an account"),
        DestructiveVerb("block", "blocks an account"),
        DestructiveVerb("kick", "removes a participant"),
        DestructiveVerb("unassign", "removes an assignment"),
        DestructiveVerb("unlink", "unlinks resources"),
        DestructiveVerb("detach", "detaches resources"),
        DestructiveVerb("uninstall", "uninstalls software"),
        DestructiveVerb("unpublish", "unpublishes content"),
        DestructiveVerb("decline", "declines irrevocably"),
        DestructiveVerb("transfer", "transfers ownership or funds"),
        DestructiveVerb("capture", "captures (charges) a payment", money=True),
        DestructiveVerb("refund", "refunds money", money=True),
        DestructiveVerb("reverse", "reverses a payment", money=True),
        DestructiveVerb("pay", "pays money", money=True),
        DestructiveVerb("charge", "charges money", money=True),
        DestructiveVerb("purchase", "spends money", money=True),
        DestructiveVerb("buy", "spends money", money=True),
        DestructiveVerb("withdraw", "withdraws funds", money=True),
        DestructiveVerb("payout", "pays money out", money=True),
        DestructiveVerb("disburse", "disburses funds", money=True),
        DestructiveVerb("donate", "donates money", money=True),
        DestructiveVerb("settle", "settles a payment", money=True),
        DestructiveVerb("debit", "debits an account", money=True),
    )
}

#: Verbs that move money only when the tool is about money (Stripe transfers vs Box folder transfers).
MONEY_IF_BILLING = frozenset({"transfer", "close"})

#: A POST that *creates* one of these is an action of that kind
#: (POST /payments/{id}/refunds refunds; POST /cancels cancels; POST /payments pays).
#: Noun -> the verb it stands for (looked up in DESTRUCTIVE_VERBS).
ACTION_NOUNS: dict[str, str] = {
    "refund": "refund",
    "capture": "capture",
    "cancel": "cancel",
    "cancellation": "cancel",
    "reversal": "reverse",
    "void": "void",
    "payment": "pay",
    "charge": "charge",
    "payout": "payout",
    "transfer": "transfer",
    "withdrawal": "withdraw",
    "disbursement": "disburse",
    "donation": "donate",
    "settlement": "settle",
    "debit": "debit",
    "purchase": "purchase",
    "revocation": "revoke",
    "termination": "terminate",
    "deletion": "delete",
    "removal": "remove",
    "deactivation": "deactivate",
    "suspension": "suspend",
    "closure": "close",
    "purge": "purge",
    "wipe": "wipe",
    "reset": "reset",
}

#: Words that, in a GET's action position, mean the GET changes state (GET /user/logout,
#: GET /auth.revoke, GET /confirm).  Matched only as the exact base word for path segments,
#: so GET /runs or GET /locks stays a read.
GET_STATE_VERBS = (
    frozenset(
        {
            "logout", "signout", "login", "signin", "revoke", "unsubscribe", "subscribe", "enable",
            "approve", "reject", "confirm", "activate", "create", "add", "update", "set", "send",
            "trigger", "unblock", "rotate", "reopen", "unlock", "lock", "start", "restart", "publish",
            "archive", "unarchive", "dequeue",
        }
    )
    | frozenset(DESTRUCTIVE_VERBS)
)  # fmt: skip

#: Two-word verbs in summaries ("Logs out", "Signs in", "Clean up").
PHRASAL_VERBS: dict[tuple[str, str], str] = {
    ("log", "out"): "logout",
    ("log", "in"): "login",
    ("log", "into"): "login",
    ("sign", "out"): "signout",
    ("sign", "in"): "signin",
    ("sign", "into"): "signin",
    ("sign", "up"): "signup",
    ("check", "in"): "checkin",
    ("check", "out"): "checkout",
    ("set", "up"): "setup",
    ("opt", "out"): "optout",
    ("opt", "in"): "optin",
    ("back", "up"): "backup",
    ("clean", "up"): "cleanup",
    ("wipe", "out"): "wipe",
    ("look", "up"): "lookup",
    ("pay", "out"): "payout",
}

#: Leading words skipped when looking for the first verb of a summary.
SUMMARY_SKIP_WORDS = frozenset(
    {"bulk", "batch", "permanently", "forcibly", "asynchronously", "async", "immediately", "also",
     "please", "this", "endpoint", "operation", "api", "will", "can", "you", "to", "securely", "a",
     "an", "the", "new", "safely", "directly", "partially", "fully"}
)  # fmt: skip

#: Words whose presence raises the score (and, for "permanent", means irreversible).
PERMANENT_WORDS = frozenset({"permanently", "permanent", "irreversible", "irreversibly", "irrevocably"})
PERMANENT_PHRASES = ("cannot be undone", "can not be undone", "can't be undone", "cannot be reversed")
BULK_WORDS = frozenset({"bulk", "batch", "mass"})

#: Verbs / nouns meaning the tool reaches people or hosts beyond the API (MCP openWorldHint).
OPEN_WORLD_VERBS = frozenset(
    {"send", "resend", "invite", "notify", "forward", "dial", "publish", "share", "reply", "redirect",
     "email", "message", "sms", "call"}
)  # fmt: skip
OPEN_WORLD_NOUNS = frozenset({"message", "sms", "mms", "email", "call", "fax", "notification", "webhook",
                              "invite", "invitation", "sign"})  # fmt: skip

# ---------------------------------------------------------------------------
# Nouns: what an operation *touches* (domain tags)
# ---------------------------------------------------------------------------

#: How much a match counts depending on where it was found.  A tag is assigned when the
#: weighted evidence reaches 1.0, so a plain keyword (weight 1.0) needs the path's last
#: segment or the operationId; a strong one (2.0) also triggers from the summary or a tag.
SOURCE_FACTOR: dict[str, float] = {
    "path": 1.0,  # the resource segment (last literal path segment / fragment)
    "operation": 1.0,  # operationId (and x-methodName) words
    "scope": 0.5,  # parent path segments (/payments/{id}/refunds -> "payments")
    "summary": 0.6,
    "tag": 0.5,  # OpenAPI tags
    "description": 0.5,  # the description's opening (first ~300 characters)
    "schema": 1.0,  # request-body field names (amount, currency ...)
}
TAG_THRESHOLD = 1.0


@dataclass(frozen=True)
class KeywordRule:
    """One domain keyword: ``phrase`` (1-3 base words) -> ``category`` with a weight and a reason.

    ``scope_ok`` lets the keyword count when it only appears in a parent path segment:
    ``/payments/{id}/refunds`` is billing through "payments", but
    ``/Accounts/{AccountSid}/Calls`` (Twilio) must not become administrative through "accounts".
    ``name_only`` keywords count only in the path's resource segment or the operationId:
    Stripe's ``/transfers`` is billing, Box's summary "Transfer owned folders" is not.
    ``prose_ok`` keywords also count in the description: "Cancellation of an order results in
    a rollback of all payments" makes Adyen's /orders/cancel billing, whereas Adyen descriptions
    that mention "webhook" or "certificate" in passing must not make a capture administrative.
    """

    phrase: tuple[str, ...]
    category: str
    weight: float
    reason: str
    scope_ok: bool = False
    name_only: bool = False  # only in the path's last segment or the operationId (homonyms in prose)
    prose_ok: bool = False  # also counts in the description's opening (strong, unambiguous words only)


def _rules(
    category: str,
    weight: float,
    reason: str,
    words: str,
    *,
    scope_ok: bool = False,
    name_only: bool = False,
    prose_ok: bool = False,
) -> list[KeywordRule]:
    return [
        KeywordRule(tuple(w.split("_")), category, weight, reason, scope_ok, name_only, prose_ok) for w in words.split()
    ]


#: Reason of the organisation/account container words: on a destructive operation they do not make
#: it administrative by themselves (deleting an organisation destroys its data: critical), see
#: ``classify._primary_category``.
ORG_CONTAINER_REASON = "organisations and accounts"

#: "Billing means money moves or what is charged changes": words of a resource, operationId or
#: summary that name what is charged (a write on them is billing), as opposed to payment
#: *instruments* (a stored card, a payment method), whose writes are side effects or critical.
CHARGE_WORDS = frozenset(
    {"subscription", "seat", "budget", "invoice", "price", "pricing", "fee", "coupon", "discount", "charge",
     "payment", "payout", "refund", "capture", "donation", "checkout", "purchase", "donate", "pay"}
)  # fmt: skip
#: ... unless followed by one of these ("payment method", "payment details" are instruments).
CHARGE_WORD_NOT_BEFORE = frozenset({"method", "detail", "instrument", "token", "validation", "source"})
#: Request fields that only describe an object: an update sending nothing else to an existing
#: billing object (a payout's metadata) changes no charge.
METADATA_FIELDS = frozenset(
    {"metadata", "description", "name", "friendlyname", "nickname", "tags", "labels", "note", "notes", "memo",
     "displayname", "title", "expand"}
)  # fmt: skip
#: Destructive verbs that change a charge when the tool is about money (cancel an authorisation,
#: void a payment, expire a payment link); "transfer" only when it creates a /transfers resource.
CHARGE_CHANGE_VERBS = frozenset({"cancel", "void", "close", "expire", "reverse"})
#: A summary "Remove X from Y" / "Unassign X from Y" takes an association away: reversible,
#: when X is one of ``REVERSIBLE_REMOVAL_OBJECTS`` (a label, a member, a watermark - not a
#: metadata instance or a comment, whose content is lost).
REVERSIBLE_REMOVAL_VERBS = frozenset({"remove", "unassign", "detach", "unlink"})
REVERSIBLE_REMOVAL_OBJECTS = frozenset(
    {"label", "tag", "user", "member", "collaborator", "assignee", "reviewer", "participant", "watermark",
     "star", "pin", "reaction", "topic", "assignment", "domain", "photo", "image", "group", "team"}
)  # fmt: skip

#: The domain keyword table.  Multi-word phrases are written with underscores.
KEYWORD_RULES: tuple[KeywordRule, ...] = tuple(
    # -- billing: money, payment instruments, prices ------------------------------------
    _rules(
        BILLING,
        2.0,
        "money movement / payments",
        "payment refund payout invoice billing charge "
        "capture donation paypal pay_pal pay checkout purchase reversal chargeback dispute settlement "
        "disbursement withdrawal remittance",
        scope_ok=True,
        prose_ok=True,
    )
    + _rules(
        BILLING,
        2.0,
        "payment instruments",
        "credit_card debit_card gift_card payment_card card_detail bank_account iban wallet payment_method",
        scope_ok=True,
        prose_ok=True,
    )
    + _rules(
        BILLING,
        1.0,
        "prices, balances and ledgers",
        "price pricing cost fee balance credit debit ledger transaction subscription coupon discount financial finance",
    )
    + _rules(BILLING, 1.0, "money amounts and transfers", "transfer tax amount currency usage_record", name_only=True)
    # -- administrative: identity, access, credentials, org settings, compliance ---------
    + _rules(
        ADMINISTRATIVE,
        2.0,
        "administration",
        "admin administrator administration superuser impersonate impersonation",
        scope_ok=True,  # not prose: "must be an administrator" says who may call, not what it touches
    )
    + _rules(
        ADMINISTRATIVE,
        2.0,
        "roles and permissions",
        "role permission privilege acl "
        "access_control access_grant access_policy allowlist whitelist blocklist blacklist "
        "collaboration collaborator shield_information_barrier information_barrier",
        scope_ok=True,
    )
    + _rules(
        ADMINISTRATIVE,
        2.0,
        "credentials and secrets",
        "api_key apikey password passwd credential "
        "secret signing_key private_key client_secret certificate mfa totp sso saml scim ldap "
        "oauth access_token refresh_token terminate_session",
        scope_ok=True,
    )
    + _rules(
        ADMINISTRATIVE,
        2.0,
        "compliance and governance",
        "legal_hold retention_policy retention storage_policy device_pinner compliance audit_log",
        scope_ok=True,
    )
    + _rules(ADMINISTRATIVE, 2.0, "webhook configuration", "webhook", scope_ok=True)
    + _rules(
        ADMINISTRATIVE,
        1.0,
        "users, groups and memberships",
        "user group membership member team invite invitation email_alias employee",
    )
    + _rules(
        ADMINISTRATIVE, 1.0, ORG_CONTAINER_REASON, "enterprise organization org tenant workspace account subaccount"
    )
    + _rules(ADMINISTRATIVE, 2.0, "app installations (grant an app access)", "installation", scope_ok=True)
    + _rules(
        ADMINISTRATIVE,
        1.0,
        "authentication and sessions",
        "login logout signin signout "
        "authenticate authorize authorization auth token key session_termination "
        "terms_of_service integration_mapping security setting configuration",
    )
    + _rules(ADMINISTRATIVE, 1.0, "access grants", "shared_link share_link")
)

#: Token bigrams that cancel a keyword match in the same source ("user defined message"
#: is not user management; a "message subscription" is not a billing subscription).
EXCLUDED_PHRASES: frozenset[tuple[str, str]] = frozenset(
    {
        ("user", "define"), ("user", "defined"), ("user", "agent"), ("message", "subscription"),
        ("event", "subscription"), ("webhook", "subscription"), ("user", "status"),
        ("next", "token"), ("page", "token"), ("continuation", "token"), ("sync", "token"),
        ("template", "key"), ("taxonomy", "key"), ("field", "key"), ("idempotency", "key"),
        ("sort", "key"), ("partition", "key"), ("cache", "key"), ("upload", "session"),
        ("skill", "card"), ("skills", "card"), ("box", "skill"),
        ("secret", "scanning"),  # a secret-scanning alert is a finding, not a secret
        ("admin", "access"), ("admin", "permission"), ("admin", "right"), ("admin", "level"),  # who may call
    }
)  # fmt: skip

#: Resource nouns that are billing only when their schemas carry money fields
#: ("orders with amounts"): Adyen /orders yes, the Petstore order (quantity, shipDate) no.
ORDER_NOUNS = frozenset({"order", "cart", "basket", "booking", "reservation", "quote"})

#: Request/response field names (as words) that denote money (Adyen "amount": {currency, value}).
MONEY_FIELD_WORDS = frozenset({"price", "currency", "cost", "fee", "subtotal"})
#: "amount" is money alone or with one of these qualifiers - Box's ``space_amount`` is storage.
MONEY_AMOUNT_QUALIFIERS = frozenset(
    {"total", "charge", "payment", "refund", "capture", "tax", "order", "invoice", "gross", "net",
     "authorised", "authorized", "due", "paid", "discount", "fee", "transaction", "transfer", "payout",
     "balance", "credit", "debit", "min", "max", "original", "requested", "split", "settlement"}
)  # fmt: skip


def is_money_field(name: str) -> bool:
    """True for ``amount``, ``totalAmount``, ``price``, ``currency`` - not ``space_amount``."""
    words = split_words(name)
    if not words:
        return False
    if set(words) & MONEY_FIELD_WORDS:
        return True
    if words[-1] == "amount":
        return len(words) == 1 or words[-2] in MONEY_AMOUNT_QUALIFIERS
    return False


#: Nouns which, as the resource of a POST, block the "it only reads" conclusion:
#: POST /token "Get an access token" mints a credential.
CREDENTIAL_NOUNS = frozenset(
    {"token", "key", "apikey", "credential", "password", "secret", "login", "signin", "session_token",
     "certificate", "otp"}
)  # fmt: skip

#: Parameter names whose enum values are actions (GET /items?action=delete).
ACTION_PARAM_NAMES = frozenset({"action", "op", "operation", "cmd", "command", "do", "verb", "method_name"})

# ---------------------------------------------------------------------------
# Vendor extensions
# ---------------------------------------------------------------------------

#: Extensions that may declare a tool read-only.  They are *hints*: honoured to turn a
#: POST into a read, never to downgrade DELETE/PUT/PATCH or anything with a destructive,
#: money-moving or credential signal (a spec may be wrong or hostile).
READ_ONLY_EXTENSIONS = ("x-mcp-readonly", "x-mcp-read-only", "x-readonly", "x-read-only")
DESTRUCTIVE_EXTENSIONS = ("x-mcp-destructive", "x-destructive")
IDEMPOTENT_EXTENSIONS = ("x-mcp-idempotent", "x-idempotent")
#: OpenAI GPT Actions flag: true = needs confirmation (a write); false = safe to run.
CONSEQUENTIAL_EXTENSION = "x-openai-isConsequential"
#: Extensions naming a category directly (raise-only): "billing", "administrative", "critical".
CATEGORY_EXTENSIONS = ("x-mcp-category", "x-mcp-risk-category", "x-risk-category")
#: Extensions whose truthy value means "only admins may call this" (Box: x-box-requires-admin).
ADMIN_EXTENSION_MARKERS = ("requires-admin", "admin-only", "x-admin")

# ---------------------------------------------------------------------------
# Lexicon: inflected form -> base word, built once from the tables above
# ---------------------------------------------------------------------------


def _build_lexicon() -> dict[str, str]:
    bases: set[str] = set()
    bases |= READ_VERBS | WRITE_VERBS | set(DESTRUCTIVE_VERBS) | set(ACTION_NOUNS) | READ_RESOURCE_NOUNS
    bases |= ORDER_NOUNS | MONEY_FIELD_WORDS | OPEN_WORLD_NOUNS | OPEN_WORLD_VERBS | CREDENTIAL_NOUNS
    bases |= {
        "log",
        "sign",
        "check",
        "opt",
        "back",
        "clean",
        "detail",
        "method",
        "session",
        "link",
        "policy",
        "assignment",
        "alias",
        "address",
        "status",
        "define",
        "membership",
    }
    for rule in KEYWORD_RULES:
        bases |= set(rule.phrase)
    lexicon: dict[str, str] = {}
    for base in sorted(bases):
        for form in _inflections(base):
            lexicon.setdefault(form, base)
    # irregular forms
    lexicon.update(
        {
            "users": "user",
            "people": "person",
            "statuses": "status",
            "aliases": "alias",
            "addresses": "address",
            "logged": "log",
            "logs": "log",
            "paid": "pay",
            "bought": "buy",
            "sent": "send",
            "made": "make",
            "set": "set",
            "settings": "setting",
            "details": "detail",
            "me": "me",
        }
    )
    for base in bases:  # a base word always maps to itself ("setting" is not "set")
        lexicon[base] = base
    return lexicon


LEXICON: dict[str, str] = _build_lexicon()


def lemma(word: str) -> str:
    """Base form of a lower-case word when known ("refunds" -> "refund"), else the word."""
    return LEXICON.get(word, word)


#: phrase -> rules, for O(1) lookup of unigram/bigram/trigram matches.
RULES_BY_PHRASE: dict[tuple[str, ...], tuple[KeywordRule, ...]] = {}
for _rule in KEYWORD_RULES:
    RULES_BY_PHRASE[_rule.phrase] = RULES_BY_PHRASE.get(_rule.phrase, ()) + (_rule,)
MAX_PHRASE_LEN = max(len(p) for p in RULES_BY_PHRASE)

# ---------------------------------------------------------------------------
# PII: field names carrying personal data (used by pii.py)
# ---------------------------------------------------------------------------

#: Kinds considered *sensitive* personal data: they raise the risk score further.
SENSITIVE_PII_KINDS = frozenset(
    {"card_number", "card_cvc", "national_id", "passport", "tax_id", "bank_account", "date_of_birth",
     "credential"}
)  # fmt: skip

#: JSON-schema ``format`` values that are personal data by themselves.
PII_FORMATS: dict[str, str] = {
    "email": "email",
    "idn-email": "email",
    "phone": "phone",
    "phone-number": "phone",  # Twilio
    "tel": "phone",
    "ipv4": "ip_address",
    "ipv6": "ip_address",
}

#: Exact field names (lower-cased, separators removed) -> kind.  Checked first.
PII_EXACT_NAMES: dict[str, str] = {
    "ssn": "national_id", "socialsecuritynumber": "national_id", "socialsecurity": "national_id",
    "nationalid": "national_id", "nationalidentifier": "national_id", "nationalidnumber": "national_id",
    "nin": "national_id", "personalidentificationnumber": "national_id", "idcardnumber": "national_id",
    "passport": "passport", "passportnumber": "passport", "passportno": "passport",
    "taxid": "tax_id", "taxnumber": "tax_id", "tin": "tax_id", "vatnumber": "tax_id",
    "taxidentificationnumber": "tax_id", "ein": "tax_id",
    "iban": "bank_account", "bankaccount": "bank_account", "bankaccountnumber": "bank_account",
    "accountnumber": "bank_account", "routingnumber": "bank_account", "sortcode": "bank_account",
    "cardnumber": "card_number", "pan": "card_number", "primaryaccountnumber": "card_number",
    "encryptedcardnumber": "card_number", "creditcardnumber": "card_number", "ccnumber": "card_number",
    "cvc": "card_cvc", "cvv": "card_cvc", "cvv2": "card_cvc", "cvc2": "card_cvc",
    "securitycode": "card_cvc", "encryptedsecuritycode": "card_cvc", "cardsecuritycode": "card_cvc",
    "dob": "date_of_birth", "dateofbirth": "date_of_birth", "birthdate": "date_of_birth",
    "birthday": "date_of_birth", "birthdateiso": "date_of_birth",
    "gender": "gender", "sex": "gender",
    "username": "username", "screenname": "username", "userlogin": "username",
    "ip": "ip_address", "ipaddress": "ip_address", "shopperip": "ip_address", "clientip": "ip_address",
    "remoteip": "ip_address", "remoteaddr": "ip_address", "remoteaddress": "ip_address",
    "password": "credential", "passwd": "credential", "secret": "credential", "clientsecret": "credential",
    "apikey": "credential", "privatekey": "credential", "accesstoken": "credential",
    "refreshtoken": "credential", "authtoken": "credential", "apitoken": "credential",
    "sessiontoken": "credential", "idtoken": "credential", "pin": "credential", "pincode": "credential",
    "email": "email", "emailaddress": "email", "mail": "email",
    "phone": "phone", "phonenumber": "phone", "telephone": "phone", "mobilenumber": "phone",
    "mobilephone": "phone", "cellphone": "phone", "msisdn": "phone", "faxnumber": "phone",
    "firstname": "name", "lastname": "name", "fullname": "name", "givenname": "name",
    "familyname": "name", "middlename": "name", "maidenname": "name", "surname": "name",
    "legalname": "name", "nickname": "name", "holdername": "name", "cardholdername": "name",
    "accountholdername": "name", "infix": "name",
    "address": "address", "streetaddress": "address", "street": "address", "postalcode": "address",
    "postcode": "address", "zip": "address", "zipcode": "address", "housenumber": "address",
    "housenumberorname": "address", "addressline": "address", "addressline1": "address",
    "addressline2": "address", "billingaddress": "address", "deliveryaddress": "address",
    "shippingaddress": "address", "homeaddress": "address", "mailingaddress": "address",
}  # fmt: skip

#: Words that make a field *not* personal data even if it contains a PII word:
#: ``email_template_id``, ``emailEnabled``, ``phone_number_sid``, ``address_requirements``.
PII_EXCLUDE_WORDS = frozenset(
    {"id", "ids", "sid", "uuid", "template", "enabled", "disabled", "verified", "verification", "notify",
     "notification", "notifications", "count", "type", "format", "setting", "settings", "status", "flag",
     "allowed", "required", "requirement", "requirements", "url", "uri", "link", "domain", "hash",
     "hashed", "masked", "policy", "preference", "preferences", "visibility", "visible", "length",
     "max", "min", "pattern", "regex", "valid", "validation", "language", "locale", "field", "index",
     "sort", "retention", "capabilities", "capability", "country", "method", "callback", "version",
     "provider", "prefix", "suffix", "code_length", "mode", "pool", "range", "tos", "unique"}
)  # fmt: skip

#: First words that make a field a flag or an action, not data: ``isEmailVerified``, ``sendEmail``.
PII_EXCLUDE_PREFIXES = frozenset(
    {"is", "has", "can", "should", "allow", "enable", "disable", "use", "show", "send", "require",
     "notify", "skip", "hide", "include", "exclude", "with", "num", "number", "total", "must"}
)  # fmt: skip

#: Words that, when a field name contains them (after exclusions), denote a kind.
PII_WORDS: dict[str, str] = {
    "email": "email", "phone": "phone", "telephone": "phone", "msisdn": "phone", "fax": "phone",
    "birth": "date_of_birth", "dob": "date_of_birth", "birthday": "date_of_birth", "birthdate": "date_of_birth",
    "ssn": "national_id", "passport": "passport", "iban": "bank_account", "gender": "gender",
    "password": "credential", "passwd": "credential", "street": "address", "postcode": "address",
    "zipcode": "address", "surname": "name", "firstname": "name", "lastname": "name",
}  # fmt: skip

#: A PII word must be the head of the name: only these may follow it ("phone_number", "email_value").
PII_HEAD_TAILS = frozenset(
    {
        "number",
        "no",
        "num",
        "address",
        "value",
        "line",
        "name",
        "text",
        "raw",
        "string",
        "1",
        "2",
        "3",
        "encrypted",
        "plain",
    }
)

#: A field whose words end in one of these pairs is personal data (``billing_address``,
#: ``shopper_email``, ``customer_name``, ``card_number``, ``social_security_number``).
PII_WORD_PAIRS: dict[tuple[str, str], str] = {
    ("email", "address"): "email", ("phone", "number"): "phone", ("mobile", "number"): "phone",
    ("postal", "code"): "address", ("zip", "code"): "address", ("house", "number"): "address",
    ("address", "line"): "address", ("card", "number"): "card_number", ("security", "number"): "national_id",
    ("tax", "id"): "tax_id", ("tax", "number"): "tax_id", ("national", "id"): "national_id",
    ("account", "number"): "bank_account", ("routing", "number"): "bank_account",
    ("date", "birth"): "date_of_birth", ("ip", "address"): "ip_address", ("user", "name"): "username",
    ("first", "name"): "name", ("last", "name"): "name", ("full", "name"): "name",
    ("given", "name"): "name", ("family", "name"): "name", ("middle", "name"): "name",
    ("holder", "name"): "name", ("legal", "name"): "name", ("customer", "name"): "name",
    ("shopper", "name"): "name", ("contact", "name"): "name", ("recipient", "name"): "name",
    ("sender", "name"): "name", ("caller", "name"): "name", ("owner", "name"): "name",
    ("employee", "name"): "name", ("patient", "name"): "name", ("beneficiary", "name"): "name",
    ("signer", "name"): "name", ("payer", "name"): "name", ("payee", "name"): "name",
    ("buyer", "name"): "name", ("person", "name"): "name", ("private", "key"): "credential",
    ("api", "key"): "credential", ("access", "token"): "credential", ("refresh", "token"): "credential",
    ("client", "secret"): "credential", ("secret", "key"): "credential", ("auth", "token"): "credential",
}  # fmt: skip

#: Last words that denote a personal address even with a qualifier ("billing_address",
#: "home_address"), unless the qualifier is one of ``PII_ADDRESS_NOT_PERSONAL``.
PII_ADDRESS_NOT_PERSONAL = frozenset(
    {
        "ip",
        "email",
        "mac",
        "web",
        "wallet",
        "url",
        "server",
        "network",
        "host",
        "remote",
        "contract",
        "token",
        "memory",
        "bluetooth",
    }
)

#: Words meaning "this object describes a person": a bare ``name``/``display_name``/``login``
#: inside it is personal data.  ``*_by`` (created_by, modified_by) is a person too.
PERSON_CONTEXT_WORDS = frozenset(
    {"user", "users", "person", "people", "customer", "shopper", "contact", "owner", "member", "employee",
     "patient", "holder", "recipient", "sender", "signer", "collaborator", "creator", "author",
     "participant", "beneficiary", "individual", "buyer", "payer", "payee", "profile", "guest",
     "attendee", "invitee", "requester", "assignee", "reviewer", "approver", "caller", "subscriber",
     "cardholder", "by", "student", "applicant", "candidate", "driver", "passenger", "client", "lead",
     "signers", "members", "collaborators", "participants", "customers", "contacts", "owners"}
)  # fmt: skip

#: Bare names that are personal only inside a person object.
PERSON_ONLY_NAMES: dict[str, str] = {"name": "name", "displayname": "name", "login": "username", "handle": "username"}

# ---------------------------------------------------------------------------
# URL-taking parameters (SSRF-prone; also make a tool "open world")
# ---------------------------------------------------------------------------

#: Words that make an input a URL the upstream will fetch or call back:
#: ``callback``, ``redirect_uri``, ``webhook``, ``StatusCallback`` (Twilio), ``returnUrl`` (Adyen).
URL_PARAM_WORDS = frozenset({"url", "uri", "urls", "uris", "callback", "callbacks", "webhook", "webhooks",
                             "redirect", "endpoint", "href", "hook"})  # fmt: skip
#: ... unless they also contain one of these (a URL *method* or a flag is not a URL).
URL_PARAM_EXCLUDE_WORDS = frozenset({"method", "methods", "enabled", "id", "sid", "type", "status", "count",
                                     "event", "events", "fallback_method", "mode", "format"})  # fmt: skip
URL_FORMATS = frozenset({"uri", "url", "iri", "uri-reference", "iri-reference"})


def is_url_param(name: object, schema: object = None) -> bool:
    """True when an input named ``name`` (with ``schema``) is a URL the server will contact."""
    if not isinstance(name, str) or not name:
        return False
    words = split_words(name)
    if isinstance(schema, dict):
        if schema.get("type") in ("boolean", "array"):
            return False  # a flag, or a list of stored links (Petstore photoUrls) rather than a callback
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in URL_FORMATS and not (set(words) & URL_PARAM_EXCLUDE_WORDS):
            return True
    return bool(set(words) & URL_PARAM_WORDS) and not (set(words) & URL_PARAM_EXCLUDE_WORDS)
