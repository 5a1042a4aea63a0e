"""Audit log reads, scoped to one organization, with the page's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.core.query import QueryInput

from . import hooks
from .events import EVENT_TYPES
from .models import AuditChainHead, AuditEvent


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


def audit_events(organization, filters: AuditFilters, *, before: int | None = None, limit: int | None = None):
    """The organization's events matching ``filters`` (and with seq < ``before``), newest
    (highest seq) first.

    Every filter is an equality that an index ``(organization, column, seq)`` answers in seq
    order (models.py), so "newest 51 matches" is an index scan that stops after 51 rows
    whatever the log's size and whether or not the planner has statistics (autovacuum may be
    off). Hence actor and object match exactly (the values the list shows; each is a link
    that sets the filter), not by substring: a substring match at a million events reads the
    whole log (3 s, bench/audit_append.py). A filter with alternatives (a type prefix such as
    "tool." is each known type with it; an actor is the person's label, an API token's name or
    its mcpf_ prefix) is one such scan per alternative, combined with UNION ALL under one
    ORDER BY seq, which PostgreSQL reads as a merge of the ordered scans that stops early; the
    alternatives are made disjoint so nothing is listed or counted twice. One OR or IN list
    instead left the plan to statistics: read every match, then sort (seconds at 1M events).
    A date range adds seq bounds (date_seq_bounds).

    Such a combination is one seq-ordered scan per alternative, each cut at ``limit`` rows
    (the caller reads or counts no more than that: page size plus one, the count bound),
    combined with UNION ALL and sorted: without the inner limits PostgreSQL sorted every match
    (2 s at 1M events) rather than merging the ordered scans."""
    qs = AuditEvent.objects.filter(organization=organization)
    if filters.project:
        qs = qs.filter(payload__project=filters.project)
    if filters.target:
        qs = qs.filter(target_id=filters.target)
    tz = timezone.get_current_timezone()
    start = datetime.combine(filters.date_from, time.min, tzinfo=tz) if filters.date_from else None
    end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=tz) if filters.date_to else None
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    if start is not None or end is not None:
        above, below = date_seq_bounds(organization, start, end)
        if above is not None:
            qs = qs.filter(seq__gt=above)
        if below is not None:
            before = below if before is None else min(before, below)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    branches = [qs]
    if filters.event_type.endswith("."):
        types = sorted(t for t in EVENT_TYPES if t.startswith(filters.event_type))
        branches = [b.filter(event_type=t) for b in branches for t in types] or [qs.none()]
    elif filters.event_type:
        branches = [b.filter(event_type=filters.event_type) for b in branches]
    if filters.actor:
        branches = [b.filter(who) for b in branches for who in _actor_alternatives(organization, filters.actor)]
    if len(branches) == 1:
        return branches[0].order_by("-seq")
    if limit is None:
        branches = [b.order_by() for b in branches]  # exports: every match, sorted once
    else:
        branches = [b.order_by("-seq")[:limit] for b in branches]
    return branches[0].union(*branches[1:], all=True).order_by("-seq")


def _actor_alternatives(organization, actor: str) -> list[Q]:
    """Disjoint conditions, each an equality an index answers in seq order: the person exactly
    as listed; else an API token they acted with, by exact name; else by its mcpf_ prefix:
    the full prefixes of the tokens starting with it, looked up in the (small) token table.
    Only when no token starts with it (its user deleted) is the payload searched by prefix,
    which is not index-ordered."""
    out = [Q(actor_label=actor), Q(payload__token_name=actor) & ~Q(actor_label=actor)]
    if actor.startswith("mcpf"):
        # not already listed by label or name (a key the event lacks is not a match)
        rest = ~Q(actor_label=actor) & (~Q(payload__token_name=actor) | Q(payload__token_name__isnull=True))
        prefixes = sorted(set(hooks.token_prefixes(organization, actor)))  # apps.accounts provides it
        if not prefixes:
            out.append(Q(payload__token_prefix__startswith=actor) & rest)
        for prefix in prefixes:
            out.append(Q(payload__token_prefix=prefix) & rest)
    return out


def date_seq_bounds(organization, start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    """Seq bounds ``(above, below)`` such that every event with ``start <= created_at < end``
    has ``above < seq < below`` (None: no bound on that side), from two one-row lookups in
    the ``(organization, created_at)`` index.

    Event times are nearly in seq order: an event with a higher seq never has a ``created_at``
    more than ``lag`` (AuditChainHead.max_lag, kept by every append) before a
    lower-seq event's. So an event stamped at or after ``end + lag`` has only events at or
    after ``end`` above it, and one stamped before ``start - lag`` only events before
    ``start`` below it. The date filter itself still applies; the bounds only let the
    seq-ordered indexes start and stop near the range, so "newest 51 matches" reads about 51
    rows instead of the whole range or everything newer than it, with or without planner
    statistics. Without a head row (no events yet) or with an unknown lag there is no bound."""
    lag = AuditChainHead.objects.filter(organization=organization).values_list("max_lag", flat=True).first()
    if lag is None:
        return None, None
    events = AuditEvent.objects.filter(organization=organization)
    above = below = None
    if start is not None:
        above = (events.filter(created_at__lt=start - lag).order_by("-created_at")
                 .values_list("seq", flat=True).first())
    if end is not None:
        below = (events.filter(created_at__gte=end + lag).order_by("created_at")
                 .values_list("seq", flat=True).first())
    return above, below


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
    """Keyset paging by seq: ``events`` already limited to ``seq < before`` (audit_events),
    newest first, ``per_page`` rows plus one (is there an older page?), and no count at all.
    Any page is then the same index scan in seq order (models.py) that stops after
    ``per_page + 1`` matches: OFFSET paging read every skipped row and, without planner
    statistics, changed plan (page 20 of a million events: 1 s), and a count read thousands of
    rows per view (0.2-3 s exact, bench/audit_append.py)."""
    rows = list(events[: per_page + 1])
    return SeqPage(rows[:per_page], before, len(rows) > per_page)


def audit_page(organization, filters: AuditFilters, before: int | None, per_page: int = 50) -> SeqPage:
    """The audit page's events (audit_events, seq_page)."""
    return seq_page(audit_events(organization, filters, before=before, limit=per_page + 1), before, per_page)
