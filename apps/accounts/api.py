"""REST API: the caller's organizations and their own tokens."""

from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from .access import memberships_of
from .models import Membership


class MembershipSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="organization.public_id")
    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")

    class Meta:
        model = Membership
        fields = ["id", "slug", "name", "role"]


class OrganizationList(ListAPIView):
    """Organizations the caller belongs to, with their role."""

    serializer_class = MembershipSerializer

    def get_queryset(self):
        return (
            memberships_of(self.request.user)
            .select_related("organization")
            .order_by("organization__name")
        )


class Me(APIView):
    """Who the API thinks you are (handy to check a token)."""

    def get(self, request):
        token = getattr(request, "api_token", None)
        return Response(
            {"email": request.user.email, "token": {"name": token.name, "prefix": token.prefix} if token else None}
        )
