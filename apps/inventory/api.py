"""REST API: the current tool inventory with classification, and renames."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView, TenantResolveMixin
from apps.core.query import QueryError
from apps.specs.models import SpecVersion
from apps.specs.selectors import version_for

from . import hooks, selectors, services
from .models import Tool


class ToolSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    definition = serializers.SerializerMethodField()
    tokens = serializers.SerializerMethodField()
    spec_version = serializers.IntegerField(source="spec_version.number", read_only=True)

    class Meta:
        model = Tool
        fields = [
            "id",
            "name",
            "operation_key",
            "method",
            "path",
            "operation_id",
            "description",
            "tags",
            "deprecated",
            "category",
            "category_tags",
            "risk_level",
            "risk_score",
            "side_effect",
            "pii",
            "reasons",
            "annotations",
            "quality",
            "poisoning",
            "spec_version",
            "definition",
            "tokens",
        ]

    def get_definition(self, tool) -> dict:
        return tool.mcp_definition()

    def get_tokens(self, tool) -> dict:
        """This tool's tools/list tokens, full and compact (real tokenizer, cached per version)."""
        return selectors.tool_token_bill(tool.spec_version).get(tool.operation_key, {"full": 0, "compact": 0})


@extend_schema(parameters=[OpenApiParameter(n, str) for n in ("q", "method", "tag", "category", "risk_level", "sort")])
class ToolList(TenantResolveMixin, ListAPIView):
    """Tools of the project's current spec version, filterable like the inventory page."""

    serializer_class = ToolSerializer
    scope = "project"
    capabilities = {"GET": "project.view"}

    def get_queryset(self):
        params, errors = selectors.tool_filters(self.request.query_params)
        if errors:
            raise QueryError(" ".join(errors))
        return selectors.filtered_tools(self.project, **params).select_related("spec_version")


class ToolRenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class ToolDetail(TenantAPIView):
    """GET one tool of the current version; PATCH renames it."""

    scope = "project"
    capabilities = {"GET": "project.view", "PATCH": "tool.rename"}

    @extend_schema(responses=ToolSerializer)
    def get(self, request, id, name):
        return Response(ToolSerializer(self._tool(self.project, name)).data)

    @extend_schema(request=ToolRenameSerializer, responses=ToolSerializer)
    def patch(self, request, id, name):
        data = ToolRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tool = services.tool_rename(
            tool=self._tool(self.project, name), new_name=data.validated_data["name"], actor=request.user
        )
        return Response(ToolSerializer(tool).data)

    @staticmethod
    def _tool(project, name):
        tool = selectors.tool_by_name(project, name)
        if tool is None:
            raise NotFound("No tool with that name in the current version.")
        return tool


class TokenBill(TenantAPIView):
    """What tools/list costs an agent, counted with the real tokenizer: per environment (enabled
    tools, full and compact, the form served, budget finding) and per tool."""

    scope = "project"
    capabilities = {"GET": "project.view"}

    @extend_schema(responses=dict)
    def get(self, request, id):
        from .tokens import ENCODING, LISTING_TOKEN_BUDGET

        version = selectors.current_version(self.project)
        if version is None:
            return Response({"encoding": ENCODING, "budget": LISTING_TOKEN_BUDGET, "environments": [], "toolsets": [],
                             "tools": []})
        bill = selectors.tool_token_bill(version)
        environments = [{k: v for k, v in row.items() if k != "environment"}
                        for row in selectors.environment_token_bill(self.project, version)]
        tools = [{"name": name, "operation_key": key, **bill.get(key, {"full": 0, "compact": 0})}
                 for name, key in selectors.current_tools(self.project).values_list("name", "operation_key")]
        toolsets = [{k: v for k, v in row.items() if k != "toolset"}
                    for row in hooks.toolset_bill(self.project, version)]
        return Response({"encoding": ENCODING, "budget": LISTING_TOKEN_BUDGET, "spec_version": version.number,
                         "compact": selectors.compact_listing_on(), "environments": environments,
                         "toolsets": toolsets, "tools": tools})


class SpecDiff(TenantAPIView):
    """Tools added, removed and changed between two ready versions of the spec (URL under specs/)."""

    scope = "project"
    capabilities = {"GET": "project.view"}

    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int, required=True)]
    )
    def get(self, request, id):
        project = self.project
        try:
            old = version_for(project, request.query_params.get("from"))
            new = version_for(project, request.query_params.get("to"))
        except Exception as exc:  # Http404 from a bad number: say which parameter is wrong
            raise ValidationError({"detail": "`from` and `to` must be existing version numbers."}) from exc
        if old.status != SpecVersion.Status.READY or new.status != SpecVersion.Status.READY:
            raise ValidationError({"detail": "Both versions must have finished their analysis."})
        diff = selectors.version_diff(project, old, new)
        return Response({"from": old.number, "to": new.number, **diff_as_dict(diff)})


def diff_as_dict(diff) -> dict:
    def brief(tool: dict) -> dict:
        return {k: tool.get(k) for k in ("name", "operation_key", "method", "path")}

    return {
        "summary": diff.summary(),
        "added": [brief(t) for t in diff.added],
        "removed": [brief(t) for t in diff.removed],
        "changed": [
            {
                "name": c.name,
                "operation_key": c.operation_key,
                "previous_operation_key": c.previous_operation_key,
                "fields": list(c.fields),
            }
            for c in diff.changed
        ],
    }
