"""OpenAPI parameter serialization: how one argument becomes path text, query pairs, a header
value or cookie pairs. Pure: no Django import, no I/O.

The rules are OpenAPI 3's ``style``/``explode`` table (3.0.3 and 3.1.0, "Style Examples"):

=============== ======= ============ ===================== ===================================
style           explode primitive    array [blue,black,…]  object {R:100,G:200,B:150}
=============== ======= ============ ===================== ===================================
matrix (path)   false   ;color=blue  ;color=blue,black     ;color=R,100,G,200
matrix (path)   true    ;color=blue  ;color=blue;color=blk ;R=100;G=200
label (path)    false   .blue        .blue,black           .R,100,G,200
label (path)    true    .blue        .blue.black           .R=100.G=200
simple          false   blue         blue,black            R,100,G,200
simple          true    blue         blue,black            R=100,G=200
form            false   color=blue   color=blue,black      color=R,100,G,200
form            true    color=blue   color=blue&color=blk  R=100&G=200
spaceDelimited  false   n/a          color=blue black      color=R 100 G 200
pipeDelimited   false   n/a          color=blue|black      color=R|100|G|200
deepObject      true    n/a          n/a                   color[R]=100&color[G]=200
=============== ======= ============ ===================== ===================================

Swagger 2's ``collectionFormat`` arrives converted by the importer (csv: form/false, ssv:
spaceDelimited, pipes: pipeDelimited, multi: form/true, tsv: ``tabDelimited``, joined with a
tab). A primitive given to spaceDelimited, pipeDelimited or tabDelimited is sent as form would
send it (the table has no other answer). Where the table says n/a for deepObject (a primitive or
an array) the call is refused: guessing a syntax would let the upstream read a name nobody
checked. A nested object or array inside an array or object is sent as compact JSON text (the
table does not define nesting, and JSON text cannot produce another parameter's name).
``null`` items and properties are left out, as is a ``null`` parameter.

Query and cookie pairs and header values are returned *unencoded*: the request builder
percent-encodes the query (``urlencode``) and checks header and cookie values. Path text is
returned *encoded*: every value piece is percent-encoded with nothing safe (a value can never
add a path segment), the style's delimiters stay literal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

DEFAULT_STYLES = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
STYLES = {
    "path": frozenset({"simple", "label", "matrix"}),
    "query": frozenset({"form", "spaceDelimited", "pipeDelimited", "tabDelimited", "deepObject"}),
    "header": frozenset({"simple"}),
    "cookie": frozenset({"form"}),
}
_DELIMITERS = {"spaceDelimited": " ", "pipeDelimited": "|", "tabDelimited": "\t"}


class StyleError(ValueError):
    """The argument cannot be serialized: ``code`` is ``bad_arguments`` (the value does not fit
    the style) or ``not_configured`` (the tool declares a style its location does not have)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def style_of(target: dict[str, Any]) -> tuple[str, bool]:
    """``(style, explode)`` of an ``arg_map`` entry (toolgen records only non-defaults)."""
    location = target["in"]
    style = target.get("style") or DEFAULT_STYLES[location]
    explode = target.get("explode")
    if not isinstance(explode, bool):
        explode = style == "form"
    return style, explode


def text(value: Any) -> str:
    """One scalar as text: ``true``/``false`` for booleans, JSON for a nested array or object."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _items(value: list) -> list[str]:
    return [text(item) for item in value if item is not None]


def _properties(value: dict) -> list[tuple[str, str]]:
    return [(str(key), text(item)) for key, item in value.items() if item is not None]


def _check_style(location: str, name: str, style: str) -> None:
    if style not in STYLES[location]:
        raise StyleError("not_configured", f"The {location} parameter {name} declares style {style!r}, which "
                                           f"OpenAPI does not define for {location} parameters; the call was "
                                           "not made (the spec must be corrected and re-imported).")


def query_pairs(name: str, value: Any, style: str, explode: bool) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs a query parameter adds (unencoded)."""
    if style == "form" and not isinstance(value, list | dict):  # the common case: one plain value
        return [] if value is None else [(name, text(value))]
    _check_style("query", name, style)
    if value is None:
        return []
    if style == "deepObject":
        if not isinstance(value, dict):
            raise StyleError("bad_arguments", f"The query parameter {name} is sent as a deepObject "
                                              f"({name}[key]=value), so it takes an object; the call was not made.")
        return [(f"{name}[{key}]", item) for key, item in _properties(value)]
    if isinstance(value, list):
        items = _items(value)
        if explode:
            return [(name, item) for item in items]
        return [(name, _DELIMITERS.get(style, ",").join(items))]
    if isinstance(value, dict):
        properties = _properties(value)
        if explode and style == "form":
            return properties
        flat = [part for pair in properties for part in pair]
        return [(name, _DELIMITERS.get(style, ",").join(flat))]
    return [(name, text(value))]


def path_text(name: str, value: Any, style: str, explode: bool,
              encode: Callable[[str], str] = lambda part: quote(part, safe="")) -> tuple[str, str]:
    """``(encoded, plain)``: the text a path parameter puts in the URL (each value piece
    percent-encoded with ``encode``, delimiters literal) and the same text unencoded (what the
    upstream reads after decoding it)."""
    _check_style("path", name, style)
    if style == "simple" and not isinstance(value, list | dict):  # the common case: one plain value
        plain = text(value)
        return encode(plain), plain

    def build(enc: Callable[[str], str]) -> str:
        if isinstance(value, list):
            pieces = [enc(item) for item in _items(value)]
            if style == "simple":
                return ",".join(pieces)
            if style == "label":
                return "." + ("." if explode else ",").join(pieces)
            if explode:
                return "".join(f";{enc(name)}={piece}" for piece in pieces)
            return f";{enc(name)}=" + ",".join(pieces)
        if isinstance(value, dict):
            pairs = [(enc(key), enc(item)) for key, item in _properties(value)]
            if explode:
                joined = [f"{key}={item}" for key, item in pairs]
                if style == "simple":
                    return ",".join(joined)
                if style == "label":
                    return "." + ".".join(joined)
                return "".join(f";{pair}" for pair in joined)
            flat = ",".join(part for pair in pairs for part in pair)
            return {"simple": flat, "label": "." + flat, "matrix": f";{enc(name)}={flat}"}[style]
        piece = enc(text(value))
        if style == "simple":
            return piece
        if style == "label":
            return "." + piece
        return f";{enc(name)}" + (f"={piece}" if piece else "")

    return build(encode), build(lambda part: part)


def header_text(value: Any, explode: bool) -> str:
    """A header parameter's value (style simple), unchecked."""
    if isinstance(value, list):
        return ",".join(_items(value))
    if isinstance(value, dict):
        properties = _properties(value)
        if explode:
            return ",".join(f"{key}={item}" for key, item in properties)
        return ",".join(part for pair in properties for part in pair)
    return text(value)


def cookie_pairs(name: str, value: Any, style: str, explode: bool) -> list[tuple[str, str]]:
    """The ``(name, value)`` cookies a cookie parameter adds (style form), unchecked."""
    _check_style("cookie", name, style)
    return query_pairs(name, value, "form", explode)
