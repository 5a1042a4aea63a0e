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
