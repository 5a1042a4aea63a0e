"""REST API: projects and environments."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView, TenantListAPIView, TenantRetrieveAPIView

from . import services
from .models import Environment, Project
from .selectors import environment_for
from .upstream import upstream_note


class EnvironmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Environment
        fields = ["id", "name", "slug", "position"]


class ProjectSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    environments = EnvironmentSerializer(many=True, read_only=True)

    class Meta:
        model = Project
        fields = ["id", "organization", "name", "slug", "description", "owner_contact", "environments", "created_at"]


class ProjectCreateSerializer(serializers.Serializer):
    organization = serializers.SlugField()
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectListCreate(TenantListAPIView):
    """Projects in the caller's organizations; POST creates one (admin or owner)."""

    queryset = Project.objects.select_related("organization").prefetch_related("environments").order_by("name")
    serializer_class = ProjectSerializer
    capabilities = {"GET": "project.view", "POST": "project.manage"}

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request):
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = self.organization_named(data.validated_data["organization"])
        with transaction.atomic():
            project = services.project_create(
                organization=access.organization,
                name=data.validated_data["name"],
                description=data.validated_data["description"],
                actor=request.user,
            )
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectFactsSerializer(serializers.Serializer):
    """What the product cannot infer (the project settings page's form); shown in the security report."""

    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    owner_contact = serializers.CharField(required=False, allow_blank=True, max_length=200)
    rollback_procedure = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    incident_response_plan = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class ProjectDetailSerializer(ProjectSerializer):
    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "rollback_procedure", "incident_response_plan"]


class ProjectDetail(TenantRetrieveAPIView):
    """GET a project; PATCH its facts (owner, rollback procedure, incident response plan,
    description: admins and owners, audited as ``project.updated``)."""

    queryset = Project.objects.select_related("organization").prefetch_related("environments")
    serializer_class = ProjectDetailSerializer  # found by public_id, URL kwarg ``id`` (the base)
    capabilities = {"GET": "project.view", "PATCH": "project.manage"}

    @extend_schema(request=ProjectFactsSerializer, responses={200: ProjectDetailSerializer})
    def patch(self, request, id):
        project = self.get_object()  # 404 outside the caller's organizations, 403 below admin
        data = ProjectFactsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            services.project_update(project=project, actor=request.user, **data.validated_data)
        return Response(ProjectDetailSerializer(project).data)


class EnvironmentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)


class EnvironmentList(TenantAPIView):
    """GET the project's environments; POST adds one (admins and owners, audited as
    ``environment.created``; tools on by the risk default are pinned there, as on the page)."""

    scope = "project"
    capabilities = {"GET": "project.view", "POST": "project.manage"}

    @extend_schema(responses={200: EnvironmentSerializer(many=True)})
    def get(self, request, id):
        return Response(EnvironmentSerializer(self.project.environments.all(), many=True).data)

    @extend_schema(request=EnvironmentCreateSerializer, responses={201: EnvironmentSerializer})
    def post(self, request, id):
        data = EnvironmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        environment = services.environment_create(project=self.project, name=data.validated_data["name"],
                                                  actor=request.user)
        return Response(EnvironmentSerializer(environment).data, status=status.HTTP_201_CREATED)


class UpstreamSerializer(serializers.Serializer):
    base_url = serializers.CharField(allow_blank=True, max_length=2000, trim_whitespace=True,
                                     help_text='the upstream API base URL the gateway calls here; "" unsets it')
    allow_private_network = serializers.BooleanField(
        help_text="allow a private or loopback upstream address (link-local and metadata addresses stay refused)")


class UpstreamReadSerializer(UpstreamSerializer):
    environment = serializers.CharField()
    note = serializers.CharField(allow_null=True, help_text="a warning (calls will be refused) or a notice "
                                                            "(private network access is on), or null")
    note_level = serializers.CharField(allow_null=True)


def upstream_json(environment: Environment) -> dict:
    note = upstream_note(environment.base_url, environment.allow_private_network)
    return {"environment": environment.slug, "base_url": environment.base_url,
            "allow_private_network": environment.allow_private_network,
            "note": note.text if note else None, "note_level": note.level if note else None}


class EnvironmentUpstream(TenantAPIView):
    """An environment's upstream base URL and private-network switch: GET reads them (viewers and
    up); PUT sets both, PATCH either (``credentials.manage``, audited as ``environment.updated``).
    The same validation as the settings page; ``note`` says when calls will be refused."""

    scope = "project"
    capabilities = {"GET": "project.view", "PUT": "credentials.manage", "PATCH": "credentials.manage"}

    @extend_schema(responses={200: UpstreamReadSerializer})
    def get(self, request, id, env):
        return Response(upstream_json(environment_for(self.project, env)))

    @extend_schema(request=UpstreamSerializer, responses={200: UpstreamReadSerializer})
    def put(self, request, id, env):
        return self._write(request, id, env, partial=False)

    @extend_schema(request=UpstreamSerializer(partial=True), responses={200: UpstreamReadSerializer})
    def patch(self, request, id, env):
        return self._write(request, id, env, partial=True)

    def _write(self, request, id, env, *, partial: bool):
        environment = environment_for(self.project, env)
        data = UpstreamSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = {"base_url": environment.base_url, "allow_private_network": environment.allow_private_network,
                  **data.validated_data}
        with transaction.atomic():
            services.environment_upstream_set(environment=environment, actor=request.user, **values)
        return Response(upstream_json(environment))
