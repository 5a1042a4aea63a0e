"""OAuth endpoints of MCPForge (django-oauth-toolkit views, narrowed): the consent page,
RFC 9728 protected-resource metadata per MCP endpoint, and the authorised-clients page."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.http import require_POST
from django.views.generic import View
from oauth2_provider import views as dot
from oauth2_provider.views import AuthorizationView

from apps.accounts.access import org_access
from apps.accounts.roles import has_capability
from apps.audit.services import audit_record
from apps.governance.selectors import callable_tools

from . import cimd, resources, selectors, services

# How long a consent page stays answerable, and how long a used state is remembered.
CONSENT_SECONDS = 600
_SESSION_KEY = "mcpforge.oauth.consent"


def _state_key(client_id: str, state: str) -> str:
    return "oauth:state:" + hashlib.sha256(f"{client_id}\x00{state}".encode()).hexdigest()


def _framing_protected(response):
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


@method_decorator([xframe_options_deny, never_cache], name="dispatch")
class ConsentView(AuthorizationView):
    """DOT's authorization endpoint with MCPForge's rules on top: exactly one ``resource``
    naming an MCP endpoint of an organization the signed-in user belongs to, a ``state``,
    and a consent form that is answerable once, within ``CONSENT_SECONDS``, by the session
    it was shown to. Login (allauth, with MFA when enrolled) comes first (LoginRequiredMixin)."""

    template_name = "oauth/consent.html"
    mcp_environment = None
    mcp_toolset = ""  # the resource is a toolset endpoint of mcp_environment

    def _refuse(self, request, message: str, reason: str):
        environment = self.mcp_environment
        if environment is not None:
            audit_record(organization=environment.organization, event_type="oauth.consent_refused",
                         actor=request.user, target=environment,
                         payload={"reason": reason, "client_id": request.POST.get("client_id", "")[:200]})
        response = render(request, "oauth/refused.html", {"message": message}, status=400)
        return _framing_protected(response)

    def error_response(self, error, application, **kwargs):
        """DOT's error page, plus why a metadata-document client could not be identified (DOT
        itself says only "Invalid client_id")."""
        client_id = self.request.GET.get("client_id") or self.request.POST.get("client_id") or ""
        if application is None and client_id.startswith("https://"):
            kwargs.setdefault("cimd_client_id", client_id[:500])
            kwargs.setdefault("cimd_failure", cimd.last_failure(client_id))
        return super().error_response(error, application, **kwargs)

    def get(self, request, *args, **kwargs):
        resource = selectors.single_resource(request.GET.getlist("resource"))
        self.mcp_environment = selectors.environment_for_resource(request.user, resource) if resource else None
        self.mcp_toolset = selectors.toolset_of_resource(resource) if resource else ""
        if self.mcp_environment is None:
            return self._refuse(request, "This request must name exactly one MCP endpoint of an organization you "
                                         "belong to (the resource parameter).", "resource")
        if request.GET.get("code_challenge_method") != "S256" or not request.GET.get("code_challenge"):
            return self._refuse(request, "This authorization request must use PKCE with S256.", "pkce")
        state = request.GET.get("state", "")
        if not state:
            return self._refuse(request, "This authorization request has no state parameter.", "state_missing")
        pending = request.session.get(_SESSION_KEY, {})
        now = time.time()
        pending = {k: v for k, v in pending.items() if now - v < CONSENT_SECONDS}
        pending[_state_key(request.GET.get("client_id", ""), state)] = now
        request.session[_SESSION_KEY] = pending
        return _framing_protected(super().get(request, *args, **kwargs))

    def post(self, request, *args, **kwargs):
        resource = selectors.single_resource(request.POST.get("resource", ""))
        self.mcp_environment = selectors.environment_for_resource(request.user, resource) if resource else None
        self.mcp_toolset = selectors.toolset_of_resource(resource) if resource else ""
        if self.mcp_environment is None:
            return self._refuse(request, "This request must name exactly one MCP endpoint of an organization you "
                                         "belong to (the resource parameter).", "resource")
        if request.POST.get("code_challenge_method") != "S256" or not request.POST.get("code_challenge"):
            return self._refuse(request, "This authorization request must use PKCE with S256.", "pkce")
        key = _state_key(request.POST.get("client_id", ""), request.POST.get("state", ""))
        pending = request.session.get(_SESSION_KEY, {})
        shown_at = pending.pop(key, None)
        request.session[_SESSION_KEY] = pending
        if not request.POST.get("state") or shown_at is None or time.time() - shown_at > CONSENT_SECONDS:
            return self._refuse(request, "This authorization request has expired or was already answered. "
                                         "Start again from your agent.", "state_unknown")
        if not cache.add(key, 1, timeout=CONSENT_SECONDS):
            return self._refuse(request, "This authorization request was already answered (state reused). "
                                         "Start again from your agent.", "state_reused")
        with transaction.atomic():
            return _framing_protected(super().post(request, *args, **kwargs))

    def form_valid(self, form):
        response = super().form_valid(form)
        environment = self.mcp_environment
        from oauth2_provider.models import get_application_model

        application = get_application_model().objects.filter(client_id=form.cleaned_data.get("client_id")).first()
        if application is not None:
            services.client_announce(organization=environment.organization, application=application)
        allowed = bool(form.cleaned_data.get("allow")) and "code=" in response.get("Location", "")
        audit_record(
            organization=environment.organization,
            event_type="oauth.client_authorized" if allowed else "oauth.client_denied",
            actor=self.request.user,
            target=environment,
            payload={"client_id": form.cleaned_data.get("client_id", "")[:200],
                     "redirect_uri": (form.cleaned_data.get("redirect_uri") or "")[:500],
                     "resource": form.cleaned_data.get("resource", "")[:400]},
        )
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        environment = self.mcp_environment
        if environment is not None:
            context["environment"] = environment
            context["tools"] = callable_tools(self.request.user, environment)
            if self.mcp_toolset:  # only the toolset's tools are reachable with this grant
                from apps.toolsets.models import Toolset

                members = set(Toolset.objects.filter(project_id=environment.project_id, slug=self.mcp_toolset)
                              .values_list("tool_names", flat=True).first() or ())
                context["tools"] = [t for t in context["tools"] if t.name in members]
                context["toolset"] = self.mcp_toolset
            context["endpoint_url"] = resources.endpoint_url(
                settings.SITE_URL, resources.EndpointRef(environment.organization.slug, environment.project.slug,
                                                          environment.slug, self.mcp_toolset))
        return context


class ProtectedResourceMetadataView(View):
    """RFC 9728 metadata of one MCP endpoint, at
    ``/.well-known/oauth-protected-resource/mcp/<org>/<project>/<environment>/``. Public (it
    says nothing about whether the endpoint exists: the endpoint itself answers 401 first)."""

    def get(self, request, resource_path: str):
        resource = f"{settings.SITE_URL}/{resource_path}"
        if resources.parse(resource, settings.SITE_URL) is None:
            raise Http404("No MCP endpoint at this address.")
        response = JsonResponse({
            "resource": resource,
            "authorization_servers": [settings.SITE_URL],
            "scopes_supported": ["mcp"],
            "bearer_methods_supported": ["header"],
            "resource_name": "MCPForge MCP endpoint",
        })
        response["Access-Control-Allow-Origin"] = "*"
        return response


ADMIN_CAPABILITY = "member.manage"  # admins see and revoke every client of the organization


@login_required
def clients(request, org_slug):
    """The OAuth clients you authorised in this organization (admins: everyone's), with revoke."""
    access = org_access(request.user, org_slug)
    everyone = access.can(ADMIN_CAPABILITY)
    return render(request, "oauth/clients.html", {
        "organization": access.organization, "everyone": everyone,
        "rows": selectors.authorised_clients(access, everyone=everyone),
    })


@login_required
@require_POST
def client_revoke(request, org_slug, application_id: int, user_id: int):
    access = org_access(request.user, org_slug)
    if user_id != request.user.pk and not has_capability(access.role, ADMIN_CAPABILITY):
        raise PermissionDenied("Only an admin can revoke another person's OAuth clients.")
    from oauth2_provider.models import get_application_model

    application = get_object_or_404(get_application_model(), pk=application_id)
    user = get_object_or_404(get_user_model(), pk=user_id, memberships__organization=access.organization)
    ended = services.client_revoke(organization=access.organization, application=application, user=user,
                                   actor=request.user)
    messages.success(request, f"{application.name or application.client_id}: access revoked ({ended} tokens ended).")
    return redirect("oauth_clients", org_slug)


class RegistrationView(dot.DynamicClientRegistrationView):
    """DOT's open dynamic client registration (RFC 7591); each registration is kept with the
    address it came from (``services.dcr_registration_record``) in the same transaction."""

    def post(self, request, *args, **kwargs):
        with transaction.atomic():
            response = super().post(request, *args, **kwargs)
            if response.status_code == 201:
                import json

                services.dcr_registration_record(client_id=json.loads(response.content)["client_id"])
        return response
