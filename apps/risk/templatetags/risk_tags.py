"""Template helpers of the risk app: the override card on the tool page, the score gauge
colours and a small Markdown renderer for the documented score formula."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.inclusion_tag("risk/_override_card.html", takes_context=True)
def risk_override_card(context, tool):
    """The "Override classification" card of the tool page (apps/inventory detail.html).

    Shows the active override (badge, justification, who and when) and, to admins, the form.
    One query."""
    from apps.inventory.models import Tool

    from ..selectors import override_for
    from ..services import VERDICT_PREFIX

    access = context.get("access")
    override = override_for(tool)
    verdict = next((r[len(VERDICT_PREFIX) :] for r in tool.reasons or [] if str(r).startswith(VERDICT_PREFIX)), "")
    return {
        "tool": tool,
        "org": context.get("org"),
        "project": context.get("project"),
        "override": override,
        "verdict": verdict,
        "can_override": bool(access and access.can("risk.override")),
        "categories": Tool.Category.choices,
        "risk_levels": Tool.RiskLevel.choices,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def overridden(tool) -> bool:
    """Whether an admin overrode this tool's classification, for an "overridden" badge in a
    table: ``{% if t|overridden %}<span class="badge text-bg-warning"
    title="{{ t.reasons.0 }}">overridden</span>{% endif %}`` (the title holds who and why)."""
    from ..services import is_overridden

    return is_overridden(tool)


@register.filter
def pii_label(kind) -> str:
    """A kind of personal data in words: "payment card number", "government ID number"."""
    from apps.risk.pii import kind_label

    return kind_label(kind)


@register.filter
def score_colour(score) -> str:
    """Gauge colour: green from 80, amber from 50, red below."""
    try:
        value = int(score)
    except (TypeError, ValueError):
        return "#9ca3af"
    return "#16a34a" if value >= 80 else "#d97706" if value >= 50 else "#dc2626"


@register.filter
def score_grade(score) -> str:
    try:
        value = int(score)
    except (TypeError, ValueError):
        return "no score"
    return "good" if value >= 80 else "needs work" if value >= 50 else "at risk"


@register.filter
def severity_badge(severity: str) -> str:
    return {
        "critical": "badge badge-risk-critical",
        "high": "badge badge-risk-high",
        "medium": "badge badge-risk-medium",
        "low": "badge badge-risk-low",
    }.get(str(severity), "badge text-bg-light border")


@register.filter
def percent_of(value, total) -> int:
    try:
        return round(100 * int(value) / int(total)) if int(total) else 0
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------------- Markdown (formula page)

_ORDERED = re.compile(r"^(\d+)\.\s+(.*)$")
_BULLET = re.compile(r"^[*-]\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _inline(text: str) -> str:
    """Escape, then `code` and **bold** (the formula text uses nothing else)."""
    out = escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _table(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    head, body = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
    html = ['<table class="table table-sm table-bordered w-auto small"><thead><tr>']
    html += [f"<th>{_inline(c)}</th>" for c in head]
    html.append("</tr></thead><tbody>")
    for row in body:
        html.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
    html.append("</tbody></table>")
    return "".join(html)


def _starts_block(line: str) -> bool:
    return bool(line.lstrip().startswith("|") or _HEADING.match(line) or _ORDERED.match(line) or _BULLET.match(line))


def _list(lines: list[str], pattern: re.Pattern, tag: str) -> tuple[str, int]:
    """A list starting at lines[0] (indent 0); items own the more-indented lines after them."""
    items: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = pattern.match(line)
        if match and _indent(line) == 0:
            items.append([match.group(match.lastindex)])
            i += 1
            continue
        if line.strip() == "" or _indent(line) > 0:
            if items:
                items[-1].append(line)
            i += 1
            continue
        break
    html = [f"<{tag}>"]
    for item in items:
        first, rest = item[0], item[1:]
        width = min((_indent(r) for r in rest if r.strip()), default=0)
        rest = [r[width:] for r in rest]
        while rest and rest[0].strip() and not _starts_block(rest[0]):
            first += " " + rest.pop(0).strip()  # a wrapped line continues the item's text
        html.append(f"<li>{_inline(first)}{_blocks(rest, nested=True)}</li>")
    html.append(f"</{tag}>")
    return "".join(html), i


def _blocks(lines: list[str], nested: bool = False) -> str:
    html: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            level = min(6, len(heading.group(1)) + 2)  # "###" renders as h5 inside a card
            html.append(f'<h{level} class="mt-2">{_inline(heading.group(2))}</h{level}>')
            i += 1
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            html.append(_table(lines[i:j]))
            i = j
        elif _ORDERED.match(line) or _BULLET.match(line):
            pattern, tag = (_ORDERED, "ol") if _ORDERED.match(line) else (_BULLET, "ul")
            block, used = _list(lines[i:], pattern, tag)
            html.append(block)
            i += used
        else:
            j = i
            para: list[str] = []
            while j < len(lines) and lines[j].strip() and not _starts_block(lines[j]):
                para.append(lines[j].strip())
                j += 1
            text = _inline(" ".join(para))
            html.append(f'<span class="d-block mt-1">{text}</span>' if nested else f"<p>{text}</p>")
            i = j
    return "".join(html)


@register.filter
def markdown_lite(text: str) -> str:
    """Headings, paragraphs, pipe tables, nested numbered/bulleted lists, `code` and **bold**:
    enough for ``apps.risk.score.FORMULA_MARKDOWN``. Everything is escaped first."""
    return mark_safe(_blocks(str(text or "").splitlines()))  # noqa: S308 - built from escaped text only
