"""OpenAPI security schemes -> what to ask an admin for, and where the secret goes. Pure.

``describe_scheme`` reads one ``components.securitySchemes`` entry (Swagger 2 definitions
are already normalised to the 3.x shape by ``apps.specs.parse``) and says which credential
kinds can satisfy it; ``apply_credential`` turns a decrypted secret into the headers, query
parameters and cookies of an upstream request. Nothing here logs or formats a secret into
an error message.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.core.http_names import GATEWAY_HEADERS, HTTP_NAME_CHARACTERS, HTTP_TOKEN

API_KEY = "api_key"
HTTP_BEARER = "http_bearer"
HTTP_BASIC = "http_basic"
OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
OAUTH2_TOKEN = "oauth2_token"  # noqa: S105 - a kind name, not a secret

#: kind -> (field name, label, is secret), in form order
FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    API_KEY: (("value", "API key", True),),
    HTTP_BEARER: (("token", "Bearer token", True),),
    HTTP_BASIC: (("username", "Username", False), ("password", "Password", True)),
    OAUTH2_CLIENT_CREDENTIALS: (("client_id", "Client ID", False), ("client_secret", "Client secret", True)),
    OAUTH2_TOKEN: (("access_token", "Access token", True),),
}

#: The field whose last 4 characters the UI may show.
MASKED_FIELD = {API_KEY: "value", HTTP_BEARER: "token", HTTP_BASIC: "password",
                OAUTH2_CLIENT_CREDENTIALS: "client_secret", OAUTH2_TOKEN: "access_token"}

MAX_SECRET_LENGTH = 8192

#: Headers an API key may not replace: the gateway's own (a secret there would break every call,
#: or be read as a body length) and those describing the body. Authorization is a key's usual place.
RESERVED_HEADERS = GATEWAY_HEADERS | {"content-type", "content-encoding"}


class SchemeError(ValueError):
    """A scheme or secret the product cannot use; the message names fields, never values."""


@dataclass(frozen=True)
class SchemeInfo:
    """What one security scheme needs."""

    name: str
    spec_type: str
    kinds: tuple[str, ...]
    config: dict[str, Any]
    placement: str
    supported: bool = True
    note: str = ""

    @property
    def default_kind(self) -> str | None:
        return self.kinds[0] if self.kinds else None


@dataclass
class UpstreamAuth:
    """Decrypted authentication for one upstream request. Never log or serialise it."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug output
        return (f"UpstreamAuth(headers={sorted(self.headers)}, query={sorted(self.query)}, "
                f"cookies={sorted(self.cookies)})")

    def merge(self, other: UpstreamAuth) -> None:
        self.headers.update(other.headers)
        self.query.update(other.query)
        self.cookies.update(other.cookies)


def describe_scheme(name: str, scheme: Mapping[str, Any]) -> SchemeInfo:
    """The credential kinds that satisfy ``scheme`` and where the value goes."""
    spec_type = str(scheme.get("type", ""))
    if spec_type == "apiKey":
        location = str(scheme.get("in", "header"))
        param = str(scheme.get("name", ""))
        if location not in ("header", "query", "cookie") or not param:
            return SchemeInfo(name, spec_type, (), {}, "API key (unusable: no name or location)", False,
                              "The scheme does not say where the key goes.")
        if problem := placement_problem(location, param):
            return SchemeInfo(name, spec_type, (), {}, f"API key in {location} {param[:60]} (unusable)", False,
                              f"Scheme '{name}' cannot be used: {problem}")
        return SchemeInfo(name, spec_type, (API_KEY,), {"in": location, "param": param},
                          f"API key in {location} {param}")
    if spec_type == "http":
        http_scheme = str(scheme.get("scheme", "")).lower()
        if http_scheme == "bearer":
            fmt = scheme.get("bearerFormat")
            return SchemeInfo(name, spec_type, (HTTP_BEARER,), {},
                              f"Authorization: Bearer{f' ({fmt})' if fmt else ''}")
        if http_scheme == "basic":
            return SchemeInfo(name, spec_type, (HTTP_BASIC,), {}, "Authorization: Basic")
        return SchemeInfo(name, spec_type, (), {}, f"HTTP {http_scheme or '?'} (not supported)", False,
                          f"HTTP authentication scheme '{http_scheme}' is not supported.")
    if spec_type == "oauth2":
        flows = scheme.get("flows") if isinstance(scheme.get("flows"), Mapping) else {}
        cc = flows.get("clientCredentials") if isinstance(flows.get("clientCredentials"), Mapping) else None
        if cc and cc.get("tokenUrl"):
            scopes = sorted(str(s) for s in (cc.get("scopes") or {}))
            return SchemeInfo(name, spec_type, (OAUTH2_CLIENT_CREDENTIALS, OAUTH2_TOKEN),
                              {"token_url": str(cc["tokenUrl"]), "scopes": scopes, "client_auth": "basic"},
                              "OAuth2 client credentials, Authorization: Bearer")
        # Interactive flows (authorization code, implicit) cannot run server-side: an admin
        # can still paste a long-lived access token issued out of band.
        return SchemeInfo(name, spec_type, (OAUTH2_TOKEN,), {},
                          "OAuth2 access token, Authorization: Bearer",
                          note="The spec offers no client-credentials flow; paste an access token.")
    return SchemeInfo(name, spec_type, (), {}, f"{spec_type or 'unknown'} (not supported)", False,
                      f"Security scheme type '{spec_type}' is not supported.")


def placement_problem(location: str, param: str) -> str:
    """Why an API key cannot be sent in ``location`` (header, query or cookie) named
    ``param``, or ``""``. Names the place, never a value."""
    if location in ("header", "cookie") and not HTTP_TOKEN.fullmatch(param):
        return f"{param[:60]!r} is not a valid HTTP {location} name (only {HTTP_NAME_CHARACTERS} are allowed)."
    if location == "header" and param.lower() in RESERVED_HEADERS:
        if param.lower() == "cookie":
            return "it puts the key in the Cookie header; a cookie credential needs `in: cookie` and the cookie's name."
        return (f"it puts the key in the {param} header, which the gateway sets itself (it frames or routes the "
                "request).")
    return ""


def clean_secret(kind: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The secret fields of ``kind`` from ``values``, stripped and checked."""
    if kind not in FIELDS:
        raise SchemeError(f"Unknown credential kind '{kind}'.")
    out: dict[str, str] = {}
    for name, label, _ in FIELDS[kind]:
        raw = values.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        if not value:
            raise SchemeError(f"{label} is required.")
        if len(value) > MAX_SECRET_LENGTH:
            raise SchemeError(f"{label} is too long (at most {MAX_SECRET_LENGTH} characters).")
        if any(ch in value for ch in "\r\n\x00"):
            raise SchemeError(f"{label} must be a single line.")
        if kind == HTTP_BASIC and name == "username" and ":" in value:
            raise SchemeError("Username must not contain ':' (HTTP basic uses it as the separator).")
        out[name] = value
    return out


def apply_credential(kind: str, config: Mapping[str, Any], secret: Mapping[str, str],
                     *, access_token: str | None = None) -> UpstreamAuth:
    """Place a decrypted secret on a request. For client credentials pass the fetched token."""
    auth = UpstreamAuth()
    if kind == API_KEY:
        if problem := placement_problem(config["in"], config["param"]):
            raise SchemeError(f"The API key cannot be sent: {problem}")
        target = {"header": auth.headers, "query": auth.query, "cookie": auth.cookies}[config["in"]]
        target[config["param"]] = secret["value"]
    elif kind == HTTP_BEARER:
        auth.headers["Authorization"] = f"Bearer {secret['token']}"
    elif kind == HTTP_BASIC:
        pair = f"{secret['username']}:{secret['password']}".encode()
        auth.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif kind == OAUTH2_TOKEN:
        auth.headers["Authorization"] = f"Bearer {secret['access_token']}"
    elif kind == OAUTH2_CLIENT_CREDENTIALS:
        if not access_token:
            raise SchemeError("client credentials need a fetched access token")
        auth.headers["Authorization"] = f"Bearer {access_token}"
    else:
        raise SchemeError(f"Unknown credential kind '{kind}'.")
    return auth
