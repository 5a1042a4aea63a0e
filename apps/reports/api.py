"""REST API: generate security reports, poll them, fetch the PDF or the JSON snapshot."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView
from apps.core.errors import DomainError

from . import services
from .models import Report
from .selectors import report_data, report_for, report_pdf, reports_of


class ReportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    environment = serializers.SerializerMethodField()
    spec_version = serializers.SerializerMethodField()
    generated_by = serializers.CharField(source="generated_by_label", read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = ["id", "environment", "scope_label", "status", "stage", "progress", "error", "spec_version",
                  "spec_label", "score", "tool_count", "generated_by", "created_at", "finished_at", "pdf_sha256",
                  "pdf_bytes", "page_count", "links"]

    def get_environment(self, report) -> str | None:
        return report.environment.slug if report.environment_id and report.environment else None

    def get_spec_version(self, report) -> int | None:
        return report.spec_number

    def get_links(self, report) -> dict:
        if report.status != Report.Status.READY:
            return {}
        base = f"/api/v1/projects/{report.project.public_id}/reports/{report.public_id}/"
        return {"pdf": base + "pdf", "json": base + "json"}


class ReportRequestSerializer(serializers.Serializer):
    environment = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None,
                                        help_text="Environment slug; omit or null for all environments")


class PDFRenderer(BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        return JSONRenderer().render(data)


class ReportListCreate(TenantAPIView):
    """GET: the project's reports, newest first. POST: queue a new report (member or above);
    poll the returned report until ``status`` is ``ready``, then fetch ``links.pdf``."""

    scope = "project"
    capabilities = {"GET": "project.view", "POST": "report.generate"}

    @extend_schema(responses={200: ReportSerializer(many=True)})
    def get(self, request, id):
        return Response(ReportSerializer(reports_of(self.project)[:100], many=True).data)

    @extend_schema(request=ReportRequestSerializer, responses={202: ReportSerializer})
    def post(self, request, id):
        body = ReportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        slug = body.validated_data.get("environment") or ""
        environment = None
        if slug and slug != "all":
            environment = self.project.environments.filter(slug=slug).first()
            if environment is None:
                names = ", ".join(self.project.environments.values_list("slug", flat=True))
                raise DomainError(f"Unknown environment {slug!r}; this project has: {names}.", field="environment")
        report = services.report_request(project=self.project, environment=environment, actor=request.user)
        return Response(ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ReportDetail(TenantAPIView):
    """One security report: its status, progress and, once ready, the PDF's size, digest and link."""

    scope = "project"
    capabilities = {"GET": "project.view"}

    @extend_schema(responses={200: ReportSerializer})
    def get(self, request, id, rid):
        return Response(ReportSerializer(report_for(self.project, rid)).data)


class ReportRetry(TenantAPIView):
    """POST: queue a failed report again (member or above, like the page's Retry); 400 unless it failed."""

    scope = "project"
    capabilities = {"POST": "report.generate"}

    @extend_schema(request=None, responses={202: ReportSerializer})
    def post(self, request, id, rid):
        report = services.report_retry(report=report_for(self.project, rid), actor=request.user)
        return Response(ReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)


class ReportPdf(TenantAPIView):
    """The PDF of a ready report (viewer or above). Every download is audited."""

    scope = "project"
    capabilities = {"GET": "report.download"}

    # JSON first: errors (404, 403, 409) render as JSON; a client asking for application/pdf still
    # passes content negotiation, and the success response is the PDF itself.
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, id, rid):
        report = report_for(self.project, rid)
        services.report_download_record(report=report, actor=request.user, fmt="pdf")
        response = HttpResponse(report_pdf(report), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{report.filename}.pdf"'
        response["X-Content-SHA256"] = report.pdf_sha256
        return response


class ReportJson(TenantAPIView):
    """The snapshot a ready report was rendered from (viewer or above). Audited like a download."""

    scope = "project"
    capabilities = {"GET": "report.download"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, id, rid):
        report = report_for(self.project, rid)
        services.report_download_record(report=report, actor=request.user, fmt="json")
        return Response({"report": ReportSerializer(report).data, "data": report_data(report)})
