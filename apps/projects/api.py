"""REST API: projects and environments."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from apps.accounts.access import org_access
from apps.accounts.api_base import TenantScopedMixin

from . import services
from .models import Environment, Project


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


class ProjectListCreate(TenantScopedMixin, generics.ListAPIView):
    """Projects in the caller's organizations; POST creates one (admin or owner)."""

    queryset = Project.objects.select_related("organization").prefetch_related("environments").order_by("name")
    serializer_class = ProjectSerializer
    capabilities = {"GET": "project.view", "POST": "project.manage"}

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request):
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = org_access(request.user, data.validated_data["organization"], "org.view")
        self.check_role(access.organization.pk)
        with transaction.atomic():
            project = services.project_create(
                organization=access.organization,
                name=data.validated_data["name"],
                description=data.validated_data["description"],
                actor=request.user,
            )
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(TenantScopedMixin, generics.RetrieveAPIView):
    queryset = Project.objects.select_related("organization").prefetch_related("environments")
    serializer_class = ProjectSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    capabilities = {"GET": "project.view"}
