"""Small template helpers used across apps."""

import json

from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def risk_badge(level):
    return f"badge badge-risk-{level}" if level else "badge text-bg-light"


@register.filter
def add_class(field, css):
    """Render a bound form field with an extra CSS class (Bootstrap styling of allauth forms)."""
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})


@register.filter
def split_pairs(value):
    """ "a:A,b:B" -> [("a", "A"), ("b", "B")] for small static option lists in templates."""
    return [tuple(item.split(":", 1)) for item in value.split(",")]


@register.filter(name="points")
def points_filter(value) -> str:
    """A score or sub-score: 50.5, 6 (apps.core.numbers.points, the one formatting helper)."""
    from apps.core.numbers import points

    return points(value)


@register.filter(name="deduction")
def deduction_filter(value) -> str:
    """Points a finding removes: "−6" (apps.core.numbers.deduction)."""
    from apps.core.numbers import deduction

    return deduction(value)


@register.filter
def spaced(value) -> str:
    """A stored token as words for a label: "not_in" -> "not in" (the stored value stays the option's value)."""
    return str(value).replace("_", " ")
