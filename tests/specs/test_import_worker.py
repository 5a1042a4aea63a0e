"""The background path, with a real Celery worker process and Redis."""

import pytest
from django.core.management import call_command

from apps.specs.models import SpecVersion
from tests.conftest import SPECS_DIR, make_user, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner_project():
    from apps.accounts.services import organization_create
    from apps.projects.services import project_create

    owner = make_user("worker-owner@acme.test")
    org = organization_create(name="Worker Org", actor=owner)
    return owner, project_create(organization=org, name="Box", actor=owner)


def test_api_import_is_analysed_by_the_worker(celery_worker_process, owner_project):
    from rest_framework.test import APIClient

    from apps.accounts.services import token_create

    owner, project = owner_project
    _, raw = token_create(organization=project.organization, user=owner, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(
        f"/api/v1/projects/{project.public_id}/specs/",
        {"document": (SPECS_DIR / "box.json").read_text(), "filename": "box.json"},
        format="json",
    )
    assert response.status_code == 202
    number = response.json()["number"]

    def finished():
        body = client.get(f"/api/v1/projects/{project.public_id}/specs/{number}/").json()
        return body if body["status"] in ("ready", "failed") else None

    body = wait_for(finished, timeout=90)
    assert body["status"] == "ready", body["error"]
    assert body["is_current"] and body["tool_count"] > 250 and body["progress"] == 100


def test_cli_import_waits_for_the_worker(celery_worker_process, owner_project, capsys):
    owner, project = owner_project
    call_command(
        "import_spec",
        str(SPECS_DIR / "tictactoe-v3.1.yaml"),
        "--project",
        f"{project.organization.slug}/{project.slug}",
        "--wait",
        "--timeout",
        "90",
    )
    out = capsys.readouterr().out
    assert "Ready:" in out and "tools" in out
    assert SpecVersion.objects.get(project=project).status == "ready"


def test_cli_reports_a_failed_analysis(celery_worker_process, owner_project, tmp_path):
    from django.core.management.base import CommandError

    owner, project = owner_project
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: [1, 2]\n")
    with pytest.raises(CommandError, match="Analysis failed"):
        call_command(
            "import_spec",
            str(bad),
            "--project",
            f"{project.organization.slug}/{project.slug}",
            "--wait",
            "--timeout",
            "60",
        )
