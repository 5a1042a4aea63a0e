"""Reads of spec versions, scoped through the project the caller already has access to."""

from __future__ import annotations

from django.http import Http404

from apps.core.query import QueryInput

from .models import SpecVersion
from .servers import suggested_base_url as suggest


def current_version(project) -> SpecVersion | None:
    return SpecVersion.objects.filter(project=project, is_current=True).first()


def versions_of(project):
    return SpecVersion.objects.filter(project=project).defer("raw").order_by("-number")


def version_for(project, number) -> SpecVersion:
    """Version ``number`` (an int, or the text of a URL or query: ASCII digits, in range)."""
    if not isinstance(number, int):
        params = QueryInput({"number": "" if number is None else str(number)})
        number = params.number("number", minimum=1)
        if number is None or not params.ok:
            raise Http404("No such version.")
    version = versions_of(project).filter(number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version


def suggested_base_url(project) -> str:
    """The upstream base URL the current spec's ``servers`` suggest (``servers.suggested_base_url``)."""
    version = (SpecVersion.objects.filter(project=project, is_current=True)
               .only("servers", "source_url").first())
    return suggest(version.servers or [], version.source_url) if version is not None else ""
