"""REST API of the approval queue: list an organization's requests, read one, decide one."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView
from apps.core.query import QueryError

from . import selectors, services, webhook_services
from .models import ApprovalRequest


class ApprovalRequestSerializer(serializers.Serializer):
    """One queued call as a reviewer sees it (arguments with secrets masked)."""

    id = serializers.UUIDField(source="request.public_id")
    status = serializers.CharField()
    tool = serializers.CharField(source="request.tool_name")
    operation = serializers.CharField(source="request.operation_key")
    risk_level = serializers.CharField(source="request.tool_risk_level")
    project = serializers.CharField(source="request.project.slug")
    environment = serializers.CharField(source="request.environment.slug")
    requester = serializers.CharField(source="request.requester_label")
    justification = serializers.CharField(source="request.justification")
    policy = serializers.CharField(source="request.policy_label")
    arguments = serializers.SerializerMethodField()
    arguments_sha256 = serializers.CharField(source="request.arguments_sha256")
    approvals_required = serializers.IntegerField(source="request.approvals_required")
    approvals = serializers.SerializerMethodField()
    waiting_for = serializers.SerializerMethodField()
    can_approve = serializers.BooleanField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField(source="request.created_at")
    expires_at = serializers.DateTimeField(source="request.expires_at")

    def get_arguments(self, row) -> dict:
        return services.redacted_arguments(row.request)

    def get_approvals(self, row) -> list[dict]:
        return [{"by": d.reviewer_label, "at": d.created_at.isoformat(), "comment": d.comment} for d in row.approvals]

    def get_waiting_for(self, row) -> str:
        return row.plan.waiting_for() if row.status == ApprovalRequest.Status.PENDING else ""


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


@extend_schema(parameters=[OpenApiParameter(n, str) for n in ("scope", "status", "project", "environment",
                                                               "tool", "risk")],
               responses=ApprovalRequestSerializer(many=True))
class ApprovalRequestList(TenantAPIView):
    """An organization's approval requests (reviewer and above). Default: pending ones the
    caller can approve now (``scope=mine``); ``scope=all`` lists everything matching."""

    scope = "organization"
    capabilities = {"GET": "approval.decide"}

    def get(self, request, org_slug):
        filters, errors = selectors.QueueFilters.from_query(request.query_params)
        if errors:
            raise QueryError(" ".join(errors))
        rows = selectors.queue_for(self.access, filters).rows[:200]
        return Response({"count": len(rows), "results": ApprovalRequestSerializer(rows, many=True).data})


class ApprovalRequestScope(TenantAPIView):
    """Scoped by the approval request named in the URL: 404 unless the caller is a member of
    its organization (the base resolves that); the handler then applies the one visibility
    rule, ``selectors.require_may_see`` (the requester, or a role that may decide: else 403)."""

    scope = "object"

    def get_scope_object(self) -> ApprovalRequest:
        try:
            approval = ApprovalRequest.objects.filter(public_id=self.kwargs["request_id"]).first()
        except (ValueError, TypeError):
            approval = None
        if approval is None:
            raise Http404(selectors.NOT_FOUND)
        return approval

    def visible_request(self) -> ApprovalRequest:
        selectors.require_may_see(self.access, self.scope_object)
        return self.scope_object


class ApprovalRequestDetail(ApprovalRequestScope):
    """The status of one request, exactly as the MCP tool mcpforge_approval_status reports it."""

    capabilities = {"GET": "org.view"}

    def get(self, request, request_id):
        approval = self.visible_request()
        return Response(selectors.request_status_for(request.user, str(approval.public_id)))


class ApprovalDecisionCreate(ApprovalRequestScope):
    """Approve or reject (reviewer and above; not your own request; once per reviewer)."""

    capabilities = {"POST": "org.view"}  # the role to decide is checked below, after visibility

    @extend_schema(request=DecisionSerializer)
    def post(self, request, request_id):
        approval = self.visible_request()
        if not self.access.can("approval.decide"):
            raise PermissionDenied(f"Your role ({self.role}) does not allow this.")
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.approval_decide(request=approval, reviewer=request.user, decision=data.validated_data["decision"],
                                 comment=data.validated_data["comment"])
        return Response(selectors.request_status_for(request.user, str(approval.public_id)))


# --------------------------------------------------------------------------- approval notifications


class WebhookInput(serializers.Serializer):
    url = serializers.CharField(allow_blank=True, max_length=500, help_text='the receiver; "" turns webhooks off')
    enabled = serializers.BooleanField(default=True)
    email_reviewers = serializers.BooleanField(default=True)
    secret = serializers.CharField(required=False, allow_blank=True, max_length=200, write_only=True,
                                   help_text="a new signing secret (16+ characters); omit to keep the current one")
    generate_secret = serializers.BooleanField(default=False, help_text="generate a random signing secret; the "
                                                                        "response shows it once")


class WebhookOutput(serializers.Serializer):
    url = serializers.CharField()
    enabled = serializers.BooleanField()
    email_reviewers = serializers.BooleanField()
    secret_masked = serializers.CharField(allow_null=True)
    active = serializers.BooleanField()
    secret = serializers.CharField(required=False, help_text="only in the PUT response that generated it")


class WebhookTestOutput(serializers.Serializer):
    delivery = serializers.UUIDField()
    event = serializers.CharField()
    status = serializers.CharField()


def webhook_json(hook) -> dict:
    return {"url": hook.url if hook else "", "enabled": hook.enabled if hook else True,
            "email_reviewers": hook.email_reviewers if hook else True,
            "secret_masked": (hook.secret_masked or None) if hook else None,
            "active": bool(hook and hook.active)}


class WebhookSettingsDetail(TenantAPIView):
    """The organization's approval notifications (the Approvals → Settings page): GET and PUT need
    ``approval.configure`` (admins and owners); changes are audited as ``approval.webhook_updated``.
    A secret is never returned, except a generated one, once, in the PUT response."""

    scope = "organization"
    capabilities = {"GET": "approval.configure", "PUT": "approval.configure"}

    serializer_class = WebhookOutput

    @extend_schema(responses={200: WebhookOutput})
    def get(self, request, org_slug):
        return Response(webhook_json(selectors.webhook_settings_for(self.organization)))

    @extend_schema(request=WebhookInput, responses={200: WebhookOutput})
    def put(self, request, org_slug):
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        generate = values["generate_secret"]
        secret = webhook_services.webhook_generate_secret() if generate else (values.get("secret") or None)
        hook = webhook_services.webhook_settings_update(
            organization=self.organization, url=values["url"], enabled=values["enabled"],
            email_reviewers=values["email_reviewers"], new_secret=secret, actor=request.user)
        body = webhook_json(hook)
        if values["generate_secret"]:
            body["secret"] = secret  # shown once, like the page
        return Response(body)


class WebhookTest(TenantAPIView):
    """POST queues a signed test message to the configured URL (``approval.configure``)."""

    scope = "organization"
    capabilities = {"POST": "approval.configure"}

    serializer_class = WebhookTestOutput

    @extend_schema(request=None, responses={202: WebhookTestOutput})
    def post(self, request, org_slug):
        delivery = webhook_services.webhook_send_test(organization=self.organization, actor=request.user)
        return Response({"delivery": str(delivery.public_id), "event": delivery.event, "status": delivery.status},
                        status=202)
