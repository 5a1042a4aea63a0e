"""Reads of the tool inventory. The current inventory is the tools of the project's current
spec version (the newest one whose analysis completed)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.specs.models import SpecVersion

from .models import Tool


def current_version(project) -> SpecVersion | None:
    return SpecVersion.objects.filter(project=project, is_current=True).first()


def current_tools(project) -> QuerySet[Tool]:
    """Tools agents can be offered for this project, in document order."""
    return Tool.objects.filter(project=project, spec_version__is_current=True).order_by("position")


def tool_by_name(project, name: str) -> Tool | None:
    return current_tools(project).filter(name=name).first()
