"""The organization's audit log: filter, paginate, export (CSV / JSON)."""

import csv
import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render

from apps.accounts.access import org_access

from .events import EVENT_TYPES
from .selectors import AuditFilters, audit_events, event_as_dict

EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = [
    "seq",
    "created_at",
    "actor",
    "event_type",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "request_id",
    "payload",
    "hash",
    "prev_hash",
]


class _Echo:
    def write(self, value):
        return value


@login_required
def audit_log(request, org_slug):
    access = org_access(request.user, org_slug, "audit.view")
    filters, errors = AuditFilters.from_query(request.GET)
    events = audit_events(access.organization, filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = filters.as_query()
    return render(
        request,
        "audit/log.html",
        {
            "access": access,
            "org": access.organization,
            "page": page,
            "filters": filters,
            "errors": errors,
            "event_types": sorted(EVENT_TYPES.items()),
            "projects": access.organization.projects.order_by("name").values_list("slug", "name"),
            "query": urlencode(query),
            "active_nav": "audit",
        },
    )


@login_required
def audit_export(request, org_slug, fmt):
    access = org_access(request.user, org_slug, "audit.export")
    filters, _ = AuditFilters.from_query(request.GET)
    events = audit_events(access.organization, filters)[:EXPORT_LIMIT].iterator(chunk_size=2000)
    filename = f"audit-{access.organization.slug}"
    if fmt == "csv":
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(EXPORT_COLUMNS)
            for event in events:
                data = event_as_dict(event)
                data["payload"] = json.dumps(data["payload"], sort_keys=True)
                yield writer.writerow([_csv_safe(data[c]) for c in EXPORT_COLUMNS])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    else:

        def chunks():
            yield "["
            for i, event in enumerate(events):
                yield ("," if i else "") + json.dumps(event_as_dict(event), sort_keys=True)
            yield "]"

        response = StreamingHttpResponse(chunks(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def _csv_safe(value):
    """Neutralise spreadsheet formula injection in exported cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
