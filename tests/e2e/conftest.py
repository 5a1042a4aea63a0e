"""Playwright with Debian's chromium (never `playwright install`), against pytest-django's
live server. Screenshots go to test-artifacts/ for a human to look at."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - imported from here by other test packages
from tests.conftest import ARTIFACTS_DIR


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def shot():
    ARTIFACTS_DIR.mkdir(exist_ok=True)

    def take(page, name: str):
        path = ARTIFACTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def login(page, live_server, email: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
