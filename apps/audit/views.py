"""The organization's audit log: filter, paginate, export (CSV / JSON)."""

import csv
import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render

from apps.accounts.access import org_access
from apps.core.query import QueryInput

from .events import EVENT_TYPES
from .exports import audit_export_record
from .models import AuditEvent
from .selectors import AuditFilters, audit_events, audit_page, event_as_dict, seq_page

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


def _log_page(request, access, filters, errors, before=None):
    """The log page; with ``errors`` it answers 400, shows them above the re-shown form and
    lists nothing (a filter that was refused is not silently dropped)."""
    page = audit_page(access.organization, filters, before) if not errors else seq_page(AuditEvent.objects.none(), None)
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
            "query": urlencode(filters.as_query()),
            "active_nav": "audit",
        },
        status=400 if errors else 200,
    )


@login_required
def audit_log(request, org_slug):
    access = org_access(request.user, org_slug, "audit.view")
    filters, errors = AuditFilters.from_query(request.GET)
    paging = QueryInput(request.GET)
    before = paging.number("before", label="before", default=None, minimum=1, maximum=2**63 - 1)
    return _log_page(request, access, filters, errors + paging.errors, before)


@login_required
def audit_export(request, org_slug, fmt):
    access = org_access(request.user, org_slug, "audit.export")
    if fmt not in ("csv", "json"):
        raise Http404("Export as .csv or .json.")
    filters, errors = AuditFilters.from_query(request.GET)
    if errors:  # refused before the stream starts: never a cut-off download
        return _log_page(request, access, filters, errors)
    audit_export_record(organization=access.organization, actor=request.user, fmt=fmt, channel="page",
                        filters=filters.as_query())
    events = audit_events(access.organization, filters, limit=EXPORT_LIMIT)[:EXPORT_LIMIT].iterator(chunk_size=2000)
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
