"""Audit log reads, scoped to one organization, with the page's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from .events import EVENT_TYPES
from .models import AuditEvent


@dataclass
class AuditFilters:
    actor: str = ""
    event_type: str = ""
    target: str = ""
    project: str = ""  # a project slug: events naming it in their payload
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_query(cls, query) -> tuple[AuditFilters, list[str]]:
        errors: list[str] = []

        def parse_date(key: str) -> date | None:
            raw = (query.get(key) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                errors.append(f"{key.replace('_', ' ')} must be a date like 2026-01-31.")
                return None

        event_type = (query.get("event_type") or "").strip()
        if event_type and event_type not in EVENT_TYPES and not event_type.endswith("."):
            errors.append(f"Unknown event type {event_type!r}.")
            event_type = ""
        filters = cls(
            actor=(query.get("actor") or "").strip()[:200],
            event_type=event_type,
            target=(query.get("target") or "").strip()[:200],
            project=(query.get("project") or "").strip()[:60],
            date_from=parse_date("date_from"),
            date_to=parse_date("date_to"),
        )
        return filters, errors

    def as_query(self) -> dict[str, str]:
        out = {
            "actor": self.actor,
            "event_type": self.event_type,
            "target": self.target,
            "project": self.project,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in out.items() if v}


def audit_events(organization, filters: AuditFilters):
    qs = AuditEvent.objects.filter(organization=organization)
    if filters.actor:
        # the person, or the API token they acted with (its name or its mcpf_ prefix)
        qs = qs.filter(Q(actor_label__icontains=filters.actor) | Q(payload__token_name__icontains=filters.actor)
                       | Q(payload__token_prefix__startswith=filters.actor))
    if filters.project:
        qs = qs.filter(payload__project=filters.project)
    if filters.event_type:
        if filters.event_type.endswith("."):
            qs = qs.filter(event_type__startswith=filters.event_type)
        else:
            qs = qs.filter(event_type=filters.event_type)
    if filters.target:
        qs = qs.filter(target_label__icontains=filters.target) | qs.filter(target_id=filters.target)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        qs = qs.filter(created_at__lt=datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=tz))
    return qs.order_by("-seq")


def event_as_dict(event: AuditEvent) -> dict:
    return {
        "id": str(event.public_id),
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_label,
        "event_type": event.event_type,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "payload": event.payload,
        "request_id": event.request_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "hash": event.hash,
        "prev_hash": event.prev_hash,
    }
