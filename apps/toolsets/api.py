"""REST API of toolsets and of an environment's listing switches.

Reads need ``project.view``; writes ``governance.manage`` (admins), like every governance write.
Each view declares ``scope = "project"`` and its capabilities; the tenancy base
(apps/accounts/api_base.py) resolves the project: 404 for outsiders, 403 below the role.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView
from apps.inventory.listing import MODES
from apps.projects.endpoints import endpoint_url
from apps.projects.selectors import environment_for

from . import selectors, services
from .models import Toolset

VIEW, MANAGE = "project.view", "governance.manage"


def toolset_endpoints(project, toolset: Toolset) -> list[dict]:
    org = project.organization.slug
    return [{"environment": env.slug,
             "url": endpoint_url(settings.SITE_URL, org, project.slug, env.slug) + f"toolsets/{toolset.slug}/"}
            for env in project.environments.all()]


def toolset_json(project, toolset: Toolset) -> dict:
    return {"id": str(toolset.public_id), "slug": toolset.slug, "name": toolset.name,
            "description": toolset.description, "tool_names": list(toolset.tool_names),
            "compact_tools": toolset.compact_tools, "listing_mode": toolset.listing_mode,
            "endpoints": toolset_endpoints(project, toolset), "created_by": toolset.created_by_label,
            "created_at": toolset.created_at, "updated_at": toolset.updated_at}


class ToolsetOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    tool_names = serializers.ListField(child=serializers.CharField())
    compact_tools = serializers.BooleanField(allow_null=True)
    listing_mode = serializers.CharField()
    endpoints = serializers.ListField(child=serializers.DictField())
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


LISTING_MODE_HELP = "'' (as the environment), 'full' or 'search-first' (tools/list serves only the meta-tools)"


class ToolsetInput(serializers.Serializer):
    slug = serializers.CharField(max_length=60, help_text="Part of the endpoint URL: lowercase letters, digits, "
                                                          "dashes; never changes")
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    tool_names = serializers.ListField(child=serializers.CharField(max_length=64), max_length=5000)
    compact_tools = serializers.BooleanField(required=False, allow_null=True, default=None,
                                             help_text="null: as the environment")
    listing_mode = serializers.ChoiceField(choices=["", *MODES], required=False, allow_blank=True, default="",
                                           help_text=LISTING_MODE_HELP)


class ToolsetPatch(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    tool_names = serializers.ListField(child=serializers.CharField(max_length=64), max_length=5000, required=False)
    compact_tools = serializers.BooleanField(required=False, allow_null=True)
    listing_mode = serializers.ChoiceField(choices=["", *MODES], required=False, allow_blank=True,
                                           help_text=LISTING_MODE_HELP)


class ToolsetList(TenantAPIView):
    """GET the project's toolsets (each with its MCP endpoint per environment); POST creates one (admin)."""

    scope = "project"
    capabilities = {"GET": VIEW, "POST": MANAGE}

    @extend_schema(responses=ToolsetOutput(many=True))
    def get(self, request, id):
        return Response([toolset_json(self.project, t) for t in selectors.toolsets_of(self.project)])

    @extend_schema(request=ToolsetInput, responses={201: ToolsetOutput})
    def post(self, request, id):
        data = ToolsetInput(data=request.data)
        data.is_valid(raise_exception=True)
        toolset = services.toolset_create(project=self.project, actor=request.user, **data.validated_data)
        return Response(toolset_json(self.project, toolset), status=status.HTTP_201_CREATED)


class ToolsetDetail(TenantAPIView):
    """GET one toolset; PATCH its name, description, tools or listing switches; DELETE it (admin)."""

    scope = "project"
    capabilities = {"GET": VIEW, "PATCH": MANAGE, "DELETE": MANAGE}

    @extend_schema(responses=ToolsetOutput)
    def get(self, request, id, toolset):
        return Response(toolset_json(self.project, selectors.toolset_for(self.project, toolset)))

    @extend_schema(request=ToolsetPatch, responses=ToolsetOutput)
    def patch(self, request, id, toolset):
        found = selectors.toolset_for(self.project, toolset)
        data = ToolsetPatch(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.toolset_update(toolset=found, actor=request.user, **data.validated_data)
        return Response(toolset_json(self.project, updated))

    @extend_schema(responses={204: None})
    def delete(self, request, id, toolset):
        services.toolset_delete(toolset=selectors.toolset_for(self.project, toolset), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ListingInput(serializers.Serializer):
    compact_tools = serializers.BooleanField(allow_null=True, help_text="null: as MCP_COMPACT_TOOLS")
    listing_mode = serializers.ChoiceField(choices=list(MODES), help_text="'full' or 'search-first'")


LISTING_OUTPUT = inline_serializer("EnvironmentListing", {
    "environment": serializers.CharField(), "compact_tools": serializers.BooleanField(allow_null=True),
    "listing_mode": serializers.CharField(), "endpoint": serializers.CharField(),
    "search_endpoint": serializers.CharField()})


def listing_json(project, environment) -> dict:
    url = endpoint_url(settings.SITE_URL, project.organization.slug, project.slug, environment.slug)
    return {"environment": environment.slug, "compact_tools": environment.compact_tools,
            "listing_mode": environment.listing_mode, "endpoint": url, "search_endpoint": url + "search/"}


class EnvironmentListing(TenantAPIView):
    """GET how an environment's MCP endpoint lists tools; PUT ``{"compact_tools": null|bool,
    "listing_mode": "full"|"search-first"}`` (admin, audited as ``environment.updated``)."""

    scope = "project"
    capabilities = {"GET": VIEW, "PUT": MANAGE}

    @extend_schema(responses=LISTING_OUTPUT)
    def get(self, request, id, env):
        return Response(listing_json(self.project, environment_for(self.project, env)))

    @extend_schema(request=ListingInput, responses=LISTING_OUTPUT)
    def put(self, request, id, env):
        environment = environment_for(self.project, env)
        data = ListingInput(data=request.data)
        data.is_valid(raise_exception=True)
        environment = services.environment_listing_set(environment=environment, actor=request.user,
                                                       **data.validated_data)
        return Response(listing_json(self.project, environment))
