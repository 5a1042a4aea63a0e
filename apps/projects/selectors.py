"""Reads of projects and environments, always through the caller's organization access."""

from __future__ import annotations

import uuid

from django.http import Http404

from apps.accounts.access import Access, access_for_org_id, org_access

from .models import Environment, Project


def project_for(access: Access, project_slug: str) -> Project:
    project = Project.objects.filter(organization=access.organization, slug=project_slug).first()
    if project is None:
        raise Http404("No such project.")
    return project


def project_access(user, org_slug: str, project_slug: str, capability: str = "project.view") -> tuple[Access, Project]:
    """404 unless the user is a member and the project is in that organization; 403 on weak role."""
    access = org_access(user, org_slug, "org.view")
    project = project_for(access, project_slug)
    access.require(capability)
    return access, project


def project_access_by_id(user, public_id, capability: str = "project.view") -> tuple[Access, Project]:
    """For the REST API, which names projects by UUID."""
    try:
        pid = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise Http404("No such project.") from exc
    project = Project.objects.select_related("organization").filter(public_id=pid).first()
    if project is None:
        raise Http404("No such project.")
    access = access_for_org_id(user, project.organization_id, "org.view")
    access.require(capability)
    return access, project


def environment_for(project: Project, env_slug: str) -> Environment:
    env = Environment.objects.filter(project=project, slug=env_slug).first()
    if env is None:
        raise Http404("No such environment.")
    return env


def projects_of(access: Access):
    return Project.objects.filter(organization=access.organization).prefetch_related("environments")
