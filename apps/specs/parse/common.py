"""Names and small helpers every step of ``apps.specs.parse`` shares."""

from __future__ import annotations

from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MESSAGE_LIMIT = 300

# Keys whose values are data (or irrelevant to tools): a "$ref" inside is not a reference
# we must follow.  They are skipped unless the dict is a *name map* (``refs._NAME_MAPS``,
# e.g. a property literally called "default" under "properties").
DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const", "links", "callbacks"})


def kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"


def mb(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
