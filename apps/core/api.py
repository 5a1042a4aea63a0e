"""DRF glue: every error is a JSON body with a `detail` message (and `field` when known)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .query import MAX_NUMBER, MAX_PAGE_SIZE, QueryInput


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset paging with the product's input rules (apps/core/query.py): a
    ``?limit=`` or ``?offset=`` that is not a plain number in range is a 400 with a ``detail``,
    never a database error; ``limit`` is at most ``MAX_PAGE_SIZE``."""

    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request):
        params = QueryInput(request.query_params)
        limit = params.number(self.limit_query_param, label="limit", default=self.default_limit, minimum=1,
                              maximum=MAX_PAGE_SIZE)
        params.raise_for_errors()
        return limit

    def get_offset(self, request):
        params = QueryInput(request.query_params)
        offset = params.number(self.offset_query_param, label="offset", default=0, minimum=0, maximum=MAX_NUMBER)
        params.raise_for_errors()
        return offset


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        request = context.get("request")
        size = int(getattr(request, "META", {}).get("CONTENT_LENGTH") or 0)
        limit_mb = settings.SPEC_MAX_BYTES / 1048576
        return Response(
            {"detail": f"The request is {size / 1048576:.1f} MB, larger than the {limit_mb:.0f} MB limit."}, status=413
        )
    if isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=404)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        if "detail" not in response.data:
            response.data = {"detail": "Invalid input.", "errors": response.data}
    return response
