"""Reads of spec versions, scoped through the project the caller already has access to."""

from __future__ import annotations

from django.http import Http404

from .models import SpecVersion


def versions_of(project):
    return SpecVersion.objects.filter(project=project).defer("raw").order_by("-number")


def version_for(project, number) -> SpecVersion:
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise Http404("No such version.") from exc
    version = versions_of(project).filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version
