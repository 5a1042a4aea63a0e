"""Builders for tests: real documents from ../shared/specs through the real pipeline."""

from __future__ import annotations

from apps.projects.services import project_create
from apps.risk.analysis import spec_analyse
from apps.specs.models import SpecVersion
from apps.specs.services import spec_import

from .conftest import SPECS_DIR


def make_project(org, actor, name: str = "Petstore"):
    return project_create(organization=org, name=name, actor=actor)


def import_spec(project, spec_name: str, actor, *, data: bytes | None = None) -> SpecVersion:
    """Import ``spec_name`` (a file in the shared specs folder) and analyse it synchronously,
    exactly as the worker would. Returns the refreshed version (ready or failed)."""
    raw = data if data is not None else (SPECS_DIR / spec_name).read_bytes()
    version = spec_import(
        project=project, data=raw, source=SpecVersion.Source.CLI, filename=spec_name, actor=actor, run_async=False
    )
    spec_analyse(version_id=version.pk)
    version.refresh_from_db()
    return version
