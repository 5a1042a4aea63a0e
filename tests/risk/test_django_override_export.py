"""Overrides exported as labelled data: REST and page download, roles, audit, and the benchmark
reading the exported file as extra labels (issue 19)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.inventory.selectors import tool_by_name
from apps.risk import services
from apps.risk.evalset import load_labels
from tests.factories import import_spec, make_project

REPO = Path(__file__).resolve().parents[2]
SHARED_SPECS = REPO.parent / "shared" / "specs"


@pytest.fixture
def petstore(people):
    project = make_project(people.org, people.owner)
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    assert version.status == "ready"
    services.risk_override_set(
        tool=tool_by_name(project, "deletePet"),
        actor=people.admin,
        category="side_effect",
        risk_level="medium",
        justification="Soft delete: pets are archived and can be restored.",
    )
    services.risk_override_set(
        tool=tool_by_name(project, "addPet"), actor=people.admin, risk_level="high", justification="Busy store."
    )
    return project


def _api_url(project, fmt=None):
    url = reverse("api-overrides-export", args=[project.public_id])
    return f"{url}?fmt={fmt}" if fmt else url


def _page_url(org, project, fmt):
    return reverse("risk:overrides_export", args=[org.slug, project.slug, fmt])


def test_api_export_json_is_labelled_data_and_audited(people, petstore, api_for):
    response = api_for(people.reviewer).get(_api_url(petstore))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="overrides-{petstore.slug}.json"'
    body = json.loads(response.content)
    assert body["labels"] == [
        {
            "spec": "petstore-v3.yaml",
            "operation": "DELETE /pet/{petId}",
            "category": "side_effect",
            "pii": None,
            "pii_kinds": [],
            "notes": "override by admin@acme.test: Soft delete: pets are archived and can be restored.",
            "source": "override",
        }
    ]  # addPet's override changes only the risk level: no category to learn from
    assert load_labels(response.content.decode())[0].category == "side_effect"
    event = AuditEvent.objects.filter(organization=people.org, event_type="risk.overrides_exported").get()
    assert event.actor == people.reviewer
    assert event.payload == {"project": petstore.slug, "format": "json", "labels": 1, "skipped_risk_level_only": 1}


def test_api_export_csv_round_trips(people, petstore, api_for):
    response = api_for(people.admin).get(_api_url(petstore, "csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["operation"], r["category"], r["pii"]) for r in rows] == [("DELETE /pet/{petId}", "side_effect", "")]
    assert load_labels(response.content.decode())[0].operation == "DELETE /pet/{petId}"


def test_api_export_unknown_format_is_a_400_with_a_message_and_not_audited(people, petstore, api_for):
    response = api_for(people.admin).get(_api_url(petstore, "xml"))
    assert response.status_code == 400
    assert "json or csv" in response.json()["detail"]
    assert not AuditEvent.objects.filter(event_type="risk.overrides_exported").exists()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_api_export_refuses_weak_roles(people, petstore, api_for, role):
    assert api_for(people.by_role(role)).get(_api_url(petstore)).status_code == 403
    assert not AuditEvent.objects.filter(event_type="risk.overrides_exported").exists()


def test_api_export_hides_the_project_from_outsiders(people, petstore, api_for):
    assert api_for(people.outsider).get(_api_url(petstore)).status_code == 404


def test_page_download_and_link_for_reviewers(people, petstore, client_for):
    client = client_for(people.reviewer)
    page = client.get(reverse("risk:findings", args=[people.org.slug, petstore.slug])).content.decode()
    assert 'data-testid="override-export"' in page and _page_url(people.org, petstore, "csv") in page
    response = client.get(_page_url(people.org, petstore, "csv"))
    assert response.status_code == 200
    assert "DELETE /pet/{petId},side_effect" in response.content.decode()
    assert AuditEvent.objects.filter(event_type="risk.overrides_exported", actor=people.reviewer).count() == 1


def test_page_download_refuses_weak_roles_outsiders_and_unknown_formats(people, petstore, client_for):
    member = client_for(people.member)
    assert member.get(_page_url(people.org, petstore, "json")).status_code == 403
    page = member.get(reverse("risk:findings", args=[people.org.slug, petstore.slug])).content.decode()
    assert 'data-testid="override-export"' not in page
    assert client_for(people.outsider).get(_page_url(people.org, petstore, "json")).status_code == 404
    assert client_for(people.admin).get(_page_url(people.org, petstore, "xml")).status_code == 404
    assert not AuditEvent.objects.filter(event_type="risk.overrides_exported").exists()


@pytest.mark.skipif(not (SHARED_SPECS / "petstore-v3.yaml").is_file(), reason="needs ../shared/specs")
def test_benchmark_reads_the_exported_overrides(people, petstore, api_for, tmp_path):
    exported = tmp_path / "overrides.json"
    exported.write_bytes(api_for(people.admin).get(_api_url(petstore)).content)
    run = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(REPO / "bench" / "classify_eval.py"), "--split", "tuning", "--overrides", str(exported),
         "--specs", str(SHARED_SPECS), "--errors"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    section = run.stdout.split("=== overrides overrides.json: ")[1]
    assert section.startswith("1 operations ===")
    # the classifier says critical, the reviewer said side_effect: the benchmark counts the disagreement
    assert "category accuracy   0.000  (0/1)" in section
    assert "petstore-v3.yaml DELETE /pet/{petId}: labelled side_effect, got critical" in section


def test_tool_page_shows_the_evidence_and_the_decision(people, petstore, client_for):
    url = reverse("inventory:detail", args=[people.org.slug, petstore.slug, "loginUser"])
    page = client_for(people.viewer).get(url).content.decode()
    assert "Why this classification" in page
    assert "GET path action &#x27;login&#x27; changes state" in page  # the verb and where it was found
    assert "Decision: administrative: identity, access, credentials or account configuration" in page
    assert "personal fields: request.password, request.username" in page
