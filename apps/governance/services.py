"""Every governance write: tool switches, grants, approval policies. Each one validates,
changes rows and records an audit event with before/after in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from apps.accounts.models import Membership, Team
from apps.accounts.roles import Role
from apps.audit.services import actor_label_for, audit_prepare, audit_record, audit_write_many
from apps.core.errors import Conflict, DomainError
from apps.inventory import definitions
from apps.inventory.selectors import current_tools

from . import conditions, grants, policies, rules, selectors
from .models import DEFAULT_APPROVAL_EXPIRY, ApprovalPolicy, Grant, ToolSetting

CATEGORIES = tuple(c.value for c in grants.ToolCategory)
MAX_EXPIRY = timedelta(days=30)
MIN_EXPIRY = timedelta(minutes=5)


def _require_environment(project, environment) -> None:
    if environment is not None and environment.project_id != project.pk:
        raise DomainError("That environment belongs to another project.", field="environment")


# --------------------------------------------------------------------------- tool switches


@dataclass
class ToggleResult:
    """What a switch changed, and the findings it raised (sensitive tool enabled without approval)."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


REASON_MAX = 500


def confirmation_needed(environment, tools) -> list:
    """The tools whose enabling in ``environment`` must be confirmed with a reason: critical,
    administrative and billing tools anywhere but development (an unknown environment counts
    as production)."""
    if environment.slug.strip().lower() == grants.DEVELOPMENT_SLUG:
        return []
    return [t for t in tools if selectors.tool_category(t) in selectors.SENSITIVE_CATEGORIES]


MAX_OVERRIDE_REASON = 1000


def _override_reason(reason: str | None) -> str:
    return " ".join(str(reason or "").split())[:MAX_OVERRIDE_REASON]


def _refuse(*, project, environment, actor, operation_key: str, tool_name: str, action: str, message: str,
            findings: Sequence[str] = ()) -> DomainError:
    """Audit a refused enable/accept (in its own transaction: the refusal is worth keeping) and
    return the error to raise."""
    with transaction.atomic():
        audit_record(organization=project.organization, event_type="tool.definition_refused", actor=actor,
                     target=environment, target_label=f"{tool_name} in {environment.name}",
                     payload={"environment": environment.slug, "operation_key": operation_key, "tool": tool_name,
                              "action": action, "reason": message, "poisoning": list(findings)})
    return DomainError(message, field="override_reason")


def _pin(setting: ToolSetting, tool, *, label: str, now) -> dict[str, Any]:
    """Point ``setting`` at ``tool``'s definition (fields set, not saved); returns the definition."""
    definition = definitions.definition_of(tool)
    setting.pinned_tool = tool
    setting.pinned_definition = definition
    setting.pinned_hash = definitions.definition_hash(definition)
    setting.pinned_at, setting.pinned_by_label = now, label
    setting.pending_tool, setting.pending_hash, setting.pending_since = None, "", None
    return definition


PIN_FIELDS = ["pinned_tool", "pinned_definition", "pinned_hash", "pinned_at", "pinned_by_label", "pending_tool",
              "pending_hash", "pending_since"]


def tool_set_enabled(*, project, environment, operation_keys: Iterable[str], enabled: bool, actor,
                     bulk: dict | None = None, override_reason: str = "", reason: str = "") -> ToggleResult:
    """Enable or disable operations in one environment (explicit rows override the risk default).

    Unknown operation keys are refused. One ``tool.enabled``/``tool.disabled`` event lists
    every operation with its before/after state; enabling a critical, administrative or
    billing tool that no approval policy covers there is reported in ``findings``.

    Enabling pins the current definition (``ToolSetting.pinned_*``), which the gateway then
    serves in this environment until an admin accepts a changed one; a tool that is already
    enabled keeps its pin (switching it on again accepts nothing). A tool the poisoning scan
    flags needs ``override_reason`` (audited as ``tool.definition_override``); without one the
    attempt is refused and audited (``tool.definition_refused``).
    """
    _require_environment(project, environment)
    keys = list(dict.fromkeys(operation_keys))
    if enabled:
        _refuse_unoverridden_poisoning(project=project, environment=environment, keys=keys, actor=actor,
                                       override_reason=override_reason)
    return _tool_set_enabled(project=project, environment=environment, keys=keys, enabled=enabled, actor=actor,
                             bulk=bulk, override_reason=_override_reason(override_reason) if enabled else "",
                             reason=reason)


def tool_states_set(*, project, environment, enable: Iterable[str], disable: Iterable[str], actor,
                    override_reason: str = "", reason: str = "") -> list[str]:
    """One request that switches some tools on and others off: both in ONE transaction (all or
    nothing). A poisoning refusal is audited (in its own transaction) before anything changes.
    Returns the findings of ``tool_set_enabled``."""
    enable, disable = list(dict.fromkeys(enable)), list(dict.fromkeys(disable))
    if enable:
        _require_environment(project, environment)
        _refuse_unoverridden_poisoning(project=project, environment=environment, keys=enable, actor=actor,
                                       override_reason=override_reason)
    findings: list[str] = []
    with transaction.atomic():
        for keys, enabled in ((enable, True), (disable, False)):
            if keys:
                findings += tool_set_enabled(project=project, environment=environment, operation_keys=keys,
                                             enabled=enabled, actor=actor, override_reason=override_reason,
                                             reason=reason).findings
    return findings


def _refuse_unoverridden_poisoning(*, project, environment, keys: list[str], actor, override_reason: str) -> None:
    """Enabling a tool the poisoning scan flags (and not already enabled) needs an override reason;
    without one the attempt is audited and refused."""
    override = _override_reason(override_reason)
    enabled_now = set(ToolSetting.objects.filter(environment=environment, operation_key__in=keys, enabled=True,
                                                 pinned_tool__isnull=False).values_list("operation_key",
                                                                                        flat=True))
    flagged = [t for t in current_tools(project).filter(operation_key__in=keys)
               if t.poisoning and t.operation_key not in enabled_now]
    if flagged and not override:
        names = ", ".join(t.name for t in flagged[:5])
        raise _refuse(project=project, environment=environment, actor=actor,
                      operation_key=", ".join(t.operation_key for t in flagged[:5]), tool_name=names,
                      action="enable", findings=[r for t in flagged for r in t.poisoning][:20],
                      message=f"{names}: the poisoning scan flags this tool's definition. Enabling it needs an "
                              "explicit override with a reason (review the definition first).")


@transaction.atomic
def _tool_set_enabled(*, project, environment, keys: list[str], enabled: bool, actor, bulk: dict | None,
                      override_reason: str, reason: str = "") -> ToggleResult:
    if not keys:
        raise DomainError("Pick at least one tool.")
    tools = {t.operation_key: t for t in current_tools(project).filter(operation_key__in=keys)}
    unknown = [k for k in keys if k not in tools]
    if unknown:
        raise DomainError(f"Unknown tool(s): {', '.join(unknown[:5])}.")
    before = selectors.enabled_map(environment, tools.values())
    reason = str(reason or "").strip()
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason is too long (at most {REASON_MAX} characters).", field="reason")
    # an admin who overrode the poisoning scan for these tools has given their reason already
    reason = reason or override_reason
    if enabled and not reason:
        confirm = confirmation_needed(environment, [tools[k] for k in keys if not before[k]])
        if confirm:
            names = ", ".join(t.name for t in confirm[:5]) + (" …" if len(confirm) > 5 else "")
            raise DomainError(f"Enabling {names} in {environment.name} needs a reason: critical, administrative "
                              "and billing tools are confirmed with a reason, recorded in the audit log.",
                              field="reason")
    existing = {s.operation_key: s for s in ToolSetting.objects.select_for_update().filter(
        environment=environment, operation_key__in=keys)}
    label = actor_label_for(actor)
    now = timezone.now()
    result = ToggleResult()
    changes = []
    overridden = []
    pinned: dict[str, str] = {}  # operation_key -> sha256 of the definition pinned by this switch
    for key in keys:
        row = existing.get(key)
        if row is None:
            row = ToolSetting(organization=project.organization, project=project, environment=environment,
                              operation_key=key, enabled=enabled, changed_by=actor, changed_by_label=label)
            if enabled:
                _pin(row, tools[key], label=label, now=now)
            row.save()
        elif row.enabled != enabled or (enabled and row.pinned_tool_id is None):
            row.enabled, row.changed_by, row.changed_by_label, row.by_default = enabled, actor, label, False
            if enabled:
                _pin(row, tools[key], label=label, now=now)
            row.save(update_fields=["enabled", "changed_by", "changed_by_label", "by_default", "updated_at",
                                    *PIN_FIELDS])
        elif row.by_default:
            # a default-on tool becomes an admin's switch; it keeps its pinned definition (and any
            # pending review): switching it on accepts nothing
            row.changed_by, row.changed_by_label, row.by_default = actor, label, False
            row.save(update_fields=["changed_by", "changed_by_label", "by_default", "updated_at"])
            row = None
        else:
            row = None  # already in that state: an enabled tool keeps its pinned definition
        change = {"operation_key": key, "tool": tools[key].name, "before": before[key], "after": enabled}
        if row is not None and enabled:
            pinned[key] = row.pinned_hash
            if tools[key].poisoning:
                overridden.append((tools[key], row))
        (result.changed if before[key] != enabled else result.unchanged).append(key)
        changes.append(change)
    if enabled:
        refs = selectors.policies_for(project.pk)
        for key in keys:
            ref = selectors.tool_ref(tools[key])
            if selectors.needs_approval(tools[key]) and not selectors.has_approval(refs, ref, environment.pk):
                result.findings.append(f"{tools[key].name} ({selectors.sensitivity_text(tools[key])}) is enabled "
                                       f"in {environment.name} "
                                       "without an approval policy.")
    payload: dict[str, Any] = {"environment": environment.slug, "changes": changes, "findings": result.findings}
    if bulk:
        payload["bulk"] = bulk
    if pinned:
        payload["pinned_sha256"] = pinned
    if reason:
        payload["reason"] = reason
    audit_record(organization=project.organization, event_type="tool.enabled" if enabled else "tool.disabled",
                 actor=actor, target=environment, payload=payload)
    for tool, row in overridden:
        if not override_reason:  # defensive: tool_set_enabled checked this before the transaction
            raise DomainError("Enabling a flagged tool needs an override reason.", field="override_reason")
        _audit_override(project=project, environment=environment, actor=actor, tool=tool, setting=row,
                        reason=override_reason, action="enable")
    return result


def _audit_override(*, project, environment, actor, tool, setting, reason: str, action: str) -> None:
    audit_record(organization=project.organization, event_type="tool.definition_override", actor=actor,
                 target=environment, target_label=f"{tool.name} in {environment.name}",
                 payload={"environment": environment.slug, "operation_key": tool.operation_key, "tool": tool.name,
                          "action": action, "reason": reason, "poisoning": list(tool.poisoning or []),
                          "definition_sha256": setting.pinned_hash})


def tool_bulk_set(*, project, environment, enabled: bool, actor, category: str = "", tag: str = "",
                  reason: str = "") -> ToggleResult:
    """"Enable all read-only in staging", "disable everything tagged admin": every current tool
    of a category and/or tag. Audited as one event naming the filter."""
    if not category and not tag:
        raise DomainError("Choose a category or a tag for a bulk change.")
    if category and category not in CATEGORIES:
        raise DomainError(f"Unknown category '{category}'.", field="category")
    tools = selectors.tools_matching(project, category=category, tag=tag)
    if not tools:
        raise DomainError("No tool matches that category/tag.")
    skipped = []
    if enabled:  # a flagged tool is never switched on in bulk: it needs its own override
        skipped = [t for t in tools if t.poisoning]
        tools = [t for t in tools if not t.poisoning]
        if not tools:
            raise DomainError("Every matching tool is flagged by the poisoning scan; enable them one by one with "
                              "an override reason.")
    bulk: dict[str, Any] = {"category": category, "tag": tag}
    if skipped:
        bulk["skipped_flagged"] = [t.operation_key for t in skipped]
    result = tool_set_enabled(project=project, environment=environment,
                              operation_keys=[t.operation_key for t in tools], enabled=enabled, actor=actor,
                              bulk=bulk, reason=reason)
    result.findings += [f"{t.name} was not enabled: the poisoning scan flags it (enable it with an override)."
                        for t in skipped]
    return result


# --------------------------------------------------------------------------- pinned definitions


def _change_payload(setting: ToolSetting, new_tool, new_hash: str) -> dict[str, Any]:
    new_definition = definitions.definition_of(new_tool)
    return {"environment": setting.environment.slug, "operation_key": setting.operation_key,
            "tool": new_tool.name, "pinned_sha256": setting.pinned_hash, "new_sha256": new_hash,
            "changed": definitions.changed_sections(setting.pinned_definition, new_definition),
            "poisoning": list(new_tool.poisoning or [])}


@transaction.atomic
def definitions_follow_import(*, project, version) -> dict[str, int]:
    """After ``version`` became current (same transaction as the import): every operation
    enabled somewhere (by an admin, or pinned as on by the risk default) is compared with its
    pinned definition.

    * same hash: the pin moves to the new row (carried over, nothing to review);
    * changed: the pin stays (the gateway keeps serving the reviewed definition there) and the
      new row waits for review (``tool.definition_changed``, one event per environment and tool);
    * operation gone: the tool is disabled there (``tool.disabled_operation_removed``).

    Then every tool on only by the risk default is pinned where it has no row yet
    (``pin_default_tools``). Returns counts {"carried", "changed", "removed", "pinned"}.
    """
    now = timezone.now()
    counts = {"carried": 0, "changed": 0, "removed": 0}
    settings = list(ToolSetting.objects.select_for_update().filter(project=project, enabled=True)
                    .select_related("environment").order_by("environment__position", "operation_key"))
    tools = list(current_tools(project))  # read once for both steps (the schemas make rows heavy)
    if settings:
        _follow_pins(project=project, version=version, settings=settings, counts=counts, now=now, tools=tools)
    counts["pinned"] = pin_default_tools(project=project, version=version, tools=tools)
    return counts


def pin_default_tools(*, project, version=None, environments=None, tools=None) -> int:
    """Pin, in each environment (all of the project's unless ``environments``), every current
    tool that is on only by the risk default and has no setting row there yet: the definition it
    is first served with counts as accepted (``by_default`` rows, ``tool.definition_pinned``).
    From then on a re-import that changes it waits for review like an admin-enabled tool.

    A tool new in this version goes live by default (and is pinned) only if the poisoning scan
    does not flag it (``rules.default_enabled``), as before: it has no earlier definition an
    agent trusted, and a flagged one stays off until an admin enables it with an override.
    Called in the import's and the environment's creation transaction. ``tools``: the current
    tools when the caller already read them. Returns rows created."""
    from apps.projects.models import Environment

    environments = list(environments if environments is not None else
                        Environment.objects.filter(project=project).order_by("position"))
    now = timezone.now()
    created: list[ToolSetting] = []
    for environment in environments:
        if tools is None:
            tools = list(current_tools(project))
        candidates = [t for t in tools if rules.default_enabled(t, environment.slug)]
        if not candidates:
            continue
        taken = set(ToolSetting.objects.filter(environment=environment, operation_key__in=[
            t.operation_key for t in candidates]).values_list("operation_key", flat=True))
        rows = []
        for tool in candidates:
            if tool.operation_key in taken:
                continue
            row = ToolSetting(organization=project.organization, project=project, environment=environment,
                              operation_key=tool.operation_key, enabled=True, by_default=True,
                              changed_by_label="risk default")
            _pin(row, tool, label="risk default", now=now)
            rows.append(row)
        if not rows:
            continue
        ToolSetting.objects.bulk_create(rows)
        created += rows
        payload: dict[str, Any] = {"environment": environment.slug,
                                   "pinned_sha256": {r.operation_key: r.pinned_hash for r in rows}}
        if version is not None:
            payload["spec_version"] = version.number
        audit_record(organization=project.organization, event_type="tool.definition_pinned", actor=None,
                     actor_label="risk default", target=environment, target_label=environment.name,
                     payload=payload)
    return len(created)


def _follow_pins(*, project, version, settings: list[ToolSetting], counts: dict[str, int], now, tools) -> None:
    new_rows = {t.operation_key: t for t in tools}
    hashes: dict[int, str] = {}  # tool pk -> definition hash (a tool enabled in several environments)
    # Written at the end in a few statements (a Box re-import moves hundreds of pins): rows
    # dropped, rows saved per set of changed columns, and the audit events in setting order.
    dropped: list[int] = []
    saves: dict[tuple[str, ...], list[ToolSetting]] = {}
    carried: list[int] = []
    events = []

    def save(setting: ToolSetting, fields: list[str]) -> None:
        setting.updated_at = now
        saves.setdefault(tuple(fields), []).append(setting)

    for setting in settings:
        tool = new_rows.get(setting.operation_key)
        if tool is None:
            before = {"pinned_sha256": setting.pinned_hash,
                      "tool": (setting.pinned_definition or {}).get("name", "")}
            if setting.by_default:
                # only a pin, no admin's switch: dropped (an operation that comes back is a new tool)
                dropped.append(setting.pk)
            else:
                setting.enabled, setting.changed_by, setting.changed_by_label = False, None, "import"
                setting.pending_tool, setting.pending_hash, setting.pending_since = None, "", None
                save(setting, ["enabled", "changed_by", "changed_by_label", "updated_at",
                               "pending_tool", "pending_hash", "pending_since"])
            events.append(audit_prepare(
                organization=project.organization, event_type="tool.disabled_operation_removed",
                actor=None, actor_label="analysis worker", target=setting.environment,
                target_label=f"{before['tool'] or setting.operation_key} in {setting.environment.name}",
                payload={"environment": setting.environment.slug, "operation_key": setting.operation_key,
                         "spec_version": version.number, **before}))
            counts["removed"] += 1
            continue
        if tool.pk not in hashes:
            hashes[tool.pk] = definitions.definition_hash(definitions.definition_of(tool))
        new_hash = hashes[tool.pk]
        if setting.pinned_tool_id is not None and new_hash == setting.pinned_hash:
            setting.pinned_tool = tool
            setting.pending_tool, setting.pending_hash, setting.pending_since = None, "", None
            carried.append(setting.pk)  # the pin moves to the new row of its operation, below
            counts["carried"] += 1
            continue
        already = setting.pending_hash == new_hash
        setting.pending_tool, setting.pending_hash = tool, new_hash
        if not already or setting.pending_since is None:
            setting.pending_since = now
        save(setting, ["pending_tool", "pending_hash", "pending_since", "updated_at"])
        if not already:
            events.append(audit_prepare(
                organization=project.organization, event_type="tool.definition_changed", actor=None,
                actor_label="analysis worker", target=setting.environment,
                target_label=f"{tool.name} in {setting.environment.name}",
                payload={**_change_payload(setting, tool, new_hash), "spec_version": version.number}))
        counts["changed"] += 1
    if dropped:
        ToolSetting.objects.filter(pk__in=dropped).delete()
    if carried:
        ToolSetting.objects.filter(pk__in=carried).update(
            pinned_tool=Subquery(current_tools(project).filter(operation_key=OuterRef("operation_key")).values("pk")),
            pending_tool=None, pending_hash="", pending_since=None, updated_at=now)
    for fields, rows in saves.items():
        ToolSetting.objects.bulk_update(rows, list(fields), batch_size=500)
    audit_write_many(events)


def definition_accept(*, setting: ToolSetting, actor, expected_sha256: str,
                      override_reason: str = "") -> ToolSetting:
    """An admin accepts the changed definition waiting in ``setting`` (after reviewing the diff):
    the environment serves it from now on (``tool.definition_accepted``).

    ``expected_sha256`` (the hash the admin reviewed) must still be the pending one, so a
    re-import between review and accept cannot slip another definition through. A definition
    the poisoning scan flags needs ``override_reason`` (``tool.definition_override``); refused
    attempts are audited (``tool.definition_refused``)."""
    environment, project = setting.environment, setting.project
    reason = _override_reason(override_reason)
    pending = setting.pending_tool
    if pending is None or not setting.enabled:
        raise _refuse(project=project, environment=environment, actor=actor, operation_key=setting.operation_key,
                      tool_name=(setting.pinned_definition or {}).get("name", setting.operation_key),
                      action="accept", message="No changed definition is waiting for review here.")
    if expected_sha256 != setting.pending_hash:  # also refuses an accept that names no reviewed hash
        raise _refuse(project=project, environment=environment, actor=actor, operation_key=setting.operation_key,
                      tool_name=pending.name, action="accept",
                      message="The definition changed again since you reviewed it; review the new diff."
                      if expected_sha256 else "Name the definition you reviewed (its sha256) to accept it.")
    if pending.poisoning and not reason:
        raise _refuse(project=project, environment=environment, actor=actor, operation_key=setting.operation_key,
                      tool_name=pending.name, action="accept", findings=pending.poisoning,
                      message=f"The poisoning scan flags the new definition of {pending.name}. Accepting it needs "
                              "an explicit override with a reason.")
    return _definition_accept(setting=setting, actor=actor, reason=reason)


@transaction.atomic
def _definition_accept(*, setting: ToolSetting, actor, reason: str) -> ToolSetting:
    locked = ToolSetting.objects.select_for_update().select_related("environment", "project__organization").get(
        pk=setting.pk)
    if locked.pending_tool_id != setting.pending_tool_id or locked.pending_hash != setting.pending_hash:
        raise Conflict("The definition changed while you were accepting it; review the new diff.")
    pending = setting.pending_tool
    environment, project = locked.environment, locked.project
    before = {"sha256": locked.pinned_hash, "definition": locked.pinned_definition}
    payload = _change_payload(locked, pending, locked.pending_hash)
    label = actor_label_for(actor)
    _pin(locked, pending, label=label, now=timezone.now())
    locked.changed_by, locked.changed_by_label = actor, label
    locked.save(update_fields=[*PIN_FIELDS, "changed_by", "changed_by_label", "updated_at"])
    audit_record(organization=project.organization, event_type="tool.definition_accepted", actor=actor,
                 target=environment, target_label=f"{pending.name} in {environment.name}",
                 payload={**payload, "before": before["sha256"], "after": locked.pinned_hash,
                          "override": bool(pending.poisoning)})
    if pending.poisoning:
        _audit_override(project=project, environment=environment, actor=actor, tool=pending, setting=locked,
                        reason=reason, action="accept")
    return locked


def pins_follow_rename(*, tool) -> None:
    """An admin renamed ``tool``: pins and pending reviews that point at that very row take the
    new name (the admin chose it), so the hash matches what the gateway serves. Called inside
    the rename's transaction (its ``tool.renamed`` event records the change)."""
    for setting in ToolSetting.objects.select_for_update().filter(pinned_tool=tool):
        setting.pinned_definition = definitions.definition_of(tool)
        setting.pinned_hash = definitions.definition_hash(setting.pinned_definition)
        setting.save(update_fields=["pinned_definition", "pinned_hash", "updated_at"])
    for setting in ToolSetting.objects.select_for_update().filter(pending_tool=tool):
        setting.pending_hash = definitions.definition_hash(definitions.definition_of(tool))
        setting.save(update_fields=["pending_hash", "updated_at"])


# --------------------------------------------------------------------------- grants and targets


def _clean_target(project, *, all_tools: bool, operation_keys: Sequence[str], categories: Sequence[str],
                  tags: Sequence[str]) -> dict[str, Any]:
    keys = sorted({str(k).strip() for k in operation_keys or () if str(k).strip()})
    cats = sorted({str(c).strip() for c in categories or () if str(c).strip()})
    tag_list = sorted({str(t).strip() for t in tags or () if str(t).strip()})
    bad = [c for c in cats if c not in CATEGORIES]
    if bad:
        raise DomainError(f"Unknown category '{bad[0]}' (expected one of {', '.join(CATEGORIES)}).",
                          field="categories")
    if keys:
        known = set(current_tools(project).filter(operation_key__in=keys).values_list("operation_key", flat=True))
        missing = [k for k in keys if k not in known]
        if missing:
            raise DomainError(f"Unknown tool(s): {', '.join(missing[:5])}.", field="operation_keys")
    if not (all_tools or keys or cats or tag_list):
        raise DomainError("Choose the tools: all tools, some tools, categories or tags.", field="operation_keys")
    return {"all_tools": bool(all_tools), "operation_keys": keys, "categories": cats, "tags": tag_list}


def _target_snapshot(row) -> dict[str, Any]:
    return {"all_tools": row.all_tools, "operation_keys": list(row.operation_keys), "categories": list(row.categories),
            "tags": list(row.tags)}


def grant_snapshot(grant: Grant) -> dict[str, Any]:
    return {
        "effect": grant.effect, "principal_kind": grant.principal_kind,
        "principal": selectors.principal_label(grant),
        "environment": grant.environment.slug if grant.environment_id else None,
        **_target_snapshot(grant), "note": grant.note,
        "description": selectors.grant_ref(grant).describe(),
    }


@transaction.atomic
def grant_create(*, project, actor, effect: str, principal_kind: str, environment=None, role: str = "",
                 team: Team | None = None, user=None, all_tools: bool = False, operation_keys: Sequence[str] = (),
                 categories: Sequence[str] = (), tags: Sequence[str] = (), note: str = "") -> Grant:
    """"Team Support may call read-only tools in production". Principal: a role (that role or
    higher), a team of the organization or a member of it; environment None = every one."""
    _require_environment(project, environment)
    if effect not in Grant.Effect.values:
        raise DomainError("Effect must be allow or deny.", field="effect")
    org = project.organization
    principal: dict[str, Any] = {"role": "", "team": None, "user": None}
    if principal_kind == Grant.PrincipalKind.ROLE:
        if role not in [r.value for r in Role]:
            raise DomainError("Choose a role.", field="role")
        principal["role"] = role
    elif principal_kind == Grant.PrincipalKind.TEAM:
        if team is None or team.organization_id != org.pk:
            raise DomainError("Choose a team of this organization.", field="team")
        principal["team"] = team
    elif principal_kind == Grant.PrincipalKind.USER:
        if user is None or not Membership.objects.filter(organization=org, user=user).exists():
            raise DomainError("Choose a member of this organization.", field="user")
        principal["user"] = user
    else:
        raise DomainError("Grant to a role, a team or a user.", field="principal_kind")
    target = _clean_target(project, all_tools=all_tools, operation_keys=operation_keys, categories=categories,
                           tags=tags)
    grant = Grant.objects.create(organization=org, project=project, environment=environment, effect=effect,
                                 principal_kind=principal_kind, note=(note or "")[:300], created_by=actor,
                                 created_by_label=actor_label_for(actor), **principal, **target)
    audit_record(organization=org, event_type="grant.created", actor=actor, target=grant,
                 target_label=selectors.grant_ref(grant).describe()[:300],
                 payload={"project": project.slug, "before": None, "after": grant_snapshot(grant)})
    return grant


@transaction.atomic
def grant_delete(*, grant: Grant, actor) -> None:
    """Remove a grant; the audit event keeps what it said."""
    snapshot = grant_snapshot(grant)
    audit_record(organization=grant.organization, event_type="grant.deleted", actor=actor, target=grant,
                 target_label=snapshot["description"][:300],
                 payload={"project": grant.project.slug, "before": snapshot, "after": None})
    grant.delete()


# --------------------------------------------------------------------------- approval policies


def _clean_steps(organization, steps: Sequence[dict] | None) -> list[dict[str, str]]:
    """Team steps are stored by slug with the name as label (approvals match either); roles by value."""
    out = []
    teams = {t.slug: t for t in Team.objects.filter(organization=organization)}
    for i, step in enumerate(steps or [], start=1):
        if not isinstance(step, dict):
            raise DomainError(f"Step {i} must name a team or a role.", field="steps")
        kind, value = str(step.get("kind", "")).strip(), str(step.get("value", "")).strip()
        if kind == "team":
            team = teams.get(value) or next((t for t in teams.values() if t.name == value or str(t.public_id) == value),
                                            None)
            if team is None:
                raise DomainError(f"Step {i}: no team '{value}' in this organization.", field="steps")
            out.append({"kind": "team", "value": team.slug, "label": team.name})
        elif kind == "role":
            if value not in [r.value for r in Role]:
                raise DomainError(f"Step {i}: unknown role '{value}'.", field="steps")
            out.append({"kind": "role", "value": value, "label": value})
        else:
            raise DomainError(f"Step {i} must name a team or a role.", field="steps")
    return out


def _clean_policy(project, *, name: str, kind: str, approvals_required: int | None, order: str,
                  steps: Sequence[dict] | None, conditional_tiers: Sequence[dict] | None,
                  expires_after: timedelta | None, justification_required: bool, environment,
                  all_tools: bool, operation_keys, categories, tags) -> dict[str, Any]:
    _require_environment(project, environment)
    name = (name or "").strip()
    if not name:
        raise DomainError("Name the policy.", field="name")
    if kind not in policies.KINDS:
        raise DomainError("Choose no approval, single or multi-step.", field="kind")
    approvals = {"none": 0, "single": 1}.get(kind, approvals_required or 2)
    expires_after = expires_after if expires_after is not None else DEFAULT_APPROVAL_EXPIRY
    if not MIN_EXPIRY <= expires_after <= MAX_EXPIRY:
        raise DomainError("Requests must expire after 5 minutes to 30 days.", field="expires_after")
    clean_steps = _clean_steps(project.organization, steps)
    if kind == "none" and clean_steps:
        raise DomainError("A policy without approval cannot name approval steps.", field="steps")
    conditional = list(conditional_tiers or [])
    # Rules are checked one by one first so the admin sees "rule 1: ..." for what they typed.
    for index, tier in enumerate(conditional, start=1):
        if not isinstance(tier, dict) or not tier.get("when"):
            raise DomainError(f"Condition tier {index} needs at least one rule.", field="tiers")
        for r, rule in enumerate(tier["when"], start=1):
            problems = conditions.validate_rule(rule)
            if problems:
                raise DomainError(f"Condition tier {index}, rule {r}: {'; '.join(problems)}.", field="tiers")
    tiers = policies.build_tiers(kind, approvals, order, conditional)
    problems = policies.validate_policy(kind=kind, approvals_required=approvals, order=order, steps=clean_steps,
                                        tiers=tiers)
    if problems:
        raise DomainError(" ".join(problems), field="tiers")
    target = _clean_target(project, all_tools=all_tools, operation_keys=operation_keys, categories=categories,
                           tags=tags)
    return {"name": name[:120], "kind": kind, "approvals_required": approvals, "order": order, "steps": clean_steps,
            "tiers": tiers, "expires_after": expires_after, "justification_required": bool(justification_required),
            "environment": environment, **target}


def policy_snapshot(policy: ApprovalPolicy) -> dict[str, Any]:
    return {
        "name": policy.name, "kind": policy.kind, "approvals_required": policy.approvals_required,
        "order": policy.order, "steps": list(policy.steps), "tiers": list(policy.tiers),
        "expires_after_seconds": int(policy.expires_after.total_seconds()),
        "justification_required": policy.justification_required,
        "environment": policy.environment.slug if policy.environment_id else None, **_target_snapshot(policy),
    }


@transaction.atomic
def policy_create(*, project, actor, name: str, kind: str, approvals_required: int | None = None,
                  order: str = "any", steps: Sequence[dict] | None = None,
                  conditional_tiers: Sequence[dict] | None = None, expires_after: timedelta | None = None,
                  justification_required: bool = False, environment=None, all_tools: bool = False,
                  operation_keys: Sequence[str] = (), categories: Sequence[str] = (), tags: Sequence[str] = (),
                  source: str = ApprovalPolicy.Source.MANUAL) -> ApprovalPolicy:
    """Create an approval policy. ``conditional_tiers`` are ``{"when": [rules], "approvals": n,
    "order": ...}`` dicts checked with ``conditions.validate_rule``; the default tier comes from
    ``kind``/``approvals_required``."""
    fields = _clean_policy(project, name=name, kind=kind, approvals_required=approvals_required, order=order,
                           steps=steps, conditional_tiers=conditional_tiers, expires_after=expires_after,
                           justification_required=justification_required, environment=environment,
                           all_tools=all_tools, operation_keys=operation_keys, categories=categories, tags=tags)
    policy = ApprovalPolicy.objects.create(organization=project.organization, project=project, source=source,
                                           created_by=actor, created_by_label=actor_label_for(actor), **fields)
    audit_record(organization=project.organization, event_type="policy.created", actor=actor, target=policy,
                 payload={"project": project.slug, "before": None, "after": policy_snapshot(policy)})
    return policy


def conditional_tiers_of(policy: ApprovalPolicy) -> list[dict]:
    return [dict(t) for t in policy.tiers if t.get("when")]


@transaction.atomic
def policy_update(*, policy: ApprovalPolicy, actor, **changes) -> ApprovalPolicy:
    """Change any policy field (same arguments as ``policy_create``); unspecified fields keep
    their value. Audited with the full before/after."""
    policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
    allowed = {"name", "kind", "approvals_required", "order", "steps", "conditional_tiers", "expires_after",
               "justification_required", "environment", "all_tools", "operation_keys", "categories", "tags"}
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))}.")
    current = {
        "name": policy.name, "kind": policy.kind, "approvals_required": policy.approvals_required,
        "order": policy.order, "steps": policy.steps, "conditional_tiers": conditional_tiers_of(policy),
        "expires_after": policy.expires_after, "justification_required": policy.justification_required,
        "environment": policy.environment, "all_tools": policy.all_tools, "operation_keys": policy.operation_keys,
        "categories": policy.categories, "tags": policy.tags,
    }
    before = policy_snapshot(policy)
    fields = _clean_policy(policy.project, **{**current, **changes})
    for key, value in fields.items():
        setattr(policy, key, value)
    policy.save()
    after = policy_snapshot(policy)
    if after != before:
        audit_record(organization=policy.organization, event_type="policy.updated", actor=actor, target=policy,
                     payload={"project": policy.project.slug, "before": before, "after": after})
    return policy


@transaction.atomic
def policy_delete(*, policy: ApprovalPolicy, actor) -> None:
    snapshot = policy_snapshot(policy)
    audit_record(organization=policy.organization, event_type="policy.deleted", actor=actor, target=policy,
                 payload={"project": policy.project.slug, "before": snapshot, "after": None})
    policy.delete()


@transaction.atomic
def accept_suggested_policies(*, project, actor, keys: Sequence[str] | None = None) -> list[ApprovalPolicy]:
    """Create the risk-suggested policies (all of them, or those whose ``key`` is listed)."""
    created = []
    for suggestion in selectors.suggested_policies(project):
        if keys is not None and suggestion.key not in keys:
            continue
        created.append(policy_create(
            project=project, actor=actor, name=suggestion.name, kind=suggestion.kind,
            approvals_required=suggestion.approvals_required, categories=suggestion.categories,
            operation_keys=suggestion.operation_keys, source=ApprovalPolicy.Source.SUGGESTED))
    if keys and not created:
        raise DomainError("That suggestion no longer applies (already accepted?).")
    return created


def pin_defaults_in_new_environment(*, project, environment) -> None:
    """projects.hooks.ENVIRONMENT_CREATED: tools on by the risk default in a new environment are
    served with a pinned definition (rug-pull protection)."""
    pin_default_tools(project=project, environments=[environment])


def pin_defaults_after_override(*, project) -> None:
    """risk.hooks.OVERRIDE_CHANGED: a category an override changed can make a tool on by the
    risk default somewhere; it is served with a pinned definition from then on."""
    pin_default_tools(project=project)


def definitions_after_import(*, project, version, security_schemes) -> None:
    """specs.hooks.VERSION_ANALYSED["governance"]: every environment keeps serving the definition
    an admin enabled there; changes wait for review."""
    definitions_follow_import(project=project, version=version)
