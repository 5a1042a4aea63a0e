"""The background path of rotation: a real Celery worker destroys the retired version once the
grace period is over (queued on commit by credential_set)."""

from __future__ import annotations

import pytest

from apps.credentials import services
from apps.credentials.models import CredentialVersion
from apps.inventory.selectors import tool_by_name
from tests.conftest import wait_for
from tests.factories import import_spec, make_project

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(request, monkeypatch, settings):
    monkeypatch.setenv("CREDENTIAL_ROTATION_GRACE_SECONDS", "1")
    settings.CREDENTIAL_ROTATION_GRACE_SECONDS = 1
    return request.getfixturevalue("celery_worker_process")


def test_worker_destroys_the_retired_version_after_the_grace_period(people, worker):
    project = make_project(people.org, people.owner, name="Petstore")
    import_spec(project, "petstore-v3.yaml", people.owner)
    prod = project.environments.get(slug="production")
    services.credential_set(environment=prod, scheme_name="api_key", values={"value": "pk_live_first_key_0000000001"},
                            actor=people.admin)
    services.credential_set(environment=prod, scheme_name="api_key", values={"value": "pk_live_second_key_000000002"},
                            actor=people.admin)
    old = CredentialVersion.objects.get(number=1)
    assert old.status == "retiring"

    def destroyed():
        row = CredentialVersion.objects.get(pk=old.pk)
        return row if row.status == "destroyed" else None

    row = wait_for(destroyed, timeout=30)
    assert bytes(row.ciphertext) == b"" and row.kek_id == "" and row.destroyed_at >= row.retire_after
    assert services.upstream_auth(prod, tool_by_name(project, "getPetById")).headers == {
        "api_key": "pk_live_second_key_000000002"}
