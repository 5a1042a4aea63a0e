"""REST API: the audit log of one organization."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView

from apps.accounts.access import org_access

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

    def get_queryset(self):
        access = org_access(self.request.user, self.kwargs["org_slug"], "audit.view")
        filters, errors = AuditFilters.from_query(self.request.query_params)
        if errors:
            raise ValidationError({"detail": " ".join(errors)})
        return audit_events(access.organization, filters)
