"""The PDF report lists tools changed since review per environment, and its checklist does not
claim every definition is reviewed while one waits (issue 17, item 3)."""

import pytest

from apps.reports.selectors import report_pdf
from tests.governance.test_definition_reviews import pending_world

from .conftest import build_report, pdf_text

pytestmark = pytest.mark.django_db


def test_report_lists_tools_changed_since_review_and_the_checklist_says_missing(people):
    from apps.governance.services import definition_accept

    project, production, setting = pending_world(people)
    text = pdf_text(report_pdf(build_report(project, people.owner)))
    assert "production: 1 tool changed since review" in text
    assert "development: all reviewed" in text
    assert "createRefund production POST /echo/refunds flagged" in text
    assert ("Tool definitions reviewed ✗ MISSING 1 tool changed since review (createRefund in production)"
            in text)

    definition_accept(setting=setting, actor=people.admin, expected_sha256=setting.pending_hash,
                      override_reason="checked")
    text = pdf_text(report_pdf(build_report(project, people.owner)))
    assert "changed since review" not in text
    assert "Tool definitions reviewed ✓ DONE Every enabled tool serves the definition an admin reviewed" in text
