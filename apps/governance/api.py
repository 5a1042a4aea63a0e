"""REST API of governance: tool states per environment, grants, approval policies, simulator.

Every view declares ``scope = "project"`` and its capabilities; the tenancy base
(apps/accounts/api_base.py) resolves the project (404 for outsiders, 403 below the capability):
reads need ``project.view``, writes ``governance.manage``.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView
from apps.accounts.models import Team
from apps.core.errors import DomainError
from apps.core.query import QueryInput
from apps.inventory.selectors import tool_by_name
from apps.projects.selectors import environment_for

from . import selectors, services
from .models import ApprovalPolicy, Grant

VIEW, MANAGE = "project.view", "governance.manage"


def _environment_or_none(project, slug):
    """The environment named in a request body; an unknown one is a 400 naming the field."""
    if not slug:
        return None
    try:
        return environment_for(project, slug)
    except Http404:
        raise DomainError(f"No environment '{slug}' in this project.", field="environment") from None


class TargetSerializer(serializers.Serializer):
    all_tools = serializers.BooleanField(required=False, default=False)
    operation_keys = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    categories = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    tags = serializers.ListField(child=serializers.CharField(), required=False, default=list)


# --------------------------------------------------------------------------- tool states


class ToolStateSerializer(serializers.Serializer):
    operation_key = serializers.CharField()
    enabled = serializers.BooleanField()


class ToolStatesInput(serializers.Serializer):
    tools = ToolStateSerializer(many=True)
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000,
        help_text="Needed to enable a tool the poisoning scan flags (audited as tool.definition_override)")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text="Required to enable critical, administrative or billing tools "
                                             "outside development; recorded in the audit event.")


class ToolStates(TenantAPIView):
    """GET: every current tool's enabled state in the environment (explicit or risk default).
    PUT ``{"tools": [{"operation_key": "POST /refunds", "enabled": true}, ...]}``: set them."""

    scope = "project"
    capabilities = {"GET": VIEW, "PUT": MANAGE}

    def _states(self, project, environment):
        rows = selectors.matrix(project, [environment])
        return [{"name": r.tool.name, "operation_key": r.tool.operation_key, "category": r.tool.category,
                 "risk_level": r.tool.risk_level, "enabled": r.cells[0]["enabled"],
                 "explicit": r.cells[0]["explicit"], "default": r.cells[0]["default"],
                 "unguarded": r.cells[0]["unguarded"]} for r in rows]

    def get(self, request, id, env):
        environment = environment_for(self.project, env)
        return Response({"environment": environment.slug, "tools": self._states(self.project, environment)})

    @extend_schema(request=ToolStatesInput)
    def put(self, request, id, env):
        environment = environment_for(self.project, env)
        data = ToolStatesInput(data=request.data)
        data.is_valid(raise_exception=True)
        tools = data.validated_data["tools"]
        findings = services.tool_states_set(
            project=self.project, environment=environment, actor=request.user,
            enable=[t["operation_key"] for t in tools if t["enabled"]],
            disable=[t["operation_key"] for t in tools if not t["enabled"]],
            override_reason=data.validated_data["override_reason"], reason=data.validated_data["reason"])
        return Response({"environment": environment.slug, "tools": self._states(self.project, environment),
                         "findings": findings})


class BulkInput(serializers.Serializer):
    enabled = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text="Required to enable critical, administrative or billing tools "
                                             "outside development; recorded in the audit event.")
    category = serializers.CharField(required=False, allow_blank=True, default="")
    tag = serializers.CharField(required=False, allow_blank=True, default="")


class ToolBulk(TenantAPIView):
    """POST ``{"enabled": false, "tag": "admin"}``: switch every tool of a category and/or tag."""

    scope = "project"
    capabilities = {"POST": MANAGE}

    @extend_schema(request=BulkInput)
    def post(self, request, id, env):
        environment = environment_for(self.project, env)
        data = BulkInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.tool_bulk_set(project=self.project, environment=environment, actor=request.user,
                                        **data.validated_data)
        return Response({"changed": result.changed, "unchanged": result.unchanged, "findings": result.findings})


# --------------------------------------------------------------------------- grants


def grant_json(grant: Grant) -> dict:
    ref = selectors.grant_ref(grant)
    return {
        "id": str(grant.public_id), "number": grant.pk, "effect": grant.effect,
        "principal_kind": grant.principal_kind, "role": grant.role or None,
        "team": grant.team.slug if grant.team_id else None, "user": grant.user.email if grant.user_id else None,
        "environment": grant.environment.slug if grant.environment_id else None,
        "all_tools": grant.all_tools, "operation_keys": grant.operation_keys, "categories": grant.categories,
        "tags": grant.tags, "note": grant.note, "description": ref.describe(), "created_at": grant.created_at,
        "created_by": grant.created_by_label,
    }


class GrantInput(TargetSerializer):
    effect = serializers.ChoiceField(choices=Grant.Effect.values)
    principal_kind = serializers.ChoiceField(choices=Grant.PrincipalKind.values)
    role = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="", help_text="team slug")
    user = serializers.CharField(required=False, allow_blank=True, default="", help_text="member email")
    environment = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class GrantList(TenantAPIView):
    """GET the project's grants; POST creates one (admin)."""

    scope = "project"
    capabilities = {"GET": VIEW, "POST": MANAGE}

    def get(self, request, id):
        return Response([grant_json(g) for g in selectors.grant_list(self.project)])

    @extend_schema(request=GrantInput)
    def post(self, request, id):
        data = GrantInput(data=request.data)
        data.is_valid(raise_exception=True)
        d = dict(data.validated_data)
        team = None
        if d["team"]:
            team = Team.objects.filter(organization=self.project.organization, slug=d["team"]).first()
            if team is None:
                raise DomainError(f"No team '{d['team']}' in this organization.", field="team")
        user = None
        if d["user"]:
            user = selectors.member(self.project.organization, d["user"])
            if user is None:
                raise DomainError(f"No member '{d['user']}' in this organization.", field="user")
        grant = services.grant_create(
            project=self.project, actor=request.user, effect=d["effect"], principal_kind=d["principal_kind"],
            environment=_environment_or_none(self.project, d["environment"]), role=d["role"], team=team, user=user,
            all_tools=d["all_tools"], operation_keys=d["operation_keys"], categories=d["categories"], tags=d["tags"],
            note=d["note"])
        return Response(grant_json(grant), status=status.HTTP_201_CREATED)


def _grant(project, grant_id) -> Grant:
    grant = (Grant.objects.filter(project=project, public_id=grant_id)
             .select_related("team", "user", "environment").first())
    if grant is None:
        raise Http404("No such grant.")
    return grant


class GrantDetail(TenantAPIView):
    """GET one grant; DELETE it (audited as ``grant.deleted``)."""

    scope = "project"
    capabilities = {"GET": VIEW, "DELETE": MANAGE}

    def get(self, request, id, grant_id):
        return Response(grant_json(_grant(self.project, grant_id)))

    def delete(self, request, id, grant_id):
        grant = _grant(self.project, grant_id)
        services.grant_delete(grant=grant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- policies


def policy_json(policy: ApprovalPolicy) -> dict:
    return {
        "id": str(policy.public_id), "name": policy.name,
        "environment": policy.environment.slug if policy.environment_id else None,
        "kind": policy.kind, "approvals_required": policy.approvals_required, "order": policy.order,
        "steps": policy.steps, "tiers": policy.tiers, "conditional_tiers": services.conditional_tiers_of(policy),
        "expires_after_seconds": int(policy.expires_after.total_seconds()),
        "justification_required": policy.justification_required, "all_tools": policy.all_tools,
        "operation_keys": policy.operation_keys, "categories": policy.categories, "tags": policy.tags,
        "source": policy.source, "created_at": policy.created_at, "updated_at": policy.updated_at,
    }


class PolicyInput(TargetSerializer):
    name = serializers.CharField(max_length=120)
    environment = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=ApprovalPolicy.Kind.values)
    approvals_required = serializers.IntegerField(required=False, allow_null=True, default=None)
    order = serializers.ChoiceField(choices=ApprovalPolicy.Order.values, required=False, default="any")
    steps = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    conditional_tiers = serializers.ListField(child=serializers.DictField(), required=False, default=list,
                                              help_text='[{"when": [{"field": "amount", "operator": ">", '
                                                        '"value": 10000}], "approvals": 2}]')
    expires_after_seconds = serializers.IntegerField(required=False, default=24 * 3600)
    justification_required = serializers.BooleanField(required=False, default=False)


def _policy_fields(project, validated: dict) -> dict:
    fields = dict(validated)
    if "environment" in fields:
        fields["environment"] = _environment_or_none(project, fields["environment"])
    if "expires_after_seconds" in fields:
        fields["expires_after"] = timedelta(seconds=fields.pop("expires_after_seconds"))
    return fields


class PolicyList(TenantAPIView):
    """GET the project's approval policies; POST creates one (admin), rules validated on save."""

    scope = "project"
    capabilities = {"GET": VIEW, "POST": MANAGE}

    def get(self, request, id):
        return Response([policy_json(p) for p in selectors.policy_list(self.project)])

    @extend_schema(request=PolicyInput)
    def post(self, request, id):
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.policy_create(project=self.project, actor=request.user,
                                        **_policy_fields(self.project, data.validated_data))
        return Response(policy_json(policy), status=status.HTTP_201_CREATED)


def _policy(project, policy_id) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.filter(project=project, public_id=policy_id).select_related("environment").first()
    if policy is None:
        raise Http404("No such policy.")
    return policy


class PolicyDetail(TenantAPIView):
    """GET / PUT (all fields) / PATCH (some fields) / DELETE one policy."""

    scope = "project"
    capabilities = {"GET": VIEW, "PUT": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    def get(self, request, id, policy_id):
        return Response(policy_json(_policy(self.project, policy_id)))

    def _update(self, request, id, policy_id, partial):
        policy = _policy(self.project, policy_id)
        data = PolicyInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        given = {k: v for k, v in data.validated_data.items() if k in request.data} if partial else data.validated_data
        policy = services.policy_update(policy=policy, actor=request.user, **_policy_fields(self.project, given))
        return Response(policy_json(policy))

    @extend_schema(request=PolicyInput)
    def put(self, request, id, policy_id):
        return self._update(request, id, policy_id, partial=False)

    @extend_schema(request=PolicyInput)
    def patch(self, request, id, policy_id):
        return self._update(request, id, policy_id, partial=True)

    def delete(self, request, id, policy_id):
        policy = _policy(self.project, policy_id)
        services.policy_delete(policy=policy, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptInput(serializers.Serializer):
    keys = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True, default=None)


class PolicySuggestions(TenantAPIView):
    """GET the policies suggested from risk; POST ``{"keys": [...]}`` (or nothing: all) accepts them."""

    scope = "project"
    capabilities = {"GET": VIEW, "POST": MANAGE}

    def get(self, request, id):
        return Response([s.__dict__ for s in selectors.suggested_policies(self.project)])

    @extend_schema(request=AcceptInput)
    def post(self, request, id):
        data = AcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.accept_suggested_policies(project=self.project, actor=request.user,
                                                     keys=data.validated_data["keys"])
        return Response([policy_json(p) for p in created], status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- simulator


def decision_json(simulation: selectors.Simulation) -> dict:
    decision = simulation.decision
    requirement = simulation.requirement
    return {
        "allowed": decision.allowed, "code": decision.code, "reason": decision.reason,
        "matched_grant": decision.matched.id if decision.matched else None,
        "considered": [{"grant": ev.grant.id, "description": ev.grant.describe(), "applies": ev.applies,
                        "note": ev.note} for ev in decision.considered],
        "approval": None if requirement is None else {
            "policy_id": requirement.policy_id, "policy_label": requirement.policy_label, "kind": requirement.kind,
            "approvals_required": requirement.approvals_required, "steps": requirement.steps,
            "order": requirement.order, "expires_after_seconds": int(requirement.expires_after.total_seconds()),
            "justification_required": requirement.justification_required, "reason": requirement.reason},
        "approval_error": simulation.requirement_error or None,
    }


class Simulate(TenantAPIView):
    """Can member ``user`` (email or id) call ``tool`` (name) in ``environment`` (slug)? Same
    answer as the gateway; ``arguments`` (JSON object) also shows the approval it would need."""

    scope = "project"
    capabilities = {"GET": VIEW}

    @extend_schema(parameters=[OpenApiParameter("user", str), OpenApiParameter("tool", str),
                               OpenApiParameter("environment", str), OpenApiParameter("arguments", str)])
    def get(self, request, id):
        query = QueryInput(request.query_params)
        params = {"user": query.text("user", max_length=254), "tool": query.text("tool", max_length=64),
                  "environment": query.text("environment", max_length=60),
                  "arguments": query.text("arguments", max_length=100_000, multiline=True)}
        query.raise_for_errors()
        user = selectors.member(self.project.organization, params["user"])
        if user is None:
            raise DomainError("user: no such member of this organization.", field="user")
        tool = tool_by_name(self.project, params["tool"])
        if tool is None:
            raise DomainError("tool: no such tool in the current spec.", field="tool")
        environment = environment_for(self.project, params["environment"])
        try:
            arguments = json.loads(params["arguments"] or "{}")
        except ValueError:
            raise DomainError("arguments must be a JSON object.", field="arguments") from None
        if not isinstance(arguments, dict):
            raise DomainError("arguments must be a JSON object.", field="arguments")
        simulation = selectors.simulate(user=user, tool=tool, environment=environment, arguments=arguments)
        return Response({"user": user.email, "tool": tool.name, "operation_key": tool.operation_key,
                         "environment": environment.slug, **decision_json(simulation)})



# --------------------------------------------------------------------------- definition reviews


def review_json(setting, *, detail: bool = False) -> dict:
    """A pending definition change: the pinned (served) and the new definition's hashes, what
    changed and the poisoning scan's findings; ``detail`` adds both definitions."""
    review = selectors.definition_review(setting)
    data = {
        "id": str(setting.public_id), "environment": setting.environment.slug,
        "operation_key": setting.operation_key,
        "tool": review.new["name"] if review.new else (review.old or {}).get("name", ""),
        "pinned_sha256": setting.pinned_hash, "pending_sha256": setting.pending_hash or None,
        "pending_since": setting.pending_since.isoformat() if setting.pending_since else None,
        "changed": review.changed, "poisoning": review.poisoning, "needs_override": review.needs_override,
    }
    if detail:
        data["pinned_definition"], data["new_definition"] = review.old, review.new
    return data


class ReviewSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    environment = serializers.CharField()
    operation_key = serializers.CharField()
    tool = serializers.CharField()
    pinned_sha256 = serializers.CharField()
    pending_sha256 = serializers.CharField(allow_null=True)
    pending_since = serializers.DateTimeField(allow_null=True)
    changed = serializers.ListField(child=serializers.CharField())
    poisoning = serializers.ListField(child=serializers.CharField())
    needs_override = serializers.BooleanField()


class ReviewDetailSerializer(ReviewSummarySerializer):
    pinned_definition = serializers.JSONField(allow_null=True)
    new_definition = serializers.JSONField(allow_null=True)


class ReviewListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = ReviewSummarySerializer(many=True)


class DefinitionAcceptInput(serializers.Serializer):
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="The pending_sha256 you reviewed")
    override_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000,
                                            help_text="Required when the poisoning scan flags the new definition")


class DefinitionReviews(TenantAPIView):
    """GET: enabled tools whose definition a re-import changed and that still serve the pinned
    definition (optionally ``?environment=<slug>``, or under ``environments/<env>/``)."""

    scope = "project"
    capabilities = {"GET": VIEW}

    @extend_schema(responses=ReviewListSerializer,
                   parameters=[OpenApiParameter("environment", str, required=False)])
    def get(self, request, id, env=None):
        query = QueryInput(request.query_params)
        slug = env or query.text("environment", max_length=60)
        query.raise_for_errors()
        environment = environment_for(self.project, slug) if env else _environment_or_none(self.project, slug)
        rows = [review_json(s) for s in selectors.pending_reviews(self.project, environment)]
        return Response({"count": len(rows), "results": rows})


class DefinitionReviewDetail(TenantAPIView):
    """GET: one pending change with both definitions."""

    scope = "project"
    capabilities = {"GET": VIEW}

    @extend_schema(responses=ReviewDetailSerializer, operation_id="projects_definition_review_detail")
    def get(self, request, id, review_id):
        return Response(review_json(selectors.pending_review(self.project, review_id), detail=True))


class DefinitionReviewAccept(TenantAPIView):
    """POST ``{"sha256": "<pending_sha256 you reviewed>", "override_reason": "..."}``: the
    environment serves the new definition from now on. 400 when nothing is pending, the hash
    is not the pending one, or a flagged definition comes without an override reason."""

    scope = "project"
    capabilities = {"POST": MANAGE}

    @extend_schema(request=DefinitionAcceptInput, responses=ReviewDetailSerializer)
    def post(self, request, id, review_id):
        setting = selectors.pending_review(self.project, review_id)
        data = DefinitionAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        accepted = services.definition_accept(setting=setting, actor=request.user,
                                              expected_sha256=data.validated_data["sha256"],
                                              override_reason=data.validated_data["override_reason"])
        return Response(review_json(selectors.pending_review(self.project, accepted.public_id), detail=True))
