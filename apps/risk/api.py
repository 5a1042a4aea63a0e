"""REST API: the live findings and Security Score of a project, and classification overrides."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView
from apps.inventory.api import ToolSerializer
from apps.inventory.selectors import current_version, tool_by_name

from . import selectors, services
from .models import RiskOverride

NO_SPEC = "The project has no analysed spec yet: import one first."


class FindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField(help_text="info | low | medium | high | critical")
    category = serializers.CharField(help_text="governance | security | data_validation | quality")
    message = serializers.CharField()
    tools = serializers.ListField(child=serializers.CharField())
    remediation = serializers.CharField()
    points = serializers.FloatField(help_text="Points this finding's code removes from the score (capped per code)")


class FindingListSerializer(serializers.Serializer):
    spec_version = serializers.IntegerField()
    score = serializers.IntegerField()
    count = serializers.IntegerField()
    findings = FindingSerializer(many=True)


class DeductionSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField()
    tools = serializers.ListField(child=serializers.CharField())
    points = serializers.FloatField()


class ScoreSerializer(serializers.Serializer):
    spec_version = serializers.IntegerField()
    score = serializers.IntegerField(help_text="0-100")
    security_score = serializers.FloatField(help_text="out of 70")
    data_validation_score = serializers.FloatField(help_text="out of 30")
    deductions = DeductionSerializer(many=True)
    formula = serializers.CharField(help_text="The documented formula (Markdown)")
    counts = serializers.DictField(help_text="Findings by severity")


def _live(project):
    score, findings = selectors.project_score(project)
    if score is None:
        raise NotFound(NO_SPEC)
    return current_version(project), score, findings


class ProjectFindings(TenantAPIView):
    """Findings of the current spec under the project's current governance, most severe first."""

    scope = "project"
    capabilities = {"GET": "project.view"}

    @extend_schema(
        parameters=[OpenApiParameter("severity", str), OpenApiParameter("category", str)],
        responses=FindingListSerializer,
    )
    def get(self, request, id):
        version, score, findings = _live(self.project)
        shown = selectors.filter_findings(
            findings,
            severity=(request.query_params.get("severity") or "").strip(),
            category=(request.query_params.get("category") or "").strip(),
        )
        points = {d["code"]: d["points"] for d in score["deductions"]}
        return Response(
            {
                "spec_version": version.number,
                "score": score["score"],
                "count": len(shown),
                "findings": [{**f, "points": points.get(f["code"], 0.0)} for f in shown],
            }
        )


class ProjectScore(TenantAPIView):
    """The live Security Score with every deduction and the formula it follows."""

    scope = "project"
    capabilities = {"GET": "project.view"}

    @extend_schema(responses=ScoreSerializer)
    def get(self, request, id):
        version, score, findings = _live(self.project)
        return Response(
            {
                "spec_version": version.number,
                "score": score["score"],
                "security_score": score["security_score"],
                "data_validation_score": score["data_validation_score"],
                "deductions": score["deductions"],
                "formula": score.get("formula", ""),
                "counts": dict(selectors.severity_counts(findings)),
            }
        )


class OverrideInputSerializer(serializers.Serializer):
    category = serializers.CharField(required=False, allow_blank=True, default="")
    risk_level = serializers.CharField(required=False, allow_blank=True, default="")
    justification = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)


class OverrideSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    by = serializers.CharField(source="actor_label")

    class Meta:
        model = RiskOverride
        fields = ["id", "operation_key", "category", "risk_level", "justification", "by", "created_at", "updated_at"]


class OverrideResultSerializer(serializers.Serializer):
    override = OverrideSerializer()
    tool = ToolSerializer()


class ToolOverride(TenantAPIView):
    """An admin's override of one tool's category and/or risk level (kept on re-import).

    POST creates or replaces it (``justification`` is required); DELETE removes it and puts
    the classifier's verdict back."""

    scope = "project"
    capabilities = {"POST": "risk.override", "DELETE": "risk.override"}

    @extend_schema(
        request=OverrideInputSerializer,
        responses={
            200: OverrideResultSerializer,
            201: OverrideResultSerializer,
            400: OpenApiResponse(description='{"detail": ..., "field": ...}'),
        },
    )
    def post(self, request, id, name):
        tool = self._tool(self.project, name)
        data = OverrideInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        existed = selectors.override_for(tool) is not None
        override = services.risk_override_set(tool=tool, actor=request.user, **data.validated_data)
        return Response(
            {"override": OverrideSerializer(override).data, "tool": ToolSerializer(tool).data},
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )

    @extend_schema(responses={204: None, 404: OpenApiResponse(description="No override for this tool")})
    def delete(self, request, id, name):
        services.risk_override_remove(tool=self._tool(self.project, name), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _tool(project, name):
        tool = tool_by_name(project, name)
        if tool is None:
            raise NotFound("No tool with that name in the current version.")
        return tool


class OverridesExport(TenantAPIView):
    """The project's classification overrides as labelled data, in the format of
    ``tests/data/classify_eval/labels.yaml`` (``docs/labelling-guide.md``), for
    ``bench/classify_eval.py --overrides``. ``?fmt=json`` (default) or ``?fmt=csv``.
    Reviewers and above; every export is audited."""

    scope = "project"
    capabilities = {"GET": "risk.export_overrides"}

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, enum=["json", "csv"], description="json (default) or csv")],
        responses={200: OpenApiResponse(description="labels file"), 400: OpenApiResponse(description="bad fmt")},
    )
    def get(self, request, id):
        fmt = (request.query_params.get("fmt") or "json").strip().lower()
        body, content_type = services.risk_overrides_export(project=self.project, actor=request.user, fmt=fmt)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="overrides-{self.project.slug}.{fmt}"'
        return response
