"""The live Security Score: governance findings follow policies, switches, credentials and
overrides on the next read, without a re-import; cached while nothing changes."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.credentials.services import credential_set
from apps.governance.services import policy_create, tool_set_enabled
from apps.inventory.models import Tool
from apps.inventory.selectors import current_version, tool_by_name
from apps.risk import selectors, services
from tests.factories import import_spec, make_project

SPEC = b"""
openapi: 3.0.3
info: {title: Ledger, version: "1.0"}
servers: [{url: "https://api.ledger.test"}]
components:
  securitySchemes:
    LedgerKey: {type: apiKey, in: header, name: X-Api-Key}
security: [{LedgerKey: []}]
paths:
  /entries:
    get:
      operationId: listEntries
      summary: List ledger entries
      parameters: [{name: limit, in: query, schema: {type: integer, maximum: 100}}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, maxItems: 100,
                items: {type: object, properties: {id: {type: string, format: uuid}}}}}}}
        "429": {description: slow down}
  /entries/{id}:
    delete:
      operationId: deleteEntry
      summary: Permanently delete a ledger entry
      parameters: [{name: id, in: path, required: true, schema: {type: string, format: uuid}}]
      responses:
        "204": {description: deleted}
        "429": {description: slow down}
"""


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()  # this engineer's own Redis database (REDIS_URL)
    yield


@pytest.fixture
def ledger(people):
    project = make_project(people.org, people.owner, name="Ledger")
    version = import_spec(project, "ledger.yaml", people.owner, data=SPEC)
    assert version.status == "ready", version.error
    return project


def _codes(findings):
    return {f["code"] for f in findings}


def test_no_score_before_a_spec(people):
    project = make_project(people.org, people.owner, name="Empty")
    assert selectors.project_score(project) == (None, [])


def test_policy_and_credential_change_the_score_without_reimport(people, ledger):
    dev = ledger.environments.get(slug="development")
    assert tool_by_name(ledger, "deleteEntry").category == "critical"

    score0, findings0 = selectors.project_score(ledger)
    # read-only tools start enabled in development; nothing is stored for them yet
    assert "upstream_credentials_not_configured" in _codes(findings0)
    assert "critical_tool_without_approval" not in _codes(findings0)  # critical tools start disabled

    tool_set_enabled(project=ledger, environment=dev, operation_keys=["DELETE /entries/{id}"], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    score1, findings1 = selectors.project_score(ledger)
    critical = next(f for f in findings1 if f["code"] == "critical_tool_without_approval")
    assert critical["tools"] == ["deleteEntry"] and critical["category"] == "governance"
    assert score1["score"] < score0["score"]

    policy_create(project=ledger, actor=people.admin, name="Critical tools need a reviewer", kind="single",
                  categories=["critical"])
    score2, findings2 = selectors.project_score(ledger)
    assert "critical_tool_without_approval" not in _codes(findings2)
    assert score2["score"] > score1["score"]

    credential_set(environment=dev, scheme_name="LedgerKey", values={"value": "ledger-key-0123456789"},
                   actor=people.admin)
    score3, findings3 = selectors.project_score(ledger)
    assert "upstream_credentials_not_configured" not in _codes(findings3)
    assert score3["score"] > score2["score"]
    # every point is explained
    assert {d["code"] for d in score3["deductions"]} == _codes(findings3)
    # the document's own findings are unchanged throughout
    version = current_version(ledger)
    stored = {f["code"] for f in version.findings if f["category"] != "governance"}
    assert stored <= _codes(findings3)


def test_an_override_changes_the_live_score(people, ledger):
    dev = ledger.environments.get(slug="development")
    tool_set_enabled(project=ledger, environment=dev, operation_keys=["DELETE /entries/{id}"], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    score1, findings1 = selectors.project_score(ledger)
    assert "critical_tool_without_approval" in _codes(findings1)
    services.risk_override_set(tool=tool_by_name(ledger, "deleteEntry"), actor=people.admin,
                               category="side_effect", justification="Entries are soft-deleted and restorable.")
    score2, findings2 = selectors.project_score(ledger)
    assert "critical_tool_without_approval" not in _codes(findings2)
    assert score2["score"] > score1["score"]


def test_score_is_cached_until_the_configuration_changes(people, ledger, django_assert_max_num_queries):
    selectors.project_score(ledger)
    with django_assert_max_num_queries(2):  # current version + configuration stamp
        first = selectors.project_score(ledger)
    dev = ledger.environments.get(slug="development")
    tool_set_enabled(project=ledger, environment=dev, operation_keys=["DELETE /entries/{id}"], enabled=True,
                     actor=people.admin, reason="confirmed in test")
    second = selectors.project_score(ledger)
    assert "critical_tool_without_approval" in _codes(second[1])
    assert "critical_tool_without_approval" not in _codes(first[1])


def test_rows_to_pure_data_round_trip(people, ledger):
    row = Tool.objects.get(project=ledger, name="deleteEntry")
    tool = selectors.tool_def_from_row(row)
    assert (tool.name, tool.operation_key, tool.method, tool.path) == ("deleteEntry", "DELETE /entries/{id}",
                                                                       "DELETE", "/entries/{id}")
    assert tool.input_schema == row.input_schema and tool.security == [{"LedgerKey": []}]
    cls = selectors.classification_from_row(row)
    assert (cls.category, cls.risk_level, cls.side_effect, cls.destructive) == ("critical", row.risk_level, True, True)


def test_box_score_is_fast_enough_for_a_page_load(people):
    """300 tools: rebuilding pure data from rows, and the uncached live score, stay well under
    a page budget; the cached read is two queries."""
    project = make_project(people.org, people.owner, name="Box")
    version = import_spec(project, "box.json", people.owner)
    assert version.status == "ready" and version.tool_count > 250

    rows = list(Tool.objects.filter(spec_version=version))
    start = time.perf_counter()
    tools = [selectors.tool_def_from_row(r) for r in rows]
    classes = {r.name: selectors.classification_from_row(r) for r in rows}
    rebuild_ms = (time.perf_counter() - start) * 1000
    assert len(tools) == len(classes) == version.tool_count
    assert rebuild_ms < 250, rebuild_ms

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        score, findings = selectors.compute_project_score(project, version)
    uncached_ms = (time.perf_counter() - start) * 1000
    assert score["score"] >= 0 and findings
    assert len(queries) <= 12
    assert uncached_ms < 3000, uncached_ms

    selectors.project_score(project)
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.project_score(project)[0] == score
    cached_ms = (time.perf_counter() - start) * 1000
    assert len(queries) == 2
    assert cached_ms < 500, cached_ms
    print(f"\nBox {version.tool_count} tools: rebuild {rebuild_ms:.1f} ms, uncached score {uncached_ms:.0f} ms "
          f"({len(queries)} queries cached), cached {cached_ms:.1f} ms")


def test_a_cache_outage_does_not_break_the_score(people, ledger, settings):
    expected = selectors.compute_project_score(ledger, current_version(ledger))
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens there
    assert selectors.project_score(ledger) == expected
