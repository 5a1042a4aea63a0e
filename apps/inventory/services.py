"""Writes to the inventory: renaming a tool (kept across re-imports)."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import Conflict, DomainError

from . import hooks
from .models import Tool, ToolRename
from .selectors import current_tools

TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@transaction.atomic
def tool_rename(*, tool: Tool, new_name: str, actor) -> Tool:
    new_name = (new_name or "").strip()
    if not TOOL_NAME_RE.match(new_name):
        raise DomainError(
            "Tool names are 1-64 letters, digits, '_' or '-' (the rule MCP clients enforce).", field="name"
        )
    if new_name == tool.name:
        return tool
    if current_tools(tool.project).filter(name=new_name).exclude(pk=tool.pk).exists():
        raise Conflict(f"Another tool is already called {new_name}.", field="name")
    if (
        ToolRename.objects.filter(project=tool.project, name=new_name)
        .exclude(operation_key=tool.operation_key)
        .exists()
    ):
        raise Conflict(f"{new_name} is reserved by another operation's rename.", field="name")
    old_name = tool.name
    ToolRename.objects.update_or_create(
        project=tool.project,
        operation_key=tool.operation_key,
        defaults={"name": new_name, "organization_id": tool.organization_id, "renamed_by": actor},
    )
    Tool.objects.filter(pk=tool.pk).update(name=new_name, updated_at=timezone.now())
    tool.name = new_name
    for hook in hooks.TOOL_RENAMED:  # apps.governance: pinned definitions follow the name
        hook(tool=tool)
    audit_record(
        organization=tool.project.organization,
        event_type="tool.renamed",
        actor=actor,
        target=tool,
        target_label=new_name,
        payload={"before": old_name, "after": new_name, "operation": tool.operation_key},
    )
    return tool
