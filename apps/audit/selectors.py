"""Audit log reads, scoped to one organization, with the page's filters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.core.query import QueryInput

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
        """The filters of ``query`` and a message per refused value (apps/core/query.py rules)."""
        params = QueryInput(query)

        def parse_date(key: str) -> date | None:
            raw = params.text(key, label=key.replace("_", " "), max_length=40)
            if not raw:
                return None
            try:
                if not raw.isascii():
                    raise ValueError(raw)
                return date.fromisoformat(raw)
            except ValueError:
                params.errors.append(f"{key.replace('_', ' ')} must be a date like 2026-01-31.")
                return None

        event_type = params.text("event_type", label="event type", max_length=80)
        if event_type and event_type not in EVENT_TYPES and not event_type.endswith("."):
            params.errors.append(f"Unknown event type {event_type[:80]!r}.")
            event_type = ""
        filters = cls(
            actor=params.text("actor"),
            event_type=event_type,
            target=params.text("target", label="object"),
            project=params.text("project", label="project"),
            date_from=parse_date("date_from"),
            date_to=parse_date("date_to"),
        )
        return filters, params.errors

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
    """The organization's events matching ``filters``, newest (highest seq) first.

    Every filter is an equality that an index ``(organization, column, seq)`` answers in seq
    order (models.py), so "newest 51 matches" is an index scan that stops after 51 rows
    whatever the log's size and whether or not the planner has statistics (autovacuum may be
    off). Hence actor and object match exactly (the values the list shows; each is a link
    that sets the filter), not by substring: a substring match at a million events reads the
    whole log (3 s, bench/audit_append.py). A type prefix ("tool.") is the set of known types
    with it."""
    qs = AuditEvent.objects.filter(organization=organization)
    if filters.actor:
        # the person exactly as listed (index-backed), or the API token they acted with: its exact
        # name, or its mcpf_ prefix (these two read the payload, not an index)
        who = Q(actor_label=filters.actor) | Q(payload__token_name=filters.actor)
        if filters.actor.startswith("mcpf"):
            who |= Q(payload__token_prefix__startswith=filters.actor)
        qs = qs.filter(who)
    if filters.project:
        qs = qs.filter(payload__project=filters.project)
    if filters.event_type:
        if filters.event_type.endswith("."):
            qs = qs.filter(event_type__in=[t for t in EVENT_TYPES if t.startswith(filters.event_type)])
        else:
            qs = qs.filter(event_type=filters.event_type)
    if filters.target:
        qs = qs.filter(target_id=filters.target)
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


@dataclass
class SeqPage:
    """One page of the audit log: up to ``per_page`` events older than ``before`` (a seq;
    None for the newest), and whether older ones exist."""

    object_list: list
    before: int | None
    has_older: bool

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def older_than(self) -> int | None:
        """The ``before`` of the next older page."""
        return self.object_list[-1].seq if self.has_older else None


def seq_page(events, before: int | None, per_page: int = 50) -> SeqPage:
    """Keyset paging by seq: ``seq < before`` newest first, ``per_page`` rows plus one (is
    there an older page?), and no count at all. Any page is then the same index scan in seq
    order (models.py) that stops after ``per_page + 1`` matches: OFFSET paging read every
    skipped row and, without planner statistics, changed plan (page 20 of a million events:
    1 s), and a count read thousands of rows per view (0.2-3 s exact, bench/audit_append.py)."""
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events[: per_page + 1])
    return SeqPage(rows[:per_page], before, len(rows) > per_page)


def audit_page(organization, filters: AuditFilters, before: int | None, per_page: int = 50) -> SeqPage:
    """The audit page's events (seq_page). A type prefix ("tool.") is read as one seq-ordered
    index scan per matching type, ``per_page + 1`` rows each, merged: one ``IN`` list over
    the types left the plan to statistics (a sort of every match: 0.35 s at 1M events)."""
    if not filters.event_type.endswith("."):
        return seq_page(audit_events(organization, filters), before, per_page)
    types = sorted(t for t in EVENT_TYPES if t.startswith(filters.event_type))
    if len(types) < 2:
        return seq_page(audit_events(organization, filters), before, per_page)
    parts = []
    for event_type in types:
        part = audit_events(organization, replace(filters, event_type=event_type))
        if before is not None:
            part = part.filter(seq__lt=before)
        parts.append(part[: per_page + 1])
    rows = list(parts[0].union(*parts[1:], all=True).order_by("-seq")[: per_page + 1])
    return SeqPage(rows[:per_page], before, len(rows) > per_page)
