"""Email domains for joining an organization on enterprise sign-in. Pure: no Django import.

A domain is compared exactly (``acme.com`` does not admit ``eu.acme.com``), lower-cased and in
its IDNA (punycode) form, so ``ACME.com``, ``acme.com.`` (no: refused) and ``bücher.de`` /
``xn--bcher-kva.de`` are judged the same way everywhere. Anything that is not plainly a host
name is refused rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_DOMAINS = 20


class BadDomain(ValueError):
    pass


def normalize(text: str) -> str:
    """``text`` as a canonical domain, or BadDomain with a message for the person who typed it."""
    raw = (text or "").strip()
    if raw.startswith("@"):
        raw = raw[1:]
    if not raw:
        raise BadDomain("Empty domain.")
    if any(ch in raw for ch in "*/:@ \t") or raw.endswith("."):
        raise BadDomain(f"{text.strip()!r} is not a domain name (write it like acme.com).")
    try:
        ascii_form = raw.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise BadDomain(f"{text.strip()!r} is not a valid domain name.") from exc
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise BadDomain(f"{text.strip()!r} is not a domain name (write it like acme.com).")
    if labels[-1].isdigit():
        raise BadDomain(f"{text.strip()!r} is an address, not a domain name.")
    return ascii_form


def parse_list(text: str | list[str]) -> tuple[list[str], list[str]]:
    """Domains separated by commas, spaces or new lines (or a list, one domain per item)
    -> (sorted unique domains, errors)."""
    domains: set[str] = set()
    errors: list[str] = []
    items = re.split(r"[\s,;]+", text or "") if isinstance(text, str) else list(text)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            continue
        try:
            domains.add(normalize(item))
        except BadDomain as exc:
            errors.append(str(exc))
    if len(domains) > MAX_DOMAINS:
        errors.append(f"At most {MAX_DOMAINS} domains.")
    return sorted(domains), errors


def domain_of(email: str) -> str | None:
    """The canonical domain of an email address, or None when it has none we can read."""
    local, sep, domain = (email or "").rpartition("@")
    if not sep or not local:
        return None
    try:
        return normalize(domain)
    except BadDomain:
        return None


@dataclass(frozen=True)
class JoinDecision:
    domain: str | None
    join: bool
    reason: str  # "verified", "unverified", "no_domain"


def decide(*, email: str, email_verified: object) -> JoinDecision:
    """May this identity join by its email domain? Only a JSON ``true`` ``email_verified`` claim
    counts (a string "true", a missing claim or anything else: not verified)."""
    domain = domain_of(email)
    if domain is None:
        return JoinDecision(None, False, "no_domain")
    if email_verified is not True:
        return JoinDecision(domain, False, "unverified")
    return JoinDecision(domain, True, "verified")
