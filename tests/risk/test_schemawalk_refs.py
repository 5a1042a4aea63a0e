"""apps.risk.schemawalk reads refs through apps.core.jsonpointer and answers None on a missing target."""

from __future__ import annotations

from apps.risk.schemawalk import deref, resolve_pointer


def test_first_root_that_has_the_target_wins():
    schema = {"$defs": {"A": {"type": "string"}}}
    document = {"components": {"schemas": {"B": {"type": "integer"}, "a/b": {"type": "boolean"}}}}
    roots = (schema, document)
    assert resolve_pointer("#/$defs/A", roots) == {"type": "string"}
    assert resolve_pointer("#/components/schemas/B", roots) == {"type": "integer"}
    assert resolve_pointer("#/components/schemas/a~1b", roots) == {"type": "boolean"}
    assert resolve_pointer("#/components/schemas/a%2Fb", roots) == {"type": "boolean"}
    assert resolve_pointer("#", roots) is schema


def test_missing_or_non_local_targets_are_none():
    roots = ({"x": [1, None], "s": "text"},)
    for ref in ("#/nope", "#/x/2", "#/x/01", "#/x/²", "#/x/1", "#/s/0", "other.json#/x", "", None, 3):
        assert resolve_pointer(ref, roots) is None, ref


def test_deref_follows_a_chain_and_stops_on_a_loop():
    roots = ({"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "object"}, "L": {"$ref": "#/$defs/L"}}},)
    assert deref({"$ref": "#/$defs/A"}, roots) == ({"type": "object"}, "B")
    assert deref({"$ref": "#/$defs/L"}, roots) == (None, "L")
