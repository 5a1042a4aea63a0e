"""`manage.py scan` as a CI gate in a bare shell: no SECRET_KEY, no DEBUG, no database, exit
0 / 1 / 2 as README documents, and SARIF 2.1.0 output valid against the official schema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import REPO_ROOT, SPECS_DIR

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json").read_text())
BARE_ENV = {"PATH": "/usr/bin:/bin"}  # what `env -i PATH=/usr/bin:/bin` leaves


def scan(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), "scan", *args],
        cwd=cwd,
        env=BARE_ENV if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A CI checkout: the specs copied under the working directory, so artifact URIs are relative."""
    root = tmp_path_factory.mktemp("checkout")
    (root / "api").mkdir()
    for name in ("petstore-v3.yaml", "twilio-api-v2010.json", "tictactoe-v3.1.yaml"):
        shutil.copy(SPECS_DIR / name, root / "api" / name)
    return root


@pytest.fixture(scope="module")
def petstore_sarif(workdir):
    result = scan("api/petstore-v3.yaml", "--format", "sarif", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bare_shell_json_exit_0():
    result = scan(str(SPECS_DIR / "petstore-v3.yaml"))
    assert result.returncode == 0, result.stderr
    assert "SECRET_KEY" not in result.stderr
    assert len(json.loads(result.stdout)["tools"]) == 19


def test_unreachable_database_and_stray_variables_do_not_matter():
    env = {**BARE_ENV, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = scan(str(SPECS_DIR / "tictactoe-v3.1.yaml"), "--format", "markdown", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# MCPForge scan:")


def test_production_settings_stay_strict_for_other_commands():
    """Only `scan` gets the lightweight settings: any other command in a bare shell still refuses."""
    result = subprocess.run(
        [sys.executable, "manage.py", "showmigrations", "--plan"],
        cwd=REPO_ROOT,
        env=BARE_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_scan_settings_have_no_database():
    from mcpforge import settings_scan

    assert settings_scan.DATABASES == {}  # Django's dummy backend: any query raises


def test_fail_on_high_exits_1_and_still_prints(workdir):
    result = scan("api/petstore-v3.yaml", "--fail-on", "high", cwd=workdir)
    assert result.returncode == 1
    assert json.loads(result.stdout)["findings"]
    assert "at or above --fail-on high" in result.stderr


def test_fail_on_is_a_floor_not_an_exact_match(workdir):
    findings = json.loads(scan("api/tictactoe-v3.1.yaml", cwd=workdir).stdout)["findings"]
    order = ("low", "medium", "high", "critical")
    worst = max((order.index(f["severity"]) for f in findings if f["severity"] in order), default=-1)
    assert 0 <= worst < len(order) - 1  # the spec must exercise both outcomes
    for index, level in enumerate(order):
        expected = 1 if index <= worst else 0
        assert scan("api/tictactoe-v3.1.yaml", "--fail-on", level, cwd=workdir).returncode == expected, level


def test_fail_under_exits_1(workdir):
    score = json.loads(scan("api/twilio-api-v2010.json", cwd=workdir).stdout)["score"]
    assert scan("api/twilio-api-v2010.json", "--fail-under", str(score), cwd=workdir).returncode == 0
    assert scan("api/twilio-api-v2010.json", "--fail-under", str(score + 1), cwd=workdir).returncode == 1


@pytest.mark.parametrize(
    "content",
    [None, b"openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: 7\n", b"{not json", b"\xff\xfe\x00garbage"],
    ids=["missing", "no-paths", "broken-json", "binary"],
)
def test_unusable_or_unreadable_file_exits_2(tmp_path, content):
    path = tmp_path / "spec.json"
    if content is not None:
        path.write_bytes(content)
    result = scan(str(path), "--format", "sarif")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert str(path) in result.stderr


def test_usage_errors_exit_2_never_1():
    """1 means "findings" to a CI gate: a typo in the options must not read as that."""
    assert scan(str(SPECS_DIR / "petstore-v3.yaml"), "--fail-under", "101").returncode == 2
    assert scan(str(SPECS_DIR / "petstore-v3.yaml"), "--format", "xml").returncode == 2
    assert scan(str(SPECS_DIR / "petstore-v3.yaml"), "--fail-on", "severe").returncode == 2


def test_spec_max_bytes_is_honoured():
    result = scan(str(SPECS_DIR / "petstore-v3.yaml"), env={**BARE_ENV, "SPEC_MAX_BYTES": "1000"})
    assert result.returncode == 2
    assert "limit" in result.stderr


def test_sarif_is_valid_against_the_official_schema(petstore_sarif):
    jsonschema.validate(petstore_sarif, SARIF_SCHEMA)
    assert petstore_sarif["version"] == "2.1.0"


def test_sarif_rules_and_results(petstore_sarif):
    run = petstore_sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert rules and all(r["id"] and r["shortDescription"]["text"] and r["help"]["text"] for r in rules)
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert "critical_tool_without_approval" in ids
    for result in run["results"]:
        assert result["level"] in ("error", "warning", "note")
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact == {"uri": "api/petstore-v3.yaml", "index": 0, "uriBaseId": "%SRCROOT%"}
    assert run["artifacts"] == [{"location": {"uri": "api/petstore-v3.yaml", "uriBaseId": "%SRCROOT%"}}]


def test_sarif_result_points_at_the_operation_line(petstore_sarif, workdir):
    lines = (workdir / "api" / "petstore-v3.yaml").read_text().splitlines()
    results = petstore_sarif["runs"][0]["results"]
    delete_pet = next(
        r
        for r in results
        if r["ruleId"] == "critical_tool_without_approval" and r["message"]["text"].startswith("deletePet ")
    )
    assert delete_pet["level"] == "error"
    line = delete_pet["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert lines[line - 1].strip() == "delete:"
    # the enclosing path key is the nearest less-indented "/pet/{petId}:" line above it
    above = next(text for text in reversed(lines[: line - 1]) if not text.startswith("    ") and text.strip())
    assert above.strip() == "/pet/{petId}:"


def test_sarif_json_spec_lines(workdir):
    result = scan("api/twilio-api-v2010.json", "--format", "sarif", cwd=workdir)
    assert result.returncode == 0, result.stderr
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, SARIF_SCHEMA)
    lines = (workdir / "api" / "twilio-api-v2010.json").read_text().splitlines()
    located = [r for r in sarif["runs"][0]["results"] if "region" in r["locations"][0]["physicalLocation"]]
    assert located
    for r in located[:50]:
        method = r["message"]["text"].split("(", 1)[1].split(" ", 1)[0].lower() if "(" in r["message"]["text"] else ""
        if method:
            text = lines[r["locations"][0]["physicalLocation"]["region"]["startLine"] - 1]
            assert f'"{method}"' in text


def test_sarif_outside_the_working_directory_uses_an_absolute_file_uri(tmp_path):
    result = scan(str(SPECS_DIR / "petstore-v3.yaml"), "--format", "sarif", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    uri = json.loads(result.stdout)["runs"][0]["artifacts"][0]["location"]["uri"]
    assert uri == (SPECS_DIR / "petstore-v3.yaml").resolve().as_uri()


def test_broken_real_spec_scans_with_import_warnings_located(workdir):
    """A dangling $ref deep in a response schema no longer makes the CI gate exit 2."""
    from tests.specs.helpers import broken_adyen_bytes

    path = workdir / "api" / "adyen-broken.json"
    path.write_bytes(broken_adyen_bytes())
    result = scan("api/adyen-broken.json", "--format", "sarif", cwd=workdir)
    assert result.returncode == 0, result.stderr
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, SARIF_SCHEMA)
    run = sarif["runs"][0]
    assert "import-warning" in [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    lines = path.read_text().splitlines()
    dangling = next(r for r in run["results"] if r["ruleId"] == "import-warning" and "FraudCheckResult" in
                    r["message"]["text"])
    assert dangling["level"] == "note"
    line = dangling["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert '"$ref": "#/components/schemas/FraudCheckResult"' in lines[line - 1]
