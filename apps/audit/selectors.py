"""Audit log reads, scoped to one organization, with the page's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.paginator import Paginator
from django.utils import timezone

from apps.core.query import QueryInput

from .events import EVENT_TYPES
from .models import AuditEvent


@dataclass
class AuditFilters:
    actor: str = ""
    event_type: str = ""
    target: str = ""
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
            date_from=parse_date("date_from"),
            date_to=parse_date("date_to"),
        )
        return filters, params.errors

    def as_query(self) -> dict[str, str]:
        out = {
            "actor": self.actor,
            "event_type": self.event_type,
            "target": self.target,
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
        qs = qs.filter(actor_label=filters.actor)
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


class NextPagePaginator(Paginator):
    """The audit page's paginator: no count at all. Page ``n`` reads its ``per_page`` rows
    plus one, which says whether an older page exists; with the seq-ordered indexes that is
    an index scan of ``n * per_page + 1`` entries. Even a count capped at 10,000 read up to
    10,000 rows per page view, and an exact count every matching row (0.2-3 s at a million
    unanalysed events, bench/audit_append.py). Pages beyond ``max_pages`` are refused by
    the view (``MAX_PAGE``): deep history is what the filters and the export are for."""

    max_pages = 200

    def get_page(self, number):
        return self.page(min(max(int(number or 1), 1), self.max_pages))

    def page(self, number):
        number = int(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom:bottom + self.per_page + 1])
        return NextPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)


class NextPage:
    """One page of NextPagePaginator: the Django Page attributes the template uses."""

    def __init__(self, object_list, number, paginator, *, more):
        self.object_list, self.number, self.paginator, self._more = object_list, number, paginator, more

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    def has_next(self) -> bool:
        return self._more and self.number < self.paginator.max_pages

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1
