"""Every write to projects and environments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from apps.audit.services import audit_record
from apps.core.egress import base_url_problem
from apps.core.errors import Conflict, DomainError

from . import hooks
from .models import DEFAULT_ENVIRONMENTS, Environment, Project

PROJECT_FACT_FIELDS = ("description", "owner_contact", "rollback_procedure", "incident_response_plan")


@transaction.atomic
def project_create(
    *, organization, name: str, actor, description: str = "", environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
) -> Project:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the project a name.", field="name")
    slug = slugify(name)[:60]
    if not slug:
        raise DomainError("The project name needs letters or digits.", field="name")
    try:
        with transaction.atomic():
            project = Project.objects.create(
                organization=organization, name=name[:120], slug=slug, description=description or ""
            )
    except IntegrityError as exc:
        raise Conflict("A project with this name already exists in the organization.", field="name") from exc
    for position, env_name in enumerate(environments):
        Environment.objects.create(
            organization=organization, project=project, name=env_name, slug=slugify(env_name), position=position
        )
    audit_record(
        organization=organization,
        event_type="project.created",
        actor=actor,
        target=project,
        payload={"name": project.name, "environments": list(environments)},
    )
    return project


@transaction.atomic
def project_update(*, project: Project, actor, **fields) -> Project:
    unknown = set(fields) - set(PROJECT_FACT_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    before = {k: getattr(project, k) for k in fields}
    changed = {k: v for k, v in fields.items() if v is not None and before[k] != v}
    if not changed:
        return project
    for key, value in changed.items():
        setattr(project, key, value)
    project.save(update_fields=[*changed, "updated_at"])
    audit_record(
        organization=project.organization,
        event_type="project.updated",
        actor=actor,
        target=project,
        payload={"changed": sorted(changed)},
    )
    return project


@transaction.atomic
def environment_create(*, project: Project, name: str, actor) -> Environment:
    name = (name or "").strip()
    slug = slugify(name)[:60]
    if not slug:
        raise DomainError("Give the environment a name with letters or digits.", field="name")
    if Environment.objects.filter(project=project, slug=slug).exists():
        raise Conflict(f"This project already has an environment called {slug}.", field="name")
    position = (project.environments.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    env = Environment.objects.create(
        organization=project.organization, project=project, name=name[:60], slug=slug, position=position
    )
    audit_record(
        organization=project.organization,
        event_type="environment.created",
        actor=actor,
        target=env,
        payload={"project": project.slug, "environment": slug},
    )
    # tools on by the risk default here are served with a pinned definition (rug-pull protection):
    # apps.governance registers that in hooks.ENVIRONMENT_CREATED
    for hook in hooks.ENVIRONMENT_CREATED:
        hook(project=project, environment=env)
    return env


@transaction.atomic
def environment_upstream_set(*, environment, base_url: str, allow_private_network: bool, actor):
    """Upstream base URL and private-network permission of an environment (audited before/after).

    A base URL the gateway could not call is refused here, so it is never stored: the rules
    are the gateway's own (``apps.core.egress.base_url_problem``: no query, fragment or
    credentials in it, a host httpx accepts)."""
    base_url = (base_url or "").strip()
    if base_url:
        try:
            URLValidator(schemes=["http", "https"])(base_url)
        except ValidationError:
            raise DomainError("The base URL must start with https:// (or http://) and name a host.",
                              field="base_url") from None
        problem = base_url_problem(base_url, "The base URL")
        if problem:
            raise DomainError(problem, field="base_url")
    if len(base_url) > 500:
        raise DomainError("The base URL is too long (500 characters at most).", field="base_url")
    before = {"base_url": environment.base_url, "allow_private_network": environment.allow_private_network}
    after = {"base_url": base_url, "allow_private_network": bool(allow_private_network)}
    if before == after:
        return environment
    environment.base_url, environment.allow_private_network = after["base_url"], after["allow_private_network"]
    environment.save(update_fields=["base_url", "allow_private_network", "updated_at"])
    audit_record(organization=environment.organization, event_type="environment.updated", actor=actor,
                 target=environment, payload={"before": before, "after": after})
    return environment
