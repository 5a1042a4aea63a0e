"""REST API: the audit log of one organization."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from apps.accounts.api_base import TenantResolveMixin
from apps.core.api import LimitOffsetPagination
from apps.core.query import QueryError, QueryInput

from .exports import audit_export_record
from .models import AuditEvent
from .selectors import AuditFilters, audit_events


class AuditEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "seq",
            "created_at",
            "actor",
            "event_type",
            "target_type",
            "target_id",
            "target_label",
            "payload",
            "request_id",
            "ip",
            "user_agent",
            "hash",
            "prev_hash",
        ]


class BoundedCountPagination(LimitOffsetPagination):
    """limit/offset paging whose ``count`` is bounded: matches are counted only up to
    ``max(COUNT_CAP, offset + limit + 1)`` (``SELECT count(*) FROM (... LIMIT n)``), so a
    request never reads a log of millions to the end. ``count_capped`` says the count was
    cut there: "at least ``count``" (a client shows "10,000+"); ``next`` is exact either way.
    ``next_before`` is the keyset way on: ``?before=<next_before>`` (offset 0) reads the next
    page as one index scan from that seq, where a large ``offset`` reads every skipped row."""

    COUNT_CAP = 10_000

    def get_count(self, queryset):
        bound = max(self.COUNT_CAP, self.offset + self.limit + 1)
        counted = queryset.order_by()[: bound + 1].count()
        self.count_capped = counted > bound
        return min(counted, bound)

    def paginate_queryset(self, queryset, request, view=None):
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        page = super().paginate_queryset(queryset, request, view)
        more = self.offset + self.limit < self.count or self.count_capped
        self.next_before = page[-1].seq if page and more else None
        return page

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_capped"] = self.count_capped
        response.data["next_before"] = self.next_before
        return response

    def get_paginated_response_schema(self, schema):
        out = super().get_paginated_response_schema(schema)
        out["properties"]["count"]["description"] = (
            f"Matching events, counted up to max({self.COUNT_CAP}, offset + limit + 1); "
            "with count_capped true there are more.")
        out["properties"]["count_capped"] = {
            "type": "boolean", "description": "The count stopped at its bound: at least `count` events match."}
        out["properties"]["next_before"] = {
            "type": "integer", "nullable": True,
            "description": "When more events follow: pass it as `before` (offset 0) for the next page."}
        out["required"] = [*out.get("required", []), "count_capped", "next_before"]
        return out


FILTER_HELP = {
    "actor": "Actor label, exact (as listed in `actor`).",
    "event_type": "An event type, or a prefix ending in '.' (e.g. `tool.`).",
    "target": "Object id, exact (`target_id`).",
    "date_from": "First day, YYYY-MM-DD.",
    "date_to": "Last day, YYYY-MM-DD.",
    "project": "Project slug, exact (events about that project).",
    "before": "Only events with a lower `seq` (keyset paging: the previous page's `next_before`).",
}


@extend_schema(parameters=[OpenApiParameter(n, str, description=d) for n, d in FILTER_HELP.items()])
class AuditEventList(TenantResolveMixin, ListAPIView):
    """Audit events of one organization (reviewer and above), newest first, filterable.
    ``count`` is bounded (BoundedCountPagination): see ``count_capped``."""

    serializer_class = AuditEventSerializer
    pagination_class = BoundedCountPagination
    scope = "organization"
    capabilities = {"GET": "audit.view"}

    def list(self, request, *args, **kwargs):
        filters, errors = AuditFilters.from_query(request.query_params)
        params = QueryInput(request.query_params)
        before = params.number("before", minimum=1)
        errors += params.errors
        if errors:
            raise QueryError(" ".join(errors))
        # what the paginator reads at most: the page, and the count up to its bound
        paginator = self.paginator
        reads = max(paginator.COUNT_CAP, paginator.get_offset(request) + paginator.get_limit(request) + 1) + 1
        self._events = audit_events(self.organization, filters, before=before, limit=reads)
        response = super().list(request, *args, **kwargs)  # paging validated here, before the record
        audit_export_record(organization=self.organization, actor=request.user, fmt="json", channel="api",
                            filters=filters.as_query(), limit=self.paginator.limit,
                            offset=self.paginator.offset)
        return response

    def get_queryset(self):
        return getattr(self, "_events", AuditEvent.objects.none())
