"""REST API: the caller's organizations and their own tokens; members, invitations and teams."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .access import memberships_of
from .api_base import TenantAPIView
from .models import Invitation, Membership, SignInDomain, Team


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


class SignInDomains(TenantAPIView):
    """Enterprise sign-in of an organization (admins): the email domains whose people join it,
    with ``role``, on their first OpenID Connect sign-in with a verified address."""

    scope = "organization"
    capabilities = {"GET": "member.manage", "PUT": "member.manage"}

    @extend_schema(responses=SignInDomainsSerializer)
    def get(self, request, org_slug):
        return Response(_signin_state(self.organization))

    @extend_schema(request=SignInDomainsSerializer, responses=SignInDomainsSerializer)
    def put(self, request, org_slug):
        data = SignInDomainsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.signin_domains_set(organization=self.organization, domains=data.validated_data["domains"],
                                    role=data.validated_data["role"], actor=request.user)
        return Response(_signin_state(self.organization))


# --------------------------------------------------------------------------- members, invitations, teams
# The members and teams pages' admin actions, with the same services, capabilities and audit:
# reads for every member (``org.view``), writes ``member.manage`` / ``team.manage``.


class MemberSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created_at"]


class InviteSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "expires_at"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(slug_field="email", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "members"]


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


def _member(access, member_id) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user", "organization"),
                             organization=access.organization, public_id=member_id)


def _team(access, team_slug) -> Team:
    return get_object_or_404(Team.objects.prefetch_related("members"), organization=access.organization,
                             slug=team_slug)


class MemberList(TenantAPIView):
    """GET the organization's members and pending invitations; POST invites someone (admins and
    owners; only an owner invites an owner). The response carries the one-time invitation link."""

    scope = "organization"
    capabilities = {"GET": "org.view", "POST": "member.manage"}

    @extend_schema(responses={200: MemberSerializer(many=True)})
    def get(self, request, org_slug):
        members = Membership.objects.filter(organization=self.organization).select_related("user")
        invitations = [i for i in Invitation.objects.filter(organization=self.organization, accepted_at=None,
                                                            revoked_at=None) if i.is_pending]
        return Response({"members": MemberSerializer(members.order_by("user__email"), many=True).data,
                         "invitations": InvitationSerializer(invitations, many=True).data})

    @extend_schema(request=InviteSerializer, responses={201: InvitationSerializer})
    def post(self, request, org_slug):
        data = InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        url = services.invitation_create(organization=self.organization, email=data.validated_data["email"],
                                         role=data.validated_data["role"], actor=request.user,
                                         actor_role=self.role)
        invitation = Invitation.objects.filter(organization=self.organization,
                                               email=data.validated_data["email"].strip().lower()).latest("created_at")
        return Response({**InvitationSerializer(invitation).data, "invite_url": url}, status=status.HTTP_201_CREATED)


class MemberDetail(TenantAPIView):
    """PATCH a member's role; DELETE removes them (their tokens are revoked). Admins and owners;
    an owner's role only by an owner, and never the last owner."""

    scope = "organization"
    capabilities = {"GET": "org.view", "PATCH": "member.manage", "DELETE": "member.manage"}

    @extend_schema(responses={200: MemberSerializer})
    def get(self, request, org_slug, member_id):
        return Response(MemberSerializer(_member(self.access, member_id)).data)

    @extend_schema(request=RoleSerializer, responses={200: MemberSerializer})
    def patch(self, request, org_slug, member_id):
        membership = _member(self.access, member_id)
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.membership_change_role(membership=membership, role=data.validated_data["role"],
                                        actor=request.user, actor_role=self.role)
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org_slug, member_id):
        services.membership_remove(membership=_member(self.access, member_id), actor=request.user,
                                   actor_role=self.role)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationDetail(TenantAPIView):
    """DELETE revokes a pending invitation (admins and owners)."""

    scope = "organization"
    capabilities = {"DELETE": "member.manage"}

    @extend_schema(responses={204: None})
    def delete(self, request, org_slug, invitation_id):
        invitation = get_object_or_404(Invitation, organization=self.organization, public_id=invitation_id)
        services.invitation_revoke(invitation=invitation, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamList(TenantAPIView):
    """GET the organization's teams; POST creates one (admins and owners)."""

    scope = "organization"
    capabilities = {"GET": "org.view", "POST": "team.manage"}

    @extend_schema(responses={200: TeamSerializer(many=True)})
    def get(self, request, org_slug):
        teams = Team.objects.filter(organization=self.organization).prefetch_related("members")
        return Response(TeamSerializer(teams, many=True).data)

    @extend_schema(request=TeamCreateSerializer, responses={201: TeamSerializer})
    def post(self, request, org_slug):
        data = TeamCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(organization=self.organization, actor=request.user, **data.validated_data)
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamDetail(TenantAPIView):
    """GET a team; DELETE it (admins and owners)."""

    scope = "organization"
    capabilities = {"GET": "org.view", "DELETE": "team.manage"}

    @extend_schema(responses={200: TeamSerializer})
    def get(self, request, org_slug, team_slug):
        return Response(TeamSerializer(_team(self.access, team_slug)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, org_slug, team_slug):
        services.team_delete(team=_team(self.access, team_slug), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMember(TenantAPIView):
    """PUT adds a member of the organization to the team; DELETE takes them off (admins and owners)."""

    scope = "organization"
    capabilities = {"PUT": "team.manage", "DELETE": "team.manage"}

    @extend_schema(request=None, responses={200: TeamSerializer})
    def put(self, request, org_slug, team_slug, member_id):
        team, membership = _team(self.access, team_slug), _member(self.access, member_id)
        services.team_add_member(team=team, user=membership.user, actor=request.user)
        return Response(TeamSerializer(_team(self.access, team_slug)).data)

    @extend_schema(request=None, responses={200: TeamSerializer})
    def delete(self, request, org_slug, team_slug, member_id):
        team, membership = _team(self.access, team_slug), _member(self.access, member_id)
        services.team_remove_member(team=team, user=membership.user, actor=request.user)
        return Response(TeamSerializer(_team(self.access, team_slug)).data)
