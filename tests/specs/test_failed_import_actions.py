"""Issue 18, item 10: a failed import offers "upload a corrected file" (retrying the same bytes
would fail again) beside Retry; read-only roles get neither."""

import pytest

from tests.factories import import_spec, make_project

pytestmark = pytest.mark.django_db


def test_failed_import_offers_a_corrected_upload(people, client_for):
    project = make_project(people.org, people.owner, name="Broken")
    version = import_spec(project, "broken.yaml", people.owner,
                          data=b"openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: 7\n")
    assert version.status == "failed"
    url = f"/o/{people.org.slug}/p/{project.slug}/specs/{version.number}/"
    html = client_for(people.admin).get(url).content.decode()
    assert 'data-testid="upload-corrected"' in html and f"/o/{people.org.slug}/p/{project.slug}/specs/import/" in html
    assert 'data-testid="retry"' in html
    viewer = client_for(people.viewer).get(url).content.decode()
    assert 'data-testid="upload-corrected"' not in viewer
