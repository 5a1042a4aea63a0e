"""JSON Pointer (RFC 6901) and local ``$ref`` fragments: the one place that escapes, splits and
resolves them (the import's ``$ref`` checks, the tool builder, the risk walkers, SARIF lines).

* ``escape``/``unescape`` one reference token (``~`` <-> ``~0``, ``/`` <-> ``~1``; unescaping
  replaces ``~1`` first, so ``~01`` is ``~1``, never ``/``);
* ``join``/``split`` a pointer (``"/a~1b/0"`` <-> ``["a/b", "0"]``; ``""`` is the whole document
  and ``"/"`` the key ``""``);
* ``ref_tokens`` reads a local ``$ref`` (``#/a/b``): a URI fragment, so each token is
  percent-decoded before it is unescaped (RFC 6901 section 6); a ``%2F`` stays inside its token;
* ``resolve`` walks mappings and lists; an array index is ``0`` or an ASCII number without a
  leading zero (``"01"``, ``"-"`` and ``"²"`` index nothing). A missing target raises
  ``PointerError`` (a ``KeyError`` whose ``args[0]`` is a sentence for a warning).

Pure Python, no Django: every app may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["PointerError", "escape", "join", "ref_tokens", "resolve", "resolve_ref", "split", "unescape"]

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


class PointerError(KeyError):
    """The pointer does not lead to a value; ``args[0]`` says why."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


def escape(token: Any) -> str:
    """One reference token, escaped: ``a/b~c`` -> ``a~1b~0c``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """One escaped reference token, read back: ``a~1b~0c`` -> ``a/b~c``."""
    return token.replace("~1", "/").replace("~0", "~")


def join(tokens: Iterable[Any]) -> str:
    """``["paths", "/pets", 0]`` -> ``"/paths/~1pets/0"``; no token -> ``""`` (the whole document)."""
    return "".join(f"/{escape(token)}" for token in tokens)


def split(pointer: str) -> list[str]:
    """``"/paths/~1pets/0"`` -> ``["paths", "/pets", "0"]``; ``""`` -> ``[]``."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerError(f"'{pointer}' is not a JSON pointer (it must start with '/')")
    return [unescape(raw) for raw in pointer[1:].split("/")]


def ref_tokens(ref: str) -> list[str]:
    """The tokens of a local ``$ref``: ``"#/paths/~1a~1%7Bb%7D"`` -> ``["paths", "/a/{b}"]``;
    ``"#"`` -> ``[]``. Anything not starting with ``#`` is not local: ``PointerError``."""
    if not ref.startswith("#"):
        raise PointerError(f"'{ref}' is not a local JSON pointer")
    fragment = ref[1:]
    if fragment == "":
        return []
    if not fragment.startswith("/"):
        raise PointerError(f"'{ref}' is not a local JSON pointer")
    return [unescape(unquote(raw)) for raw in fragment[1:].split("/")]


def resolve(doc: Any, tokens: Iterable[str]) -> Any:
    """The value ``tokens`` lead to inside ``doc``; ``PointerError`` naming the first token that fails."""
    node = doc
    for token in tokens:
        if isinstance(node, Mapping):
            if token not in node:
                raise PointerError(f"'{token}' does not exist")
            node = node[token]
        elif isinstance(node, list):
            if not _ARRAY_INDEX.fullmatch(token) or int(token) >= len(node):
                raise PointerError(f"index '{token}' is out of range")
            node = node[int(token)]
        else:
            raise PointerError(f"cannot descend into {_kind(node)} with '{token}'")
    return node


def resolve_ref(doc: Any, ref: str) -> Any:
    """``resolve(doc, ref_tokens(ref))``: the target of a local ``$ref`` or ``PointerError``."""
    return resolve(doc, ref_tokens(ref))


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )
