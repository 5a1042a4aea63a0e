"""A small, safe Markdown subset to HTML, for the scoring formula in the report's appendix.
Pure: no Django.

Supported: ATX headings, paragraphs, bullet and numbered lists, fenced code blocks, pipe
tables, and inline `code`, **bold** and *italic*. All text is HTML-escaped first and no raw
HTML or links pass through, so the output is safe to embed whatever the input says.
"""

from __future__ import annotations

import html
import re

_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(?:\d+)[.)]\s+(.*)$")
_NUMBER = re.compile(r"^\s*(\d+)[.)]")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def inline(text: str) -> str:
    """Escape, then apply inline code, bold and italic (code spans are left untouched)."""
    parts = _INLINE_CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            escaped = html.escape(part)
            escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
            escaped = _ITALIC.sub(r"<em>\1</em>", escaped)
            out.append(escaped)
    return "".join(out)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [cell.strip() for cell in line.split("|")]


def to_html(source: str, *, heading_offset: int = 2) -> str:
    """Render ``source``; headings are shifted down by ``heading_offset`` levels (# -> h3)."""
    lines = source.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{inline(' '.join(s.strip() for s in paragraph))}</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
            i += 1
            continue
        if not stripped:
            flush()
            i += 1
            continue
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level = min(6, len(heading.group(1)) + heading_offset)
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if "|" in stripped and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            head = _cells(stripped)
            rows = []
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            out.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows)
                       + "</tbody></table>")
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                flush()
                items = []
                first = line
                while i < len(lines) and pattern.match(lines[i]):
                    text = pattern.match(lines[i]).group(1)
                    i += 1
                    # continuation lines of the same item (indented, not a new item)
                    while (i < len(lines) and lines[i].startswith(("  ", "\t")) and lines[i].strip()
                           and not _BULLET.match(lines[i]) and not _NUMBERED.match(lines[i])):
                        text += " " + lines[i].strip()
                        i += 1
                    items.append(f"<li>{inline(text)}</li>")
                # A numbered list interrupted by a table or bullets continues its numbering.
                start = int(_NUMBER.match(first).group(1)) if tag == "ol" else 1
                attr = f' start="{start}"' if start != 1 else ""
                out.append(f"<{tag}{attr}>{''.join(items)}</{tag}>")
                break
        else:
            paragraph.append(line)
            i += 1
    flush()
    return "\n".join(out)
