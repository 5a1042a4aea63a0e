"""The report's SVG charts and diagram (pure functions): well-formed, escaped, faithful to the data."""

import xml.etree.ElementTree as ET

from apps.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_gauge_shows_score_and_band():
    root = parse(charts.gauge(72))
    assert "72" in texts(root)
    assert "NEEDS WORK" in texts(root)
    assert root.get("aria-label") == "Security Score: 72 of 100"
    # the filled arc uses the band colour of 72
    assert any(p.get("stroke") == charts.score_band(72)[0] and p.get("opacity") is None
               for p in root.iter(f"{SVG}path"))


def test_gauge_without_score_says_not_scored():
    root = parse(charts.gauge(None))
    assert "n/a" in texts(root) and "NOT SCORED" in texts(root)


def test_gauge_clamps_out_of_range_values():
    for value in (-20, 0, 100, 180):
        parse(charts.gauge(value))


def test_score_bands_cover_0_to_100():
    assert charts.score_band(0)[1] == "At risk"
    assert charts.score_band(49)[1] == "At risk"
    assert charts.score_band(50)[1] == "Needs work"
    assert charts.score_band(79)[1] == "Needs work"
    assert charts.score_band(80)[1] == "Good"
    assert charts.score_band(100)[1] == "Good"


def test_bar_chart_lengths_are_proportional():
    root = parse(charts.bar_chart([charts.Slice("Read-only", 100, "#00f"), charts.Slice("Billing", 25, "#f00")],
                                  width=400, label_width=100))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") in ("#00f", "#f00")]
    widths = {r.get("fill"): float(r.get("width")) for r in bars}
    assert abs(widths["#00f"] / widths["#f00"] - 4) < 0.01
    assert {"Read-only", "Billing", "100", "25"} <= set(texts(root))


def test_bar_chart_empty_says_so():
    assert "No findings" in texts(parse(charts.bar_chart([], empty_text="No findings")))


def test_donut_segments_and_legend_shares():
    root = parse(charts.donut([charts.Slice("Low", 3, "#0f0"), charts.Slice("High", 1, "#f00")],
                              center_label="tools"))
    segments = [p for p in root.iter(f"{SVG}path") if p.get("stroke") in ("#0f0", "#f00")]
    assert len(segments) == 2
    joined = " ".join(texts(root))
    assert "4" in texts(root) and "75%" in joined and "25%" in joined


def test_donut_with_one_nonzero_value_is_a_full_ring():
    root = parse(charts.donut([charts.Slice("Low", 5, "#0f0"), charts.Slice("High", 0, "#f00")]))
    assert [c.get("stroke") for c in root.iter(f"{SVG}circle")].count("#0f0") == 1


def test_labels_from_specs_are_escaped():
    evil = '<script>alert(1)</script> & "quotes"'
    for svg in (
        charts.bar_chart([charts.Slice(evil, 1, "#000")]),
        charts.donut([charts.Slice(evil, 1, "#000")]),
        charts.gauge(50, caption=evil),
        charts.data_flow_diagram(charts.FlowFacts(upstream_title=evil, upstream_lines=[evil],
                                                  environments=[evil])),
    ):
        assert "<script>" not in svg
        parse(svg)


def test_data_flow_diagram_names_every_component():
    facts = charts.FlowFacts(gateway_lines=["12 grants"], upstream_title="Adyen Checkout API",
                             credential_lines=["2 stored"], approval_lines=["3 policies"],
                             audit_lines=["every call, always on"], environments=["development", "production"])
    joined = " ".join(texts(parse(charts.data_flow_diagram(facts))))
    for expected in ("AI agent", "MCPForge gateway", "Adyen Checkout API", "Credential vault", "Approval queue",
                     "Audit log", "12 grants", "3 policies", "every call, always on", "TRUST BOUNDARY",
                     "+ credential"):
        assert expected in joined


def test_long_lines_are_clipped_inside_their_box():
    svg = charts.data_flow_diagram(charts.FlowFacts(upstream_lines=["https://" + "x" * 200 + ".example.com"]))
    assert "x" * 60 not in svg and "…" in svg
