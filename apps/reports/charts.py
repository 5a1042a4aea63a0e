"""Charts and the data-flow diagram of the security report, as inline SVG. Pure: no Django.

Everything here returns an SVG string built from plain numbers and labels, so the same
markup renders in the browser (HTML report) and in WeasyPrint (PDF) with no JavaScript and
no image files. Every label is XML-escaped: tool names, environment names and spec titles
come from uploaded documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as _xml_escape

from apps.core.numbers import points

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
INK = "#111827"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BRAND = "#4f46e5"

RISK_COLORS = {"low": "#10b981", "medium": "#f59e0b", "high": "#ef4444", "critical": "#7f1d1d",
               "unclassified": "#9ca3af"}
CATEGORY_COLORS = {"read_only": "#0ea5e9", "side_effect": "#6366f1", "critical": "#dc2626",
                   "administrative": "#a855f7", "billing": "#f59e0b", "unclassified": "#9ca3af"}

#: Score bands of the gauge, low to high: (upper bound exclusive, colour, label). The same
#: thresholds and colours as the product's own gauge (apps/risk/templatetags/risk_tags.py).
SCORE_BANDS = ((50, "#dc2626", "At risk"), (80, "#d97706", "Needs work"), (101, "#16a34a", "Good"))


def esc(text: object) -> str:
    return _xml_escape(str(text), {'"': "&quot;"})


def _num(value: float) -> str:
    """Compact coordinates: 12.0 -> "12", 12.3456 -> "12.35"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Slice:
    """One value of a chart: a bar or a donut segment."""

    label: str
    value: float
    color: str


def score_band(score: float | None) -> tuple[str, str]:
    """(colour, label) of a 0-100 Security Score."""
    if score is None:
        return RISK_COLORS["unclassified"], "Not scored"
    for upper, color, label in SCORE_BANDS:
        if score < upper:
            return color, label
    return SCORE_BANDS[-1][1], SCORE_BANDS[-1][2]


def _polar(cx: float, cy: float, r: float, angle_deg: float) -> tuple[float, float]:
    # 0 degrees points left (score 0), 180 degrees points right (score 100): a top half-circle.
    rad = math.radians(180 - angle_deg)
    return cx + r * math.cos(rad), cy - r * math.sin(rad)


def _arc(cx: float, cy: float, r: float, start: float, end: float) -> str:
    x1, y1 = _polar(cx, cy, r, start)
    x2, y2 = _polar(cx, cy, r, end)
    large = 1 if end - start > 180 else 0
    return f"M{_num(x1)} {_num(y1)} A{_num(r)} {_num(r)} 0 {large} 1 {_num(x2)} {_num(y2)}"


def gauge(score: float | None, *, width: int = 260, caption: str = "Security Score") -> str:
    """A half-circle gauge 0-100: faint coloured bands, the score's arc filled in its band's colour,
    the number and the band name inside the arc."""
    r = width * 0.38
    stroke = width * 0.085
    cx = width / 2
    cy = stroke / 2 + 6 + r
    height = round(cy + width * 0.11)
    spoken = "not scored" if score is None else f"{round(score)} of 100"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mf-chart mf-gauge" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{esc(caption)}: {esc(spoken)}">']
    lower = 0
    for upper, color, _label in SCORE_BANDS:
        top = min(upper, 100)
        parts.append(f'<path d="{_arc(cx, cy, r, lower * 1.8 + 0.5, top * 1.8 - 0.5)}" fill="none" '
                     f'stroke="{color}" stroke-width="{_num(stroke)}" opacity="0.22"/>')
        lower = top
    color, band = score_band(score)
    if score is not None:
        value = max(0.0, min(100.0, float(score)))
        if value > 0:
            parts.append(f'<path d="{_arc(cx, cy, r, 0, max(value * 1.8, 0.8))}" fill="none" '
                         f'stroke="{color}" stroke-width="{_num(stroke)}"/>')
        mx, my = _polar(cx, cy, r, value * 1.8)
        parts.append(f'<circle cx="{_num(mx)}" cy="{_num(my)}" r="{_num(stroke * 0.62)}" fill="#fff" '
                     f'stroke="{color}" stroke-width="{_num(width * 0.012)}"/>')
    tick_y = cy + width * 0.075
    for tick, x in ((0, cx - r), (100, cx + r)):
        parts.append(f'<text x="{_num(x)}" y="{_num(tick_y)}" font-family="{FONT}" '
                     f'font-size="{_num(width * 0.045)}" fill="{MUTED}" text-anchor="middle">{tick}</text>')
    big = "n/a" if score is None else str(round(score))
    parts.append(f'<text x="{_num(cx)}" y="{_num(cy - width * 0.04)}" font-family="{FONT}" '
                 f'font-size="{_num(width * 0.17)}" font-weight="bold" fill="{INK}" text-anchor="middle">'
                 f'{esc(big)}</text>')
    parts.append(f'<text x="{_num(cx)}" y="{_num(tick_y)}" font-family="{FONT}" '
                 f'font-size="{_num(width * 0.052)}" fill="{color}" font-weight="bold" text-anchor="middle" '
                 f'letter-spacing="1">{esc(band.upper())}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[Slice], *, width: int = 320, bar_height: int = 18, label_width: int = 110,
              empty_text: str = "No data") -> str:
    """Horizontal bars, one per item, with the value at the end of each bar."""
    gap = max(6, bar_height // 2)
    height = max(len(items), 1) * (bar_height + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mf-chart mf-bars" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img">']
    if not items:
        parts.append(f'<text x="{width / 2}" y="{height / 2 + 4}" font-family="{FONT}" font-size="11" '
                     f'fill="{MUTED}" text-anchor="middle">{esc(empty_text)}</text></svg>')
        return "".join(parts)
    top = max((item.value for item in items), default=0) or 1
    track = width - label_width - 40
    for i, item in enumerate(items):
        y = gap + i * (bar_height + gap)
        length = track * (item.value / top) if item.value > 0 else 0
        font = max(9, round(bar_height * 0.6))
        parts.append(f'<text x="{label_width - 8}" y="{_num(y + bar_height * 0.72)}" font-family="{FONT}" '
                     f'font-size="{font}" fill="{INK}" text-anchor="end">{esc(item.label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{_num(track)}" height="{bar_height}" rx="3" '
                     f'fill="{GRID}" opacity="0.6"/>')
        if length:
            parts.append(f'<rect x="{label_width}" y="{y}" width="{_num(max(length, 2))}" '
                         f'height="{bar_height}" rx="3" fill="{item.color}"/>')
        parts.append(f'<text x="{_num(label_width + max(length, 0) + 6)}" y="{_num(y + bar_height * 0.72)}" '
                     f'font-family="{FONT}" font-size="{font}" font-weight="bold" fill="{INK}">'
                     f'{esc(_fmt(item.value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def donut(items: Sequence[Slice], *, size: int = 150, center_value: str = "", center_label: str = "",
          legend: bool = True, legend_width: int = 170) -> str:
    """A donut of the items' shares with the total (or ``center_value``) in the hole and a legend."""
    total = sum(max(item.value, 0) for item in items)
    rows = [item for item in items if item.value > 0]
    width = size + (legend_width if legend else 0)
    legend_height = len(items) * 18 + 8
    height = max(size, legend_height)
    cx = cy = size / 2
    r = size * 0.40
    stroke = size * 0.17
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mf-chart mf-donut" width="{width}" '
             f'height="{_num(height)}" viewBox="0 0 {width} {_num(height)}" role="img">']
    cy = height / 2
    parts.append(f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" fill="none" stroke="{GRID}" '
                 f'stroke-width="{_num(stroke)}"/>')
    if total > 0:
        if len(rows) == 1:
            parts.append(f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" fill="none" '
                         f'stroke="{rows[0].color}" stroke-width="{_num(stroke)}"/>')
        else:
            start = 0.0
            for item in rows:
                sweep = 360.0 * item.value / total
                parts.append(f'<path d="{_donut_arc(cx, cy, r, start, start + sweep)}" fill="none" '
                             f'stroke="{item.color}" stroke-width="{_num(stroke)}"/>')
                start += sweep
    value_text = center_value or _fmt(total)
    parts.append(f'<text x="{_num(cx)}" y="{_num(cy + size * 0.03)}" font-family="{FONT}" '
                 f'font-size="{_num(size * 0.17)}" font-weight="bold" fill="{INK}" text-anchor="middle">'
                 f'{esc(value_text)}</text>')
    if center_label:
        parts.append(f'<text x="{_num(cx)}" y="{_num(cy + size * 0.14)}" font-family="{FONT}" '
                     f'font-size="{_num(size * 0.075)}" fill="{MUTED}" text-anchor="middle">'
                     f'{esc(center_label)}</text>')
    if legend:
        ly = (height - legend_height) / 2 + 12
        for i, item in enumerate(items):
            y = ly + i * 18
            share = f"{round(100 * item.value / total)}%" if total else "0%"
            parts.append(f'<rect x="{size + 10}" y="{_num(y - 9)}" width="10" height="10" rx="2" '
                         f'fill="{item.color}"/>')
            parts.append(f'<text x="{size + 26}" y="{_num(y)}" font-family="{FONT}" font-size="10.5" '
                         f'fill="{INK}">{esc(item.label)} <tspan fill="{MUTED}">{esc(_fmt(item.value))} '
                         f'({share})</tspan></text>')
    parts.append("</svg>")
    return "".join(parts)


def _donut_arc(cx: float, cy: float, r: float, start: float, end: float) -> str:
    # Clockwise from 12 o'clock; a tiny gap keeps neighbouring segments distinct.
    def point(angle: float) -> tuple[float, float]:
        rad = math.radians(angle - 90)
        return cx + r * math.cos(rad), cy + r * math.sin(rad)

    if end - start > 1.2:
        end -= 0.6
    x1, y1 = point(start)
    x2, y2 = point(end)
    large = 1 if end - start > 180 else 0
    return f"M{_num(x1)} {_num(y1)} A{_num(r)} {_num(r)} 0 {large} 1 {_num(x2)} {_num(y2)}"


def _fmt(value: float) -> str:
    """Values shown in charts read like everywhere else (apps.core.numbers.points)."""
    return points(value)


# --------------------------------------------------------------------------- data-flow diagram


@dataclass(frozen=True)
class FlowFacts:
    """What the data-flow diagram shows; every string is a short human-readable line."""

    agent_lines: Sequence[str] = ("AI agent (MCP client)",)
    gateway_lines: Sequence[str] = ()
    upstream_title: str = "Upstream API"
    upstream_lines: Sequence[str] = ()
    credential_lines: Sequence[str] = ()
    audit_lines: Sequence[str] = ()
    approval_lines: Sequence[str] = ()
    environments: Sequence[str] = field(default_factory=tuple)


def _box(x: float, y: float, w: float, h: float, title: str, lines: Sequence[str], *, fill: str, stroke: str,
         title_color: str = INK, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    out = [f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="10" fill="{fill}" '
           f'stroke="{stroke}" stroke-width="1.6"{dash}/>',
           f'<text x="{_num(x + w / 2)}" y="{_num(y + 20)}" font-family="{FONT}" font-size="12.5" '
           f'font-weight="bold" fill="{title_color}" text-anchor="middle">{esc(_clip(title, int(w / 8.4)))}</text>']
    limit = int(w / 5.6)
    for i, line in enumerate(lines):
        out.append(f'<text x="{_num(x + w / 2)}" y="{_num(y + 38 + i * 14)}" font-family="{FONT}" '
                   f'font-size="9.5" fill="{MUTED}" text-anchor="middle">{esc(_clip(line, limit))}</text>')
    return "".join(out)


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arrow(x1: float, y1: float, x2: float, y2: float, label: str = "", *, color: str = INK,
           dashed: bool = False, label_dy: float = -6) -> str:
    """A straight arrow; ``label`` may hold two lines separated by a newline (stacked above the
    arrow for a negative ``label_dy``, below it for a positive one)."""
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    out = [f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" stroke="{color}" '
           f'stroke-width="1.6"{dash}/>']
    angle = math.atan2(y2 - y1, x2 - x1)
    head = 8
    left = (x2 - head * math.cos(angle - 0.42), y2 - head * math.sin(angle - 0.42))
    right = (x2 - head * math.cos(angle + 0.42), y2 - head * math.sin(angle + 0.42))
    out.append(f'<path d="M{_num(x2)} {_num(y2)} L{_num(left[0])} {_num(left[1])} '
               f'L{_num(right[0])} {_num(right[1])} Z" fill="{color}"/>')
    lines = [line for line in label.split("\n") if line]
    if label_dy < 0:
        lines = list(reversed(lines))
    for i, line in enumerate(lines):
        y = (y1 + y2) / 2 + label_dy + (i * 11 if label_dy > 0 else -i * 11)
        out.append(f'<text x="{_num((x1 + x2) / 2)}" y="{_num(y)}" font-family="{FONT}" '
                   f'font-size="8.5" fill="{color}" text-anchor="middle">{esc(_clip(line, 22))}</text>')
    return "".join(out)


def data_flow_diagram(facts: FlowFacts, *, width: int = 680) -> str:
    """Agent -> MCPForge gateway -> upstream API, with the credential vault, the approval queue
    and the audit log hanging off the gateway: where secrets live and where evidence is written."""
    height = 318
    col_w = 168
    gap = (width - 3 * col_w) / 2
    top_h = 112
    y_top = 26
    gx = col_w + gap
    ux = 2 * (col_w + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mf-chart mf-flow" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Data flow: agent to MCPForge gateway to upstream API">']
    mid = y_top + top_h / 2
    for bx in (gx - gap / 2, ux - gap / 2):
        # interrupted where the arrow labels sit, so the line never crosses a word
        for y1, y2 in ((16, mid - 38), (mid + 28, y_top + top_h + 8)):
            parts.append(f'<line x1="{_num(bx)}" y1="{_num(y1)}" x2="{_num(bx)}" y2="{_num(y2)}" '
                         f'stroke="{MUTED}" stroke-width="1" stroke-dasharray="2 3"/>')
        parts.append(f'<text x="{_num(bx)}" y="11" font-family="{FONT}" font-size="8" fill="{MUTED}" '
                     f'text-anchor="middle">TRUST BOUNDARY</text>')
    parts.append(_box(0, y_top, col_w, top_h, "AI agent", list(facts.agent_lines)[:5],
                      fill="#f8fafc", stroke="#94a3b8"))
    parts.append(_box(gx, y_top, col_w, top_h, "MCPForge gateway", list(facts.gateway_lines)[:5],
                      fill="#eef2ff", stroke=BRAND, title_color=BRAND))
    parts.append(_box(ux, y_top, col_w, top_h, facts.upstream_title, list(facts.upstream_lines)[:5],
                      fill="#f0fdf4", stroke="#16a34a", title_color="#166534"))
    mid = y_top + top_h / 2
    parts.append(_arrow(col_w + 3, mid - 8, gx - 3, mid - 8, "tools/call\nmcpf_ token", color=INK))
    parts.append(_arrow(gx - 3, mid + 10, col_w + 3, mid + 10, "result", color=MUTED, dashed=True,
                        label_dy=13))
    parts.append(_arrow(gx + col_w + 3, mid - 8, ux - 3, mid - 8, "HTTPS request\n+ credential", color=INK))
    parts.append(_arrow(ux - 3, mid + 10, gx + col_w + 3, mid + 10, "response", color=MUTED, dashed=True,
                        label_dy=13))
    bottom_y = y_top + top_h + 50
    bottom_h = height - bottom_y - 20
    small_w = 158
    spacing = 14
    total = 3 * small_w + 2 * spacing
    start_x = max(2, min(gx + col_w / 2 - total / 2, width - total - 2))
    stores = (
        ("Credential vault", "decrypted only at call time", facts.credential_lines, "#fffbeb", "#b45309"),
        ("Approval queue", "holds risky calls for humans", facts.approval_lines, "#fdf4ff", "#9333ea"),
        ("Audit log", "hash-chained, append-only", facts.audit_lines, "#f8fafc", "#475569"),
    )
    for i, (title, role, lines, fill, stroke) in enumerate(stores):
        x = start_x + i * (small_w + spacing)
        parts.append(_box(x, bottom_y, small_w, bottom_h, title, [role, *list(lines)[:4]], fill=fill,
                          stroke=stroke, title_color=stroke))
        parts.append(_arrow(gx + col_w / 2 + (i - 1) * 46, y_top + top_h + 2, x + small_w / 2, bottom_y - 3,
                            color=stroke))
    if facts.environments:
        parts.append(f'<text x="2" y="{height - 5}" font-family="{FONT}" font-size="9" fill="{MUTED}">'
                     f'Environments: {esc(_clip(", ".join(facts.environments), 90))}</text>')
    parts.append("</svg>")
    return "".join(parts)
