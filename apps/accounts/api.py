"""REST API: the caller's organizations and their own tokens."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .access import memberships_of, org_access
from .models import Membership, SignInDomain


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


class SignInDomainsSerializer(serializers.Serializer):
    domains = serializers.ListField(child=serializers.CharField(max_length=300, allow_blank=True), max_length=50,
                                    help_text="Email domains whose people join on first enterprise sign-in; [] is off.")
    role = serializers.ChoiceField(choices=SignInDomain.JoinRole.choices, default=SignInDomain.JoinRole.MEMBER)


def _signin_state(organization) -> dict:
    rows = selectors.signin_domains(organization)
    return {"domains": [d.domain for d in rows], "role": rows[0].role if rows else None, "enabled": bool(rows),
            "provider": (selectors.oidc_provider() or {}).get("name")}


class SignInDomains(APIView):
    """Enterprise sign-in of an organization (admins): the email domains whose people join it,
    with ``role``, on their first OpenID Connect sign-in with a verified address."""

    @extend_schema(responses=SignInDomainsSerializer)
    def get(self, request, org_slug):
        access = org_access(request.user, org_slug, "member.manage")
        return Response(_signin_state(access.organization))

    @extend_schema(request=SignInDomainsSerializer, responses=SignInDomainsSerializer)
    def put(self, request, org_slug):
        access = org_access(request.user, org_slug, "member.manage")
        data = SignInDomainsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.signin_domains_set(organization=access.organization, domains=data.validated_data["domains"],
                                    role=data.validated_data["role"], actor=request.user)
        return Response(_signin_state(access.organization))
