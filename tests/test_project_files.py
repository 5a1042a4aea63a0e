"""The deployment files say what the README says (no Docker engine here to run them)."""

import yaml

from tests.conftest import REPO_ROOT


def test_docker_compose_defines_the_five_services():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}
    # one scheduler: audit checkpoints and approval expiry (apps/audit, apps/approvals)
    assert services["beat"]["command"].startswith("celery -A mcpforge beat")
    for name in ("web", "worker"):
        env = services[name]["environment"]  # merged from the x-app anchor
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MCPFORGE_KEK"} <= set(env)
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "uvicorn mcpforge.asgi:application" in services["web"]["command"]
    assert "check --fail-level ERROR" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A mcpforge worker")


def test_readme_starts_with_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


def test_collectstatic_with_the_production_storage_finds_every_referenced_file(tmp_path, settings):
    """``make run`` and the Dockerfile run collectstatic with WhiteNoise's manifest storage, which
    rewrites every url() and sourceMappingURL and fails on a missing target (the tests
    themselves serve static files with the plain storage, so only this catches it)."""
    import json
    import re

    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    call_command("collectstatic", "--noinput", "-v0")
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    templates = [*REPO_ROOT.glob("templates/**/*.html"), *REPO_ROOT.glob("apps/*/templates/**/*.html")]
    referenced = {m for path in templates for m in re.findall(r"""{% static ['"]([^'"]+)['"] %}""", path.read_text())}
    assert "vendor/bootstrap/bootstrap.bundle.min.js" in referenced and "vendor/htmx/htmx.min.js" in referenced
    assert referenced <= set(manifest), referenced - set(manifest)
    for name in referenced:
        assert (tmp_path / manifest[name]).is_file()
        assert (tmp_path / (manifest[name] + ".gz")).is_file() or not name.endswith((".js", ".css"))
