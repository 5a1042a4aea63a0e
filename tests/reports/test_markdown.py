"""The Markdown subset used for the scoring formula: structure and escaping."""

from apps.reports.markdown import to_html


def test_headings_lists_tables_and_inline():
    html = to_html("### Title\n\nSome **bold** and `code`.\n\n1. one\n2. two\n\n- a\n- b\n\n"
                   "| A | B |\n|---|---|\n| 1 | `x` |\n")
    assert "<h5>Title</h5>" in html
    assert to_html("1. a\n\n| x |\n|---|\n| 1 |\n\n2. b").endswith("<ol start=\"2\"><li>b</li></ol>")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<ol><li>one</li><li>two</li></ol>" in html
    assert "<ul><li>a</li><li>b</li></ul>" in html
    assert "<table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>1</td><td><code>x</code></td>" in html


def test_raw_html_is_escaped():
    html = to_html("<script>alert(1)</script> **<b>x</b>**\n\n| <i> |\n|---|\n| <img src=x> |")
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html


def test_fenced_code_keeps_text_verbatim():
    html = to_html("```\nscore = a * b\n<tag>\n```")
    assert "<pre><code>score = a * b\n&lt;tag&gt;</code></pre>" in html


def test_the_real_formula_renders():
    from apps.risk.score import FORMULA_MARKDOWN

    html = to_html(FORMULA_MARKDOWN)
    assert "<table>" in html and "description_poisoning" in html and "<li>" in html
