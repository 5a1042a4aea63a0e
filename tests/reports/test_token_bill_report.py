"""The PDF report shows the tools/list token bill per environment and per tool."""

import pytest

from apps.inventory.selectors import current_version, environment_token_bill, tool_token_bill

from .conftest import build_report, pdf_text

pytestmark = pytest.mark.django_db


def test_pdf_shows_the_token_bill_per_environment_and_tool(adyen, people):
    report = build_report(adyen, people.member)
    bill = report.data["token_bill"]
    expected = {r["slug"]: r["served"] for r in environment_token_bill(adyen, current_version(adyen))}
    assert {r["slug"]: r["served"] for r in bill["environments"]} == expected
    per_tool = tool_token_bill(current_version(adyen))
    row = report.data["tools"][0]
    assert row["tokens"] == per_tool[row["operation_key"]] and row["tokens"]["compact"] < row["tokens"]["full"]
    text = pdf_text(bytes(report.pdf))
    assert "Token bill of tools/list" in text and "o200k_base" in text
    dev = next(r for r in bill["environments"] if r["slug"] == "development")
    assert f"{row['tokens']['compact']}/{row['tokens']['full']}" in text  # the cell wraps before 'tokens'
    if dev["over_budget"]:
        assert f"Over {bill['budget']}: heaviest {dev['heaviest'][0]['name']}" in text
    else:
        assert f"within {bill['budget']}" in text


def test_pdf_lists_toolsets_with_tool_counts_and_token_bill(adyen, people):
    from apps.inventory.selectors import current_tools
    from apps.toolsets.selectors import toolset_token_bill
    from apps.toolsets.services import toolset_create

    names = list(current_tools(adyen).order_by("position").values_list("name", flat=True))
    toolset_create(project=adyen, actor=people.owner, slug="refunds", name="Refunds desk", tool_names=names[:3],
                   description="What the refunds agent needs")
    toolset_create(project=adyen, actor=people.owner, slug="everything", name="Everything", tool_names=names,
                   compact_tools=False)
    report = build_report(adyen, people.member)
    rows = {r["slug"]: r for r in report.data["token_bill"]["toolsets"]}
    expected = {r["slug"]: r["served"] for r in toolset_token_bill(adyen, current_version(adyen))}
    assert {slug: r["served"] for slug, r in rows.items()} == expected
    assert rows["refunds"]["tools"] == 3 and rows["everything"]["tools"] == len(names)
    assert rows["everything"]["over_budget"] is True  # Adyen's stored definitions: far past 20,000 tokens
    text = " ".join(pdf_text(bytes(report.pdf)).split())
    start = text.index("Curated subsets of the tools")
    section = text[start:text.index("3. Findings", start)]
    words = section.split()  # table cells wrap and interleave in the extracted text: check word by word
    assert {"Refunds", "desk", "refunds", "Everything", "everything", str(rows["refunds"]["served"]),
            str(rows["everything"]["served"]), "Over", "heaviest"} <= set(words)
    assert rows["everything"]["heaviest"][0]["name"].split("-")[0] in section
