"""Approval-policy conditions over tool-call arguments. Pure: no Django import.

A *rule* is a small dict an admin builds in the policy UI::

    {"field": "amount", "operator": ">", "value": 10000}

``field`` is a path into the call arguments: ``amount``, ``amount.value``,
``items[0].price``, ``items[-1]``, ``$.metadata.kind``, ``["x-request-id"]`` (bracket
quotes for keys that are not plain ``[A-Za-z0-9_-]`` names), or ``$`` for the whole
argument object. ``operator`` is one of ``== != > >= < <= in not_in contains exists
matches``.

Semantics (chosen so that a policy never crashes the gateway and never matches by
accident, and so that what it cannot decide is held, never let through):

* ``evaluate(rules, arguments)`` is three-valued: ``True`` when *all* rules match (an
  empty list matches), ``False`` when one definitely does not, ``None`` when the answer
  depends on a value that cannot be decided (below).
* A missing field never matches, except ``exists`` with value ``false``. A field present
  with JSON ``null`` exists.
* Numbers compare as ``Decimal``. Rule values are numbers or strict decimal strings. An
  argument is read the way an upstream might read it (``condition_numbers.readings``): JSON numbers as
  Python and as a double; when the other side is a number, a string is read by every
  common parser (Python ``Decimal``/``int``/``float`` with Unicode digits, spaces and
  underscores; JavaScript ``Number``/``parseFloat``; hex; leading-zero octal; NFKC forms;
  locale forms such as ``5,000``). The condition is decided when every reading gives the
  same answer -- so ``amount > 1000`` holds ``"٥٠٠٠"``, ``"５０００"``, ``"0005000"``,
  ``" 5000 "`` -- and is *undecidable* otherwise (``"5000abc"``, ``"0x1388"``, ``"5,000"``,
  ``"1_000_000"``). Also undecidable: NaN and infinities (``1e400``, ``"Infinity"``,
  ``Decimal("NaN")``), an integer too large for a double, a string over
  ``MAX_NUMBER_STRING`` characters containing a digit, text over ``MAX_MATCH_TEXT`` for
  ``matches``, and anything unforeseen that raises. Booleans are never numbers; a
  one-element list is also read as its element (JavaScript compares ``[5000] > 1000``).
* Undecidable never means "no match": ``select_policy_tier`` then returns the policy's
  strictest tier (``strictness``: most approvals, then ``sequential``), with the reason.
* For ``==``/``!=``/``in`` strings are read as numbers only when the other side is a
  number; two strings compare as text (so ids like ``"007"`` and ``"7"`` stay different).
* Values of incompatible types never match, whatever the operator: ``amount > 10000`` with
  ``amount="lots"`` is false (no parser reads a number in it), and so is ``amount != 5``
  (we do not claim "lots" differs from 5 -- it is simply not comparable). ``null`` is
  comparable with everything, so ``field != null`` means "set to something".
* ``in``/``not_in`` take a non-empty list; ``not_in`` matches when the value equals no
  element and at least one element is of a comparable type.
* ``contains``: substring for strings, element for lists, key for objects.
* ``exists``: value ``true`` (default) or ``false``.
* ``matches``: *search* semantics (use ``^``/``$`` to anchor) in RE2 syntax, see below.

Regular expressions: RE2
------------------------
Call arguments are attacker-controlled (they come from an AI agent that may be
prompt-injected) and Python's backtracking ``re`` has no timeout (``(a+)+$`` hangs on 30
characters), so ``matches`` uses RE2 (the ``google-re2`` package): matching is linear in
the text, so text of any length is matched correctly. Patterns are RE2 syntax
(https://github.com/google/re2/wiki/Syntax), close to Python's for everyday patterns,
with these differences: no backreferences, lookahead/lookbehind, atomic groups or
possessive quantifiers (refused); ``\\Z`` is refused (use ``\\z``); ``$`` matches only at
the end of the text unless ``(?m)``; ``\\d \\w \\s \\b`` are ASCII (use ``\\p{Nd}``, ``\\pL``
for Unicode); repeat counts are at most 1000. A pattern RE2 cannot compile, longer than
``MAX_PATTERN_LENGTH`` characters or needing more than ``MAX_REGEX_MEMORY`` bytes is
refused when the rule is saved (``validate_rule``) with RE2's message. Compiled patterns
are cached.

Tiers
-----
A policy may scale the number of approvals with the arguments::

    [
        {"when": [{"field": "amount", "operator": ">", "value": 10000}],
         "approvals": 2, "order": "sequential"},
        {"approvals": 1},                      # default: no "when"
    ]

``select_policy_tier`` returns the first tier whose ``when`` rules all match. A tier
without ``when`` (or with an empty list) is the default; there may be one, and it must be
last. ``order`` is ``"any"`` (default: any N distinct approvers) or ``"sequential"``
(approvers act one after the other). ``approvals`` may be 0 (auto-approved tier).

Hashing
-------
``canonical_arguments`` / ``arguments_hash`` give the byte-exact identity of a call's
arguments. The approval queue stores the hash when a human approves and re-checks it
just before executing, so an approved ``refund 10 EUR`` cannot turn into ``refund 10000``.

Modules
-------
This module is the public face; the work is in four pure modules, bottom up:
``condition_numbers`` (how values are read as numbers, ``Undecidable``),
``condition_regex`` (RE2), ``condition_language`` (operators, paths, rule and tier
validation, ``Condition``/``Tier``) and ``condition_eval`` (evaluation, strictest-tier
selection). Hashing is here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .condition_eval import (
    MISSING,
    condition_matches,
    decide_condition,
    decide_tier,
    evaluate,
    select_policy_tier,
    strictest,
    strictness,
)
from .condition_language import (
    MAX_APPROVALS,
    MAX_IN_ITEMS,
    MAX_PATH_DEPTH,
    MAX_PATH_LENGTH,
    MAX_RULES_PER_TIER,
    MAX_TIERS,
    MAX_VALUE_DEPTH,
    OPERATORS,
    ORDERS,
    Condition,
    ConditionError,
    PathSegment,
    Tier,
    compile_rule,
    compile_tiers,
    parse_path,
    validate_rule,
    validate_tiers,
)
from .condition_numbers import MAX_NUMBER_STRING, Undecidable
from .condition_regex import MAX_MATCH_TEXT, MAX_PATTERN_LENGTH, MAX_REGEX_MEMORY, RegexError, SafeRegex

__all__ = [
    "MAX_APPROVALS",
    "MAX_IN_ITEMS",
    "MAX_MATCH_TEXT",
    "MAX_NUMBER_STRING",
    "MAX_PATH_DEPTH",
    "MAX_PATH_LENGTH",
    "MAX_PATTERN_LENGTH",
    "MAX_REGEX_MEMORY",
    "MAX_RULES_PER_TIER",
    "MAX_TIERS",
    "MAX_VALUE_DEPTH",
    "MISSING",
    "OPERATORS",
    "ORDERS",
    "Condition",
    "ConditionError",
    "PathSegment",
    "RegexError",
    "SafeRegex",
    "Tier",
    "Undecidable",
    "arguments_hash",
    "canonical_arguments",
    "compile_rule",
    "compile_tiers",
    "condition_matches",
    "decide_condition",
    "decide_tier",
    "evaluate",
    "parse_path",
    "select_policy_tier",
    "strictest",
    "strictness",
    "validate_rule",
    "validate_tiers",
]


def canonical_arguments(args: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTF-8 (not ASCII-escaped).

    ``NaN``/``Infinity`` are refused (``ValueError``): they are not JSON and would make
    the "same" arguments hash differently across implementations. Note ``1`` and ``1.0``
    serialise differently on purpose: the approval binds the exact values the agent sent.
    """
    return json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def arguments_hash(args: Any) -> str:
    """SHA-256 hex digest of ``canonical_arguments(args)``."""
    return hashlib.sha256(canonical_arguments(args)).hexdigest()

