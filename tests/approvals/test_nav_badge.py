"""The navigation's pending-approvals count reaches every page through the accounts navigation
extension approvals registers (accounts no longer imports approvals): reviewers see it, members
do not."""

from __future__ import annotations

import pytest

from apps.accounts.context_processors import NAV_EXTENSIONS
from apps.approvals.selectors import nav_badge

from .conftest import queue_request

pytestmark = pytest.mark.django_db


def test_approvals_registers_its_badge():
    assert NAV_EXTENSIONS.count(nav_badge) == 1


def test_every_page_shows_the_pending_count_to_reviewers_only(world, people, client_for):
    queue_request(world)
    page = client_for(people.reviewer).get("/o/acme/").content.decode()
    assert 'data-testid="nav-approvals-count">1<' in page
    member_page = client_for(people.member).get("/o/acme/").content.decode()
    assert "nav-approvals-count" not in member_page
