"""`manage.py scan` for CI: offline, no database (DATABASE_URL points at nothing), JSON or
Markdown, exit 0 / 1 (under --fail-under) / 2 (unusable spec)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, SPECS_DIR

TOOL_KEYS = {"name", "method", "path", "operation_id", "category", "risk_level", "risk_score", "side_effect", "pii",
             "reasons", "annotations"}
FINDING_KEYS = {"code", "severity", "message", "tools", "remediation"}


def scan(*args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "SECRET_KEY": "scan-test",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",  # nothing listens there
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DJANGO_SETTINGS_MODULE": "mcpforge.settings",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "scan", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(scope="module")
def petstore_json():
    result = scan(str(SPECS_DIR / "petstore-v3.yaml"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_has_the_documented_shape(petstore_json):
    assert set(petstore_json) == {"score", "tools", "findings"}
    assert isinstance(petstore_json["score"], int) and 0 <= petstore_json["score"] <= 100
    assert len(petstore_json["tools"]) == 19
    assert all(set(t) == TOOL_KEYS for t in petstore_json["tools"])
    assert all(set(f) == FINDING_KEYS for f in petstore_json["findings"])
    delete_pet = next(t for t in petstore_json["tools"] if t["name"] == "deletePet")
    assert (delete_pet["method"], delete_pet["path"], delete_pet["category"]) == ("DELETE", "/pet/{petId}",
                                                                                  "critical")
    assert delete_pet["annotations"]["destructiveHint"] is True
    codes = {f["code"] for f in petstore_json["findings"]}
    assert "critical_tool_without_approval" in codes  # offline: every tool exposed as-is


def test_markdown_report(petstore_json):
    result = scan(str(SPECS_DIR / "petstore-v3.yaml"), "--format", "markdown")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("# MCPForge scan: Swagger Petstore")
    assert f"**Security Score: {petstore_json['score']}/100**" in out
    assert "## Findings" in out and "## Tools" in out
    assert "| `deletePet` | DELETE `/pet/{petId}` | critical |" in out


def test_fail_under_exits_1_but_still_prints(petstore_json):
    score = petstore_json["score"]
    under = scan(str(SPECS_DIR / "petstore-v3.yaml"), "--fail-under", str(score + 1))
    assert under.returncode == 1
    assert json.loads(under.stdout)["score"] == score
    assert f"Security Score {score} is under --fail-under {score + 1}" in under.stderr
    at = scan(str(SPECS_DIR / "petstore-v3.yaml"), "--fail-under", str(score))
    assert at.returncode == 0, at.stderr


def test_unusable_spec_exits_2_with_the_reason(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: 7\n")
    result = scan(str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Unusable spec" in result.stderr and "paths" in result.stderr

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert scan(str(garbage)).returncode == 2


def test_missing_file_and_bad_threshold_exit_2(tmp_path):
    missing = scan(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "Cannot read" in missing.stderr
    bad_threshold = scan(str(SPECS_DIR / "petstore-v3.yaml"), "--fail-under", "101")
    assert bad_threshold.returncode == 2 and "between 0 and 100" in bad_threshold.stderr


def test_big_spec_offline():
    result = scan(str(SPECS_DIR / "box.json"), "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert len(body["tools"]) > 250
    assert {t["category"] for t in body["tools"]} >= {"read_only", "side_effect", "critical"}
