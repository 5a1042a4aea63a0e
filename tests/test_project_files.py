"""The deployment files say what the README says (no Docker engine here to run them)."""

import yaml

from tests.conftest import REPO_ROOT


def test_docker_compose_defines_the_four_services():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
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
