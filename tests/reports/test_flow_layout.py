"""Issue 18, item 15: the data-flow diagram's upstream title stays inside its box and the
trust-boundary lines never cross an arrow label (checked on the SVG geometry; the rendered
PDF page is looked at in tests/e2e/test_walkthrough.py)."""

from apps.reports import charts

from .test_charts import parse

NS = "{http://www.w3.org/2000/svg}"


def test_long_upstream_title_fits_its_box():
    svg = parse(charts.data_flow_diagram(charts.FlowFacts(
        upstream_title="Swagger Petstore - OpenAPI 3.0 with a very long name")))
    titles = [t.text for t in svg.iter(NS + "text") if t.get("font-weight") == "bold"]
    upstream = titles[2]
    assert upstream.endswith("…") and len(upstream) <= int(168 / 8.4)  # ~7.5 px per bold character


def test_trust_boundaries_leave_the_arrow_labels_free():
    svg = parse(charts.data_flow_diagram(charts.FlowFacts()))
    labels = [t for t in svg.iter(NS + "text") if t.text in ("tools/call", "mcpf_ token", "HTTPS request",
                                                             "+ credential", "result", "response")]
    dotted = [line for line in svg.iter(NS + "line") if line.get("stroke-dasharray") == "2 3"]
    assert len(dotted) == 4 and len(labels) == 6
    for line in dotted:
        x, y1, y2 = float(line.get("x1")), float(line.get("y1")), float(line.get("y2"))
        for label in labels:
            if abs(float(label.get("x")) - x) < 1:
                y = float(label.get("y"))
                assert not (y1 - 2 <= y <= y2 + 9), (label.text, y, y1, y2)  # text spans ~9 px above y


def test_every_box_stays_inside_the_diagram_width():
    """The upstream box ran off the page: every box lies inside the SVG's own width."""
    for width in (680, 520):
        svg = parse(charts.data_flow_diagram(charts.FlowFacts(
            upstream_title="Swagger Petstore - OpenAPI 3.0 with a very long name"), width=width))
        view_width = float(svg.get("viewBox").split()[2])
        assert view_width <= width
        boxes = [r for r in svg.iter(NS + "rect") if r.get("width")]
        assert len(boxes) >= 6
        for rect in boxes:
            assert float(rect.get("x", 0)) >= 0 and float(rect.get("x", 0)) + float(rect.get("width")) <= view_width, \
                (width, rect.attrib)
