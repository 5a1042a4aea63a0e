"""Issue 23 item 4: services read Django settings, never os.environ (only settings modules and
the gateway's conf module read the environment)."""

from __future__ import annotations

import ast
import pathlib

import pytest

APPS = pathlib.Path(__file__).resolve().parents[2] / "apps"
# modules whose job is reading configuration: gateway/conf.py (MCP_* with settings first),
# credentials/crypto.py (load_key_provider_from_env(environ): the app always passes
# keyring.key_environ(), built from settings; the os.environ default serves the pure module used
# on its own), seed_demo's DEMO_PASSWORD default (a command option)
ALLOWED = {"gateway/conf.py", "credentials/crypto.py", "projects/management/commands/seed_demo.py"}


def _environ_reads():
    for path in sorted(APPS.rglob("*.py")):
        rel = str(path.relative_to(APPS))
        if rel in ALLOWED or "/migrations/" in rel:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                yield f"apps/{rel}:{node.lineno}"


def test_no_service_reads_os_environ():
    assert list(_environ_reads()) == []


def test_webhook_private_switch_follows_settings_only(settings, monkeypatch):
    from apps.approvals.webhook_services import webhook_allows_private

    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")
    assert webhook_allows_private() is False
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert webhook_allows_private() is True


@pytest.mark.parametrize("value,on", [(0, False), (1, True)])
def test_compact_listing_follows_settings_only(settings, monkeypatch, value, on):
    from apps.inventory.selectors import compact_listing_on

    settings.MCP_COMPACT_TOOLS = value
    monkeypatch.setenv("MCP_COMPACT_TOOLS", "1" if not on else "0")
    assert compact_listing_on() is on
