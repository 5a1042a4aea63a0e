"""REST API: import a document, follow its analysis (comparing versions: apps/inventory/api.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView

from . import services
from .models import SpecVersion
from .selectors import version_for, versions_of


class SpecVersionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = SpecVersion
        fields = [
            "id",
            "number",
            "source",
            "source_url",
            "filename",
            "sha256",
            "size_bytes",
            "imported_by_label",
            "status",
            "stage",
            "progress",
            "error",
            "error_pointer",
            "is_current",
            "title",
            "api_version",
            "openapi_version",
            "warnings",
            "tool_count",
            "token_estimate",
            "analysis_ms",
            "created_at",
            "finished_at",
        ]


class SpecImportSerializer(serializers.Serializer):
    document = serializers.CharField(required=False, help_text="The document as text (JSON or YAML)")
    url = serializers.URLField(required=False, max_length=2000)
    filename = serializers.CharField(required=False, allow_blank=True, default="")
    file = serializers.FileField(required=False, help_text="multipart upload")


class SpecVersionList(TenantAPIView):
    """GET: versions of a project. POST: import a document (multipart `file`, JSON `document` or `url`).
    The analysis runs in the background; poll the version until status is ready or failed."""

    scope = "project"
    capabilities = {"GET": "project.view", "POST": "spec.import"}

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=SpecVersionSerializer(many=True))
    def get(self, request, id):
        return Response(SpecVersionSerializer(versions_of(self.project), many=True).data)

    @extend_schema(request=SpecImportSerializer, responses={202: SpecVersionSerializer})
    def post(self, request, id):
        upload = request.FILES.get("file")
        document = request.data.get("document")
        url = request.data.get("url")
        given = [x for x in (upload, document, url) if x]
        if len(given) != 1:
            raise ValidationError({"detail": "Send exactly one of: a multipart `file`, a `document` string, a `url`."})
        if upload:
            version = services.spec_import(
                project=self.project,
                data=upload.read(),
                source=SpecVersion.Source.API,
                filename=upload.name,
                actor=request.user,
            )
        elif document:
            if not isinstance(document, str):
                raise ValidationError({"detail": "`document` must be the document as a string (JSON or YAML)."})
            version = services.spec_import(
                project=self.project,
                data=document.encode(),
                source=SpecVersion.Source.API,
                filename=str(request.data.get("filename") or "")[:255],
                actor=request.user,
            )
        else:
            data = SpecImportSerializer(data={"url": url})
            data.is_valid(raise_exception=True)
            version = services.spec_import_url(project=self.project, url=data.validated_data["url"], actor=request.user)
        return Response(SpecVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)


class SpecVersionDetail(TenantAPIView):
    """One imported version of the spec: status, warnings, findings, score and, on failure, the error."""

    scope = "project"
    capabilities = {"GET": "project.view"}

    @extend_schema(responses=SpecVersionSerializer)
    def get(self, request, id, number):
        return Response(SpecVersionSerializer(version_for(self.project, number)).data)


class SpecVersionRetry(TenantAPIView):
    """Run the analysis of a failed version again (only a crash or timeout can be retried)."""

    scope = "project"
    capabilities = {"POST": "spec.import"}

    @extend_schema(request=None, responses={202: SpecVersionSerializer})
    def post(self, request, id, number):
        version = services.spec_retry(version=version_for(self.project, number), actor=request.user)
        return Response(SpecVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)
