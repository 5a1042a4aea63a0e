"""Tool-description poisoning scan.

Everything an agent reads about a tool - its description, summary, parameter
descriptions, schema titles and descriptions - comes from the OpenAPI document, i.e.
from whoever wrote or tampered with it.  "Tool poisoning" hides instructions for the
model in that text (Invariant Labs, 2025): ``<IMPORTANT>`` blocks, "ignore previous
instructions", "do not tell the user", requests to read ``~/.ssh/id_rsa`` or
``mcp.json``, instructions to call *other* tools, invisible Unicode, encoded payloads,
and exfiltration URLs.  Each check returns a human-readable reason naming where the text
was found; an empty list means clean.

Where the checks apply:

* the tool's own text (description, summary, parameter descriptions, top-level input
  property descriptions) gets every check;
* nested schema text (descriptions, titles, string examples/enums of nested models, in
  inputs and outputs) gets the unambiguous checks only - instruction blocks, overrides,
  concealment, orders to the model, sensitive files, hidden characters.  Honest specs
  put tokens in examples and link standards bodies from field descriptions (Adyen links
  iata.org; Box examples hold 64-character tokens), so blob / foreign-URL / tool-name
  checks there would drown the real signal.

Links are allowed to the spec's own hosts (servers, info/contact/terms/externalDocs URLs,
OAuth endpoints, passed in as ``known_hosts``), any host of the same registrable domain or
brand (``docs.adyen.com``, ``adyen.help`` for ``checkout-test.adyen.com``), and standards /
reserved documentation hosts (``DOC_HOSTS_ALLOWED``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from apps.specs.domain import ToolDef

from .schemawalk import deref

#: Pseudo-tags used to shout at the model.
_TAG_RE = re.compile(
    r"<\s*/?\s*(important|system|instructions?|secret|hidden|admin|critical|note_to_(?:ai|assistant|model)|"
    r"assistant|prompt|context)\b[^>]*>",
    re.IGNORECASE,
)
_OVERRIDE_RE = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|the\s+|your\s+)?"
    r"(previous|prior|above|earlier|preceding|other|system|original)\s+"
    r"(instructions?|prompts?|messages?|rules|directions|guidelines|context)",
    re.IGNORECASE,
)
_CONCEAL_RE = re.compile(
    r"\b(do\s+not|don'?t|never|must\s+not|should\s+not)\s+(tell|inform|mention|reveal|show|notify|alert|"
    r"disclose\s+to)\s+(this\s+to\s+)?(the\s+)?(user|human|operator|person)\b"
    r"|\bwithout\s+(telling|informing|notifying|alerting|asking)\s+(the\s+)?(user|human|operator)\b"
    r"|\b(the\s+)?user\s+(must|should)\s+(not|never)\s+(know|see|be\s+told)\b"
    r"|\b(keep|hide)\s+(this|it)\s+(secret|hidden)\s+from\s+(the\s+)?user\b",
    re.IGNORECASE,
)
_MODEL_ADDRESS_RE = re.compile(
    r"\b(you\s+(must|should)\s+(first\s+)?(call|invoke|run|use|read|send|pass)\b|before\s+(using|calling)\s+"
    r"(this|any)\s+tool\b|as\s+an?\s+(ai|assistant|llm|language\s+model)\b)",
    re.IGNORECASE,
)
#: Files an agent should never be told to read or send.
_SENSITIVE_PATH_RE = re.compile(
    r"(~/\.ssh\b|\.ssh/|\bid_(rsa|dsa|ecdsa|ed25519)\b|\bmcp\.json\b|claude_desktop_config\.json|"
    r"(^|[\s/'\"`(=])\.env\b|/etc/(passwd|shadow)\b|\.aws/credentials|\.npmrc\b|\.netrc\b|"
    r"\.git-credentials|\.docker/config\.json|\.kube/config|\bcursor/mcp\.json)",
    re.IGNORECASE,
)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/_-]{64,}={0,2}")
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`)\]}]+", re.IGNORECASE)
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")

#: Invisible or direction-changing characters (beyond the Unicode "Cf" category check).
_NAMED_HIDDEN = {
    "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner",
    "\u200d": "zero-width joiner",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space",
    "\u202a": "bidi control (LRE)",
    "\u202b": "bidi control (RLE)",
    "\u202c": "bidi control (PDF)",
    "\u202d": "bidi control (LRO)",
    "\u202e": "bidi control (RLO)",
    "\u2066": "bidi isolate (LRI)",
    "\u2067": "bidi isolate (RLI)",
    "\u2068": "bidi isolate (FSI)",
    "\u2069": "bidi isolate (PDI)",
    "\u200e": "left-to-right mark",
    "\u200f": "right-to-left mark",
    "\u00ad": "soft hyphen",
}

#: Documentation hosts that are not exfiltration targets (standards bodies, RFC 2606 examples).
DOC_HOSTS_ALLOWED = frozenset(
    {"ietf.org", "w3.org", "iso.org", "wikipedia.org", "json-schema.org", "openapis.org", "swagger.io",
     "example.com", "example.org", "example.net", "schema.org", "rfc-editor.org", "iana.org",
     "unicode.org", "ecma-international.org", "oauth.net", "openid.net", "spdx.org", "apache.org",
     "creativecommons.org", "opensource.org", "localhost"}
)  # fmt: skip

MAX_SCAN_CHARS = 20000  # per text: enough for any honest description, bounded for hostile ones
MAX_SCHEMA_DEPTH = 12
MAX_REASONS_PER_SCHEMA = 20


def registrable_domain(host: str) -> str:
    """Crude eTLD+1 (``api.box.com`` -> ``box.com``; ``foo.co.uk`` -> ``foo.co.uk``)."""
    host = host.lower().strip(".")
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "org", "net", "ac", "gov", "edu"):
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _brand(host: str) -> str:
    return registrable_domain(host).split(".", 1)[0]


def hosts_from_urls(urls: Iterable[Any]) -> set[str]:
    """Hosts of URLs / server strings (``https://api.box.com/2.0`` -> ``api.box.com``); junk skipped."""
    hosts: set[str] = set()
    for url in urls:
        if not isinstance(url, str) or not url.strip():
            continue
        url = url.strip()
        if "@" in url and "//" not in url:  # contact e-mail
            url = "//" + url.rsplit("@", 1)[1]
        try:
            host = urlsplit(url if "//" in url else f"//{url}").hostname
        except ValueError:
            continue
        if host and "{" not in host:
            hosts.add(host.lower())
    return hosts


def hosts_from_servers(servers: Iterable[str]) -> set[str]:
    """Hosts of the spec's server URLs."""
    return hosts_from_urls(servers)


def document_hosts(document: Mapping[str, Any] | None, servers: Iterable[str] = ()) -> set[str]:
    """Every host the spec author declared: servers, info contact/terms, externalDocs, OAuth URLs."""
    urls: list[Any] = list(servers)
    if isinstance(document, Mapping):
        info = document.get("info") if isinstance(document.get("info"), Mapping) else {}
        contact = info.get("contact") if isinstance(info.get("contact"), Mapping) else {}
        urls += [info.get("termsOfService"), contact.get("url"), contact.get("email")]
        docs = document.get("externalDocs")
        if isinstance(docs, Mapping):
            urls.append(docs.get("url"))
        for server in document.get("servers") or []:
            if isinstance(server, Mapping):
                urls.append(server.get("url"))
        components = document.get("components") if isinstance(document.get("components"), Mapping) else {}
        schemes = components.get("securitySchemes") if isinstance(components.get("securitySchemes"), Mapping) else {}
        for scheme in schemes.values():
            if not isinstance(scheme, Mapping):
                continue
            urls.append(scheme.get("openIdConnectUrl"))
            flows = scheme.get("flows") if isinstance(scheme.get("flows"), Mapping) else {}
            for flow in flows.values():
                if isinstance(flow, Mapping):
                    urls += [flow.get("authorizationUrl"), flow.get("tokenUrl"), flow.get("refreshUrl")]
    return hosts_from_urls(urls)


def _host_allowed(host: str, known_hosts: Iterable[str]) -> bool:
    domain = registrable_domain(host)
    if domain in DOC_HOSTS_ALLOWED or host in DOC_HOSTS_ALLOWED:
        return True
    brand = _brand(host)
    return any(domain == registrable_domain(k) or brand == _brand(k) for k in known_hosts if k)


def _hidden_characters(text: str) -> list[str]:
    names: list[str] = []
    for ch in text:
        if ch.isascii():
            continue
        if ch in _NAMED_HIDDEN:
            name = _NAMED_HIDDEN[ch]
        elif "\U000e0000" <= ch <= "\U000e007f":
            name = "Unicode tag character"
        elif unicodedata.category(ch) == "Cf":
            name = f"invisible format character U+{ord(ch):04X}"
        else:
            continue
        if name not in names:
            names.append(name)
    return names


def _is_blob(candidate: str) -> bool:
    """A long token that looks encoded: a >= 32-character run (between ``/``, ``_``, ``-``) mixing
    upper case, lower case and digits.  Paths and slugs ("/metadata_templates/enterprise_12345/
    securityClassification-6VMVochwUWo/schema") and hex hashes are not blobs."""
    if _HEX_RE.match(candidate):
        return False
    longest = max(re.split(r"[/_-]", candidate), key=len)
    return (
        len(longest) >= 32
        and any(c.isupper() for c in longest)
        and any(c.islower() for c in longest)
        and any(c.isdigit() for c in longest)
    )


def _tool_name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Tools' names worth flagging when mentioned: multi-word identifiers, not plain words ("payments")."""
    distinctive = sorted(
        {n for n in names if isinstance(n, str) and len(n) >= 5 and re.search(r"[_\-]|[a-z][A-Z]", n)},
        key=len,
        reverse=True,
    )
    if not distinctive:
        return None
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in distinctive) + r")(?![\w-])")


#: Cheap substring gates (on the lower-cased text) before each regex: most honest text has none
#: of them, which keeps the scan of Box's ~4000 distinct descriptions well under 100 ms.
_GATES: dict[str, tuple[str, ...]] = {
    "tag": ("<",),
    "override": ("ignore", "disregard", "forget", "override", "bypass"),
    "conceal": ("not ", "n't", "never", "without", "keep", "hide", "user "),
    "address": ("you ", "before ", "as a"),
    "path": ("ssh", "id_", "mcp.json", "claude_desktop", ".env", "/etc/", ".aws", ".npmrc", ".netrc",
             ".git-credentials", ".docker", ".kube"),
}  # fmt: skip


def _gate(lower: str, name: str) -> bool:
    return any(token in lower for token in _GATES[name])


def _strong_checks(text: str) -> list[str]:
    """Checks that are unambiguous wherever the text sits (location added by the caller)."""
    reasons: list[str] = []
    lower = text.lower()
    tag = _TAG_RE.search(text) if _gate(lower, "tag") else None
    if tag:
        reasons.append(f"instruction block {tag.group(0)[:40]!r}")
    override = _OVERRIDE_RE.search(text) if _gate(lower, "override") else None
    if override:
        reasons.append(f"tries to override instructions ({override.group(0)[:60]!r})")
    conceal = _CONCEAL_RE.search(text) if _gate(lower, "conceal") else None
    if conceal:
        reasons.append(f"asks to hide things from the user ({conceal.group(0)[:60]!r})")
    address = _MODEL_ADDRESS_RE.search(text) if _gate(lower, "address") else None
    if address:
        reasons.append(f"gives the model orders ({address.group(0)[:60]!r})")
    path = _SENSITIVE_PATH_RE.search(text) if _gate(lower, "path") else None
    if path:
        reasons.append(f"mentions a sensitive local file ({path.group(0).strip()[:40]!r})")
    hidden = [] if text.isascii() else _hidden_characters(text)
    if hidden:
        reasons.append(f"hidden characters ({', '.join(hidden[:3])})")
    return reasons


def _surface_checks(text: str, known_hosts: Iterable[str]) -> list[str]:
    """Checks for the tool's own text only: encoded blobs and links to foreign hosts."""
    reasons: list[str] = []
    for match in _BASE64_RE.finditer(text):
        if _is_blob(match.group(0)):
            reasons.append(f"encoded blob of {len(match.group(0))} characters")
            break
    for match in _URL_RE.finditer(text):
        try:
            host = urlsplit(match.group(0)).hostname
        except ValueError:
            host = None
        if host and "{" not in host and not _host_allowed(host.lower(), known_hosts):
            reasons.append(f"links to a host outside the API ({host})")
            break
    return reasons


class PoisoningScanner:
    """Scans many tools of one spec, caching per distinct text and per shared schema node."""

    def __init__(self, *, tool_names: Iterable[str] = (), known_hosts: Iterable[str] = ()) -> None:
        self.known_hosts = [h.lower() for h in known_hosts if isinstance(h, str)]
        self.names_re = _tool_name_pattern(tool_names)
        self._text_cache: dict[tuple[str, bool], tuple[tuple[str, bool], ...]] = {}
        self._node_cache: dict[int, tuple[tuple[str, ...], Any]] = {}

    def text_findings(self, text: str, *, surface: bool) -> tuple[tuple[str, bool], ...]:
        """(reason, strong) pairs for one text, without location; ``surface`` adds blob/URL checks."""
        text = text[:MAX_SCAN_CHARS]
        key = (text, surface)
        cached = self._text_cache.get(key)
        if cached is None:
            found = [(r, True) for r in _strong_checks(text)]
            if surface:
                found += [(r, False) for r in _surface_checks(text, self.known_hosts)]
            cached = tuple(found)
            self._text_cache[key] = cached
        return cached

    def text_reasons(self, text: str, *, surface: bool) -> tuple[str, ...]:
        """Reasons (without location) for one text."""
        return tuple(r for r, _ in self.text_findings(text, surface=surface))

    def other_tools(self, text: str, own: str) -> str | None:
        if self.names_re is None:
            return None
        for match in self.names_re.finditer(text[:MAX_SCAN_CHARS]):
            if match.group(1) != own:
                return match.group(1)
        return None

    def scan_tool(self, tool: ToolDef) -> list[str]:
        """Reasons the tool's agent-visible text looks poisoned (empty list when clean)."""
        return [reason for reason, _ in self.scan_tool_detailed(tool)]

    def scan_tool_detailed(self, tool: ToolDef) -> list[tuple[str, bool]]:
        """(reason, strong) pairs.  Strong: instruction blocks, overrides, concealment, orders to
        the model, sensitive files, hidden characters, naming another tool.  Weak: encoded blobs
        and links to foreign hosts in the tool's own text (suspicious, often innocent)."""
        own = str(getattr(tool, "name", "") or "")
        surface: list[tuple[str, str]] = [
            ("description", str(getattr(tool, "description", "") or "")),
            ("summary", str(getattr(tool, "summary", "") or "")),
        ]
        params = getattr(tool, "parameters", None)
        for param in params if isinstance(params, list) else []:
            desc = getattr(param, "description", "")
            if isinstance(desc, str) and desc:
                surface.append((f"parameter '{getattr(param, 'name', '?')}' description", desc))
        input_schema = getattr(tool, "input_schema", None)
        nested: list[tuple[str, Any]] = []
        if isinstance(input_schema, Mapping):
            props = input_schema.get("properties")
            if isinstance(props, Mapping):
                for name, sub in props.items():
                    if isinstance(sub, Mapping) and isinstance(sub.get("description"), str):
                        surface.append((f"input '{name}' description", sub["description"]))
            nested.append(("input", input_schema))
        output_schema = getattr(tool, "output_schema", None)
        if isinstance(output_schema, Mapping):
            nested.append(("output", output_schema))

        found: list[tuple[str, bool]] = []
        seen: set[str] = set()
        for where, text in surface:
            if not text or text in seen:
                continue
            seen.add(text)
            for reason, strong in self.text_findings(text, surface=True):
                found.append((f"{where}: {reason}", strong))
            other = self.other_tools(text, own)
            if other:
                found.append((f"{where}: refers to another tool ({other!r})", True))
        for side, schema in nested:
            for reason in self._schema_reasons(schema, (schema,), 0):
                found.append((f"{side} {reason}", True))
        unique: dict[str, bool] = {}
        for reason, strong in found:
            unique[reason] = unique.get(reason, False) or strong
        return list(unique.items())

    def _schema_reasons(self, node: Any, roots: tuple[Any, ...], depth: int) -> tuple[str, ...]:
        target, _ = deref(node, roots)
        if target is None or depth > MAX_SCHEMA_DEPTH:
            return ()
        cached = self._node_cache.get(id(target))
        if cached is not None:
            return cached[0]
        self._node_cache[id(target)] = ((), target)  # cycle guard while walking
        found: list[str] = []
        for key in ("description", "title"):
            value = target.get(key)
            if isinstance(value, str) and value:
                found += [f"schema {key}: {r}" for r in self.text_reasons(value, surface=False)]
        for key in ("examples", "enum", "default", "const", "example"):
            values = target.get(key)
            for value in (values if isinstance(values, list) else [values])[:20]:
                if isinstance(value, str) and value:
                    found += [f"schema {key}: {r}" for r in self.text_reasons(value, surface=False)]
        props = target.get("properties")
        if isinstance(props, Mapping):
            for name, sub in props.items():
                found += [
                    f"property '{name}' {r}" if not r.startswith("property '") else r
                    for r in self._schema_reasons(sub, roots, depth + 1)
                ]
        for key in ("items", "additionalProperties", "not"):
            if isinstance(target.get(key), Mapping):
                found += list(self._schema_reasons(target[key], roots, depth + 1))
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            branches = target.get(key)
            if isinstance(branches, list):
                for branch in branches:
                    found += list(self._schema_reasons(branch, roots, depth + 1))
        defs = target.get("$defs")
        if isinstance(defs, Mapping):
            for sub in defs.values():
                found += list(self._schema_reasons(sub, roots, depth + 1))
        result = tuple(_unique(found)[:MAX_REASONS_PER_SCHEMA])
        self._node_cache[id(target)] = (result, target)
        return result


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def scan_text(
    text: str,
    where: str = "text",
    *,
    tool_names: Iterable[str] = (),
    own_name: str = "",
    known_hosts: Iterable[str] = (),
) -> list[str]:
    """All checks on one piece of tool-level text; reasons are prefixed with ``where``."""
    if not isinstance(text, str) or not text:
        return []
    scanner = PoisoningScanner(tool_names=tool_names, known_hosts=known_hosts)
    reasons = [f"{where}: {r}" for r in scanner.text_reasons(text, surface=True)]
    other = scanner.other_tools(text, own_name)
    if other:
        reasons.append(f"{where}: refers to another tool ({other!r})")
    return reasons


def scan_tool(tool: ToolDef, *, tool_names: Iterable[str] = (), known_hosts: Iterable[str] = ()) -> list[str]:
    """Reasons the tool's agent-visible text looks poisoned (empty list when clean)."""
    return PoisoningScanner(tool_names=tool_names, known_hosts=known_hosts).scan_tool(tool)


def scan_tools(tools: Iterable[ToolDef], *, known_hosts: Iterable[str] = ()) -> dict[str, list[str]]:
    """``{tool name: reasons}`` for the tools with findings, sharing caches across tools."""
    return {name: [r for r, _ in found] for name, found in scan_tools_detailed(tools, known_hosts=known_hosts).items()}


def scan_tools_detailed(
    tools: Iterable[ToolDef], *, known_hosts: Iterable[str] = ()
) -> dict[str, list[tuple[str, bool]]]:
    """``{tool name: [(reason, strong)]}`` for the tools with findings (see ``scan_tool_detailed``)."""
    tools = list(tools)
    scanner = PoisoningScanner(tool_names=[t.name for t in tools], known_hosts=known_hosts)
    out: dict[str, list[tuple[str, bool]]] = {}
    for tool in tools:
        found = scanner.scan_tool_detailed(tool)
        if found:
            out[tool.name] = found
    return out
