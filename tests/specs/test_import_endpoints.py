"""Import by upload, paste, URL and REST API; hostile input; access rules on every endpoint."""

import http.server
import json
import threading

import pytest

from apps.audit.models import AuditEvent
from apps.specs.models import SpecVersion
from tests.conftest import SPECS_DIR
from tests.factories import import_spec, make_project

PETSTORE = (SPECS_DIR / "petstore-v3.yaml").read_bytes()


@pytest.fixture
def project(people):
    return make_project(people.org, people.owner)


def _url(people, project, rest=""):
    return f"/o/{people.org.slug}/p/{project.slug}/{rest}"


@pytest.mark.django_db
def test_upload_creates_a_queued_version_and_redirects_to_its_progress(people, project, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(people.member)
    upload = SimpleUploadedFile("petstore.yaml", PETSTORE, content_type="application/yaml")
    response = client.post(_url(people, project, "specs/import/"), {"via": "upload", "file": upload})
    version = SpecVersion.objects.get(project=project)
    assert response.status_code == 302 and response["Location"].endswith(f"/specs/{version.number}/")
    assert (version.status, version.source, version.filename) == ("queued", "upload", "petstore.yaml")
    assert bytes(version.raw) == PETSTORE
    page = client.get(response["Location"])
    assert b"analysis-progress" in page.content and b'hx-trigger="every 1s"' in page.content
    assert AuditEvent.objects.filter(event_type="spec.imported", actor_label="member@acme.test").count() == 1


@pytest.mark.django_db
def test_paste_and_empty_paste(people, project, client_for):
    client = client_for(people.member)
    response = client.post(_url(people, project, "specs/import/"), {"via": "paste", "document": "   "})
    assert response.status_code == 200 and b"This field is required" in response.content
    response = client.post(_url(people, project, "specs/import/"), {"via": "paste", "document": PETSTORE.decode()})
    assert response.status_code == 302
    assert SpecVersion.objects.get(project=project).source == "paste"


@pytest.mark.django_db
def test_oversized_document_is_rejected_with_a_clear_message(people, project, client_for, settings):
    settings.SPEC_MAX_BYTES = 1000
    response = client_for(people.member).post(
        _url(people, project, "specs/import/"), {"via": "paste", "document": PETSTORE.decode()}
    )
    assert response.status_code == 200
    assert b"the limit is" in response.content
    assert not SpecVersion.objects.filter(project=project).exists()
    assert AuditEvent.objects.filter(event_type="spec.import_failed").exists()


@pytest.mark.django_db
def test_thirty_megabyte_upload_rejected_by_the_api(people, project, api_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_for(people.member)
    big = b"a" * (30 * 1024 * 1024)
    url = f"/api/v1/projects/{project.public_id}/specs/"
    response = client.post(url, {"file": SimpleUploadedFile("big.json", big)}, format="multipart")
    assert response.status_code == 400  # a file upload reaches the service, which names size and limit
    assert "30.0 MB" in response.json()["detail"] and "limit is 25 MB" in response.json()["detail"]
    response = client.post(url, {"document": big.decode()}, format="json")  # a body Django refuses to read
    assert response.status_code == 413 and "30.0 MB" in response.json()["detail"]
    assert not SpecVersion.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_url_import_refuses_metadata_and_loopback_addresses(people, project, client_for):
    client = client_for(people.member)
    for url, why in (("http://169.254.169.254/latest/meta-data", b"is never called (link-local cloud metadata"),
                     ("http://127.0.0.1:9/openapi.json", b"is a private or loopback address"),
                     ("http://10.0.0.5/x", b"is a private or loopback address")):
        response = client.post(_url(people, project, "specs/import/"), {"via": "url", "url": url})
        assert response.status_code == 200
        assert why in response.content, url
    assert not SpecVersion.objects.filter(project=project).exists()
    assert AuditEvent.objects.filter(event_type="spec.import_failed").count() == 3


@pytest.fixture
def spec_server():
    """A tiny HTTP server on loopback serving the petstore spec, with a redirect chain."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            if self.path.startswith("/hop"):
                n = int(self.path[4:] or 0)
                self.send_response(302)
                self.send_header("Location", f"/hop{n + 1}" if n < 5 else "/spec.yaml")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/yaml")
            self.end_headers()
            self.wfile.write(PETSTORE)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db
def test_url_import_from_an_allow_listed_host(people, project, api_for, settings, spec_server):
    settings.SPEC_IMPORT_ALLOWED_HOSTS = ["127.0.0.1"]
    client = api_for(people.member)
    response = client.post(
        f"/api/v1/projects/{project.public_id}/specs/", {"url": f"{spec_server}/spec.yaml"}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["source"] == "url" and response.json()["status"] == "queued"
    assert bytes(SpecVersion.objects.get(project=project).raw) == PETSTORE
    # two redirects are fine, more than three are not
    assert (
        client.post(
            f"/api/v1/projects/{project.public_id}/specs/", {"url": f"{spec_server}/hop3"}, format="json"
        ).status_code
        == 202
    )
    response = client.post(
        f"/api/v1/projects/{project.public_id}/specs/", {"url": f"{spec_server}/hop0"}, format="json"
    )
    assert response.status_code == 400 and "more than 3 redirects" in response.json()["detail"]


@pytest.mark.django_db
def test_api_multipart_and_json_import(people, project, api_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_for(people.member)
    response = client.post(
        f"/api/v1/projects/{project.public_id}/specs/",
        {"file": SimpleUploadedFile("p.yaml", PETSTORE)},
        format="multipart",
    )
    assert response.status_code == 202 and response.json()["number"] == 1
    response = client.post(
        f"/api/v1/projects/{project.public_id}/specs/",
        {"document": PETSTORE.decode(), "filename": "p.yaml"},
        format="json",
    )
    assert response.status_code == 202 and response.json()["number"] == 2
    response = client.post(f"/api/v1/projects/{project.public_id}/specs/", {}, format="json")
    assert response.status_code == 400 and "exactly one" in response.json()["detail"]


@pytest.mark.django_db
def test_hostile_documents_fail_with_a_clear_reason(people, project):
    # billion laughs: 9 aliases per level, 9 levels deep
    levels = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        levels.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "\n".join(levels).encode()
    deep = b"[" * 10_000 + b"]" * 10_000
    external = json.dumps(
        {
            "openapi": "3.0.3",
            "info": {"title": "x", "version": "1"},
            "paths": {
                "/a": {
                    "get": {
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {"schema": {"$ref": "http://169.254.169.254/latest/meta-data"}}
                                },
                            }
                        }
                    }
                }
            },
        }
    ).encode()
    cases = {"bomb.yaml": (bomb, "alias"), "deep.json": (deep, "nest"), "external.json": (external, "169.254.169.254")}
    for name, (data, expected) in cases.items():
        version = import_spec(project, name, people.member, data=data)
        assert version.status == "failed", name
        assert expected in version.error.lower(), (name, version.error)


@pytest.mark.django_db
def test_version_progress_diff_and_retry_pages(people, project, client_for):
    v1 = import_spec(project, "petstore-v3.yaml", people.owner)
    bad = import_spec(project, "bad.yaml", people.owner, data=b"swagger: '1.2'\n")
    client = client_for(people.viewer)
    assert b"The analysis failed" in client.get(_url(people, project, f"specs/{bad.number}/")).content
    progress = client.get(_url(people, project, f"specs/{v1.number}/progress/"), HTTP_HX_REQUEST="true")
    assert progress.status_code == 200 and progress["HX-Refresh"] == "true"
    assert client.get(_url(people, project, "specs/diff/")).status_code == 200
    # viewer cannot retry, member can (a transient failure: an invalid document is never retried)
    SpecVersion.objects.filter(pk=bad.pk).update(retryable=True)
    assert client.post(_url(people, project, f"specs/{bad.number}/retry/")).status_code == 403
    response = client_for(people.member).post(_url(people, project, f"specs/{bad.number}/retry/"))
    assert response.status_code == 302
    bad.refresh_from_db()
    assert bad.status == "queued"


@pytest.mark.django_db
def test_inventory_pages_and_api(people, project, client_for, api_for, django_assert_max_num_queries):
    import_spec(project, "petstore-v3.yaml", people.owner)
    client = client_for(people.viewer)
    with django_assert_max_num_queries(25):
        page = client.get(_url(people, project, "tools/"))
    assert page.status_code == 200 and b"deletePet" in page.content
    assert b"deletePet" not in client.get(_url(people, project, "tools/"), {"q": "inventory"}).content
    detail = client.get(_url(people, project, "tools/deletePet/"))
    assert detail.status_code == 200 and b"inputSchema" in detail.content
    assert client.get(_url(people, project, "tools/noSuchTool/")).status_code == 404
    api = api_for(people.viewer)
    tools = api.get(f"/api/v1/projects/{project.public_id}/tools/", {"method": "DELETE", "limit": 100}).json()
    assert {t["name"] for t in tools["results"]} >= {"deletePet"}
    assert all(t["method"] == "DELETE" for t in tools["results"])
    # rename: admin only
    assert (
        api.patch(f"/api/v1/projects/{project.public_id}/tools/deletePet/", {"name": "x"}, format="json").status_code
        == 403
    )
    admin = api_for(people.admin)
    bad = admin.patch(f"/api/v1/projects/{project.public_id}/tools/deletePet/", {"name": "bad name!"}, format="json")
    assert bad.status_code == 400 and "letters, digits" in bad.json()["detail"]
    ok = admin.patch(f"/api/v1/projects/{project.public_id}/tools/deletePet/", {"name": "remove_pet"}, format="json")
    assert ok.status_code == 200 and ok.json()["name"] == "remove_pet"


@pytest.mark.django_db
def test_outsider_404_and_wrong_role_403_on_every_spec_endpoint(people, project, client_for, api_for):
    v = import_spec(project, "petstore-v3.yaml", people.owner)
    pages = [
        ("get", "specs/import/"),
        ("get", "specs/"),
        ("get", f"specs/{v.number}/"),
        ("get", f"specs/{v.number}/progress/"),
        ("get", "specs/diff/"),
        ("get", "tools/"),
        ("get", "tools/deletePet/"),
        ("post", f"specs/{v.number}/retry/"),
        ("post", "specs/import/"),
    ]
    outsider = client_for(people.outsider)
    for method, rest in pages:
        assert getattr(outsider, method)(_url(people, project, rest)).status_code == 404, rest
    viewer = client_for(people.viewer)
    assert viewer.post(_url(people, project, "specs/import/"), {"via": "paste", "document": "x"}).status_code == 403
    assert client_for(people.member).post(_url(people, project, "tools/deletePet/"), {"name": "z"}).status_code == 403
    base = f"/api/v1/projects/{project.public_id}"
    api_out = api_for(people.outsider)
    for url in (
        f"{base}/specs/",
        f"{base}/specs/1/",
        f"{base}/specs/diff/?from=1&to=1",
        f"{base}/tools/",
        f"{base}/tools/deletePet/",
    ):
        assert api_out.get(url).status_code == 404, url
    assert api_out.post(f"{base}/specs/", {"document": "x"}, format="json").status_code == 404
    assert api_for(people.viewer).post(f"{base}/specs/", {"document": "x"}, format="json").status_code == 403
