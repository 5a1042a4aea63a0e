"""The pure definition module: what is hashed, canonical hashing, changed sections."""

from types import SimpleNamespace

from apps.inventory.definitions import changed_sections, definition_hash, definition_of


def row(**changes):
    base = dict(name="createRefund", description="Refund.", input_schema={"type": "object", "properties": {"a": {}}},
                output_schema=None, annotations={"readOnlyHint": False}, method="post", path="/refunds",
                arg_map={"a": {"in": "body", "name": "a"}}, body_content_type="application/json", security=[])
    return SimpleNamespace(**{**base, **changes})


def test_hash_is_canonical_and_covers_every_field_the_gateway_uses():
    one = definition_of(row())
    reordered = definition_of(row(input_schema={"properties": {"a": {}}, "type": "object"}))
    assert definition_hash(one) == definition_hash(reordered) and len(definition_hash(one)) == 64
    assert one["method"] == "POST"
    for field, value in [("description", "Refund. <IMPORTANT>"), ("input_schema", {"type": "object"}),
                         ("output_schema", {"type": "object"}), ("annotations", {}), ("method", "put"),
                         ("path", "/refund"), ("arg_map", {}), ("body_content_type", "text/plain"),
                         ("security", [{"key": []}]), ("name", "refund")]:
        assert definition_hash(definition_of(row(**{field: value}))) != definition_hash(one), field


def test_changed_sections_in_display_order():
    old = definition_of(row())
    new = definition_of(row(description="Other", path="/x", arg_map={}))
    assert changed_sections(old, new) == ["description", "method/path", "upstream mapping"]
    assert changed_sections(old, old) == []
