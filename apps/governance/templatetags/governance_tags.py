"""Display helpers of the governance pages."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A policy expiry for people: "24 h", "90 min", "3 d 4 h" (up to 48 hours shown in hours)."""
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    if hours <= 48:
        return " ".join(p for p in (f"{hours} h" if hours else "", f"{mins} min" if mins else "") if p) or "0 min"
    days, hours = divmod(hours, 24)
    return " ".join(p for p in (f"{days} d", f"{hours} h" if hours else "", f"{mins} min" if mins else "") if p)


@register.filter
def category_label(value) -> str:
    """"read_only" -> "read-only": a stored category as people read it."""
    from apps.governance.grants import category_label as label

    return label(value)
