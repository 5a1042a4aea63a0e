"""Every write of toolsets and of an environment's listing switches, audited in the same transaction."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import Conflict, DomainError
from apps.inventory import listing
from apps.inventory.selectors import current_tools

from .models import Toolset

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
MAX_TOOLS = 5000
MAX_DESCRIPTION = 2000


def _clean_slug(slug: str) -> str:
    slug = (slug or "").strip()
    if not SLUG_RE.match(slug):
        raise DomainError("A toolset slug is 1-60 lowercase letters, digits and dashes (it is part of the "
                          "endpoint URL), e.g. support-readonly.", field="slug")
    return slug


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise DomainError("Give the toolset a name of at most 120 characters.", field="name")
    return name


def _clean_tools(project, tool_names: Sequence[str]) -> list[str]:
    """The names, de-duplicated in the project's document order; every one must be a current tool."""
    if isinstance(tool_names, str) or not all(isinstance(n, str) for n in tool_names):
        raise DomainError("tool_names is a list of tool names.", field="tool_names")
    wanted = {n.strip() for n in tool_names if n.strip()}
    if not wanted:
        raise DomainError("Pick at least one tool for the toolset.", field="tool_names")
    if len(wanted) > MAX_TOOLS:
        raise DomainError(f"A toolset holds at most {MAX_TOOLS} tools.", field="tool_names")
    known = list(current_tools(project).order_by("position", "name").values_list("name", flat=True))
    unknown = sorted(wanted - set(known))
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise DomainError(f"Not tools of this project's current version: {shown}.", field="tool_names")
    return [n for n in known if n in wanted]


def _clean_listing(compact_tools, listing_mode: str, *, allow_inherit: bool) -> tuple[bool | None, str]:
    if compact_tools is not None and not isinstance(compact_tools, bool):
        raise DomainError("compact_tools is true, false or null (as the default).", field="compact_tools")
    allowed = (listing.INHERIT, *listing.MODES) if allow_inherit else listing.MODES
    if listing_mode not in allowed:
        raise DomainError(f"listing_mode is one of: {', '.join(repr(m) for m in allowed)}.", field="listing_mode")
    return compact_tools, listing_mode


def toolset_snapshot(toolset: Toolset) -> dict:
    return {"slug": toolset.slug, "name": toolset.name, "description": toolset.description,
            "tool_names": list(toolset.tool_names), "compact_tools": toolset.compact_tools,
            "listing_mode": toolset.listing_mode}


@transaction.atomic
def toolset_create(*, project, actor, slug: str, name: str, tool_names: Sequence[str], description: str = "",
                   compact_tools: bool | None = None, listing_mode: str = listing.INHERIT) -> Toolset:
    """A new toolset of ``project`` (audited ``toolset.created``); its endpoint exists in every environment."""
    compact_tools, listing_mode = _clean_listing(compact_tools, listing_mode, allow_inherit=True)
    toolset = Toolset(organization=project.organization, project=project, slug=_clean_slug(slug),
                      name=_clean_name(name), description=(description or "").strip()[:MAX_DESCRIPTION],
                      tool_names=_clean_tools(project, tool_names), compact_tools=compact_tools,
                      listing_mode=listing_mode, created_by_label=actor_label_for(actor))
    try:
        with transaction.atomic():
            toolset.save()
    except IntegrityError as exc:
        raise Conflict(f"This project already has a toolset called {toolset.slug}.", field="slug") from exc
    audit_record(organization=project.organization, event_type="toolset.created", actor=actor, target=toolset,
                 target_label=f"toolset {toolset.slug} of {project.slug}",
                 payload={"project": project.slug, "toolset": toolset.slug, "after": toolset_snapshot(toolset)})
    return toolset


EDITABLE = ("name", "description", "tool_names", "compact_tools", "listing_mode")


@transaction.atomic
def toolset_update(*, toolset: Toolset, actor, **changes) -> Toolset:
    """Change a toolset's name, description, tools or listing switches (audited ``toolset.updated``
    with before and after). The slug is its endpoint URL and never changes: delete and recreate."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))} of a toolset.",
                          field=sorted(unknown)[0])
    toolset = Toolset.objects.select_for_update().get(pk=toolset.pk)
    before = toolset_snapshot(toolset)
    if "name" in changes:
        toolset.name = _clean_name(changes["name"])
    if "description" in changes:
        toolset.description = (changes["description"] or "").strip()[:MAX_DESCRIPTION]
    if "tool_names" in changes:
        toolset.tool_names = _clean_tools(toolset.project, changes["tool_names"])
    if "compact_tools" in changes or "listing_mode" in changes:
        toolset.compact_tools, toolset.listing_mode = _clean_listing(
            changes.get("compact_tools", toolset.compact_tools), changes.get("listing_mode", toolset.listing_mode),
            allow_inherit=True)
    after = toolset_snapshot(toolset)
    if after == before:
        return toolset
    toolset.save()
    audit_record(organization=toolset.organization, event_type="toolset.updated", actor=actor, target=toolset,
                 target_label=f"toolset {toolset.slug} of {toolset.project.slug}",
                 payload={"project": toolset.project.slug, "toolset": toolset.slug,
                          "changed": sorted(k for k in after if after[k] != before[k]),
                          "before": before, "after": after})
    return toolset


@transaction.atomic
def toolset_delete(*, toolset: Toolset, actor) -> None:
    """Delete a toolset (audited ``toolset.deleted``): its endpoint answers 404 from the next request."""
    before = toolset_snapshot(toolset)
    audit_record(organization=toolset.organization, event_type="toolset.deleted", actor=actor, target=toolset,
                 target_label=f"toolset {toolset.slug} of {toolset.project.slug}",
                 payload={"project": toolset.project.slug, "toolset": toolset.slug, "before": before})
    toolset.delete()


@transaction.atomic
def environment_listing_set(*, environment, actor, compact_tools: bool | None, listing_mode: str):
    """Set how an environment's MCP endpoint lists tools (audited ``environment.updated``).
    The environment row's change bumps the caller epoch (gateway migration 0001): every gateway
    process reads the new switches on its next request."""
    from apps.projects.models import Environment

    compact_tools, listing_mode = _clean_listing(compact_tools, listing_mode, allow_inherit=False)
    environment = Environment.objects.select_for_update().select_related("project").get(pk=environment.pk)
    before = {"compact_tools": environment.compact_tools, "listing_mode": environment.listing_mode}
    after = {"compact_tools": compact_tools, "listing_mode": listing_mode}
    if before == after:
        return environment
    environment.compact_tools, environment.listing_mode = compact_tools, listing_mode
    environment.save(update_fields=["compact_tools", "listing_mode", "updated_at"])
    audit_record(organization=environment.organization, event_type="environment.updated", actor=actor,
                 target=environment,
                 payload={"project": environment.project.slug, "environment": environment.slug,
                          "changed": sorted(k for k in after if after[k] != before[k]), "setting": "tool_listing",
                          "before": before, "after": after})
    return environment
