"""REST API: the audit log of one organization."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from apps.accounts.access import org_access
from apps.core.query import QueryError

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


@extend_schema(parameters=[OpenApiParameter(n, str) for n in ("actor", "event_type", "target", "date_from", "date_to")])
class AuditEventList(ListAPIView):
    """Audit events of one organization (reviewer and above), newest first, filterable."""

    serializer_class = AuditEventSerializer

    def list(self, request, *args, **kwargs):
        access = org_access(request.user, self.kwargs["org_slug"], "audit.view")
        filters, errors = AuditFilters.from_query(request.query_params)
        if errors:
            raise QueryError(" ".join(errors))
        self._events = audit_events(access.organization, filters)
        response = super().list(request, *args, **kwargs)  # paging validated here, before the record
        audit_export_record(organization=access.organization, actor=request.user, fmt="json", channel="api",
                            filters=filters.as_query(), limit=self.paginator.limit,
                            offset=self.paginator.offset)
        return response

    def get_queryset(self):
        return getattr(self, "_events", AuditEvent.objects.none())
