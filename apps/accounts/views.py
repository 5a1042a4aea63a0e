"""Organization, member, team and token pages. Thin: access helper, form, service, redirect."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError, PermissionDeniedError
from apps.core.views import form_error

from . import roles, selectors, services
from .access import Access, org_access, user_organizations
from .forms import InviteForm, OrganizationForm, SignInDomainsForm, TeamForm, TokenForm
from .models import ApiToken, Invitation, Membership, Team


@login_required
def home(request):
    orgs = list(user_organizations(request.user))
    if len(orgs) == 1:
        return redirect("accounts:org_home", orgs[0].slug)
    return render(request, "accounts/home.html", {"orgs": orgs})


@login_required
def org_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(name=form.cleaned_data["name"], actor=request.user)
        except DomainError as exc:
            form_error(request, form, exc)
        else:
            messages.success(request, f"Organization {org.name} created. Add a project to govern its API.")
            return redirect("accounts:org_home", org.slug)
    return render(request, "accounts/org_create.html", {"form": form})


# The dashboard's project cards come from apps.reports (dashboard.project_cards, registered in its
# AppConfig.ready): accounts does not import the apps above it (README "Architecture").
ORG_HOME_CARDS: list[Callable[[Access], list[dict]]] = []


def _project_cards(access: Access) -> list[dict]:
    if not ORG_HOME_CARDS:
        raise RuntimeError("No organization dashboard provider: apps.reports is not installed or not ready.")
    return ORG_HOME_CARDS[0](access)


@login_required
def org_home(request, org_slug):
    access = org_access(request.user, org_slug)
    return render(
        request,
        "accounts/org_home.html",
        {"access": access, "org": access.organization, "cards": _project_cards(access), "active_nav": "projects",
         "can_decide": access.can("approval.decide"), "can_import": access.can("spec.import")},
    )


INVITE_URL_SESSION_KEY = "mcpforge_new_invite_url"


@login_required
def members(request, org_slug):
    access = org_access(request.user, org_slug)
    org = access.organization
    form = InviteForm(request.POST or None)
    # POST/redirect/GET: the link waits in the session for the one GET that shows it, so a reload
    # never sends a second invitation.
    invite_url = request.session.pop(INVITE_URL_SESSION_KEY, None) if request.method == "GET" else None
    if request.method == "POST":
        access.require("member.manage")
        if form.is_valid():
            try:
                invite_url = services.invitation_create(
                    organization=org,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    actor_role=access.role,
                )
            except DomainError as exc:
                if isinstance(exc, PermissionDeniedError):
                    raise PermissionDenied(exc.message) from exc
                form_error(request, form, exc)
            else:
                messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
                request.session[INVITE_URL_SESSION_KEY] = invite_url
                return redirect("accounts:members", org_slug)
    memberships = (
        Membership.objects.filter(organization=org)
        .select_related("user")
        .prefetch_related(Prefetch("user__teams", queryset=Team.objects.filter(organization=org)))
        .order_by("user__email")
    )
    invitations = [
        i for i in Invitation.objects.filter(organization=org, accepted_at=None, revoked_at=None) if i.is_pending
    ]
    return render(
        request,
        "accounts/members.html",
        {
            "access": access,
            "org": org,
            "memberships": memberships,
            "invitations": invitations,
            "form": form,
            "invite_url": invite_url,
            "assignable": roles.assignable_roles(access.role),
            "active_nav": "members",
        },
    )


def _membership(access, public_id) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"), organization=access.organization, public_id=public_id
    )


@login_required
@require_POST
def member_role(request, org_slug, member_id):
    access = org_access(request.user, org_slug, "member.manage")
    membership = _membership(access, member_id)
    try:
        services.membership_change_role(
            membership=membership, role=request.POST.get("role", ""), actor=request.user, actor_role=access.role
        )
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.email} is now {membership.role}.")
    return redirect("accounts:members", org_slug)


@login_required
@require_POST
def member_remove(request, org_slug, member_id):
    access = org_access(request.user, org_slug, "member.manage")
    membership = _membership(access, member_id)
    try:
        services.membership_remove(membership=membership, actor=request.user, actor_role=access.role)
    except PermissionDeniedError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.email} was removed and their tokens revoked.")
    return redirect("accounts:members", org_slug)


@login_required
@require_POST
def invitation_revoke(request, org_slug, invitation_id):
    access = org_access(request.user, org_slug, "member.manage")
    invitation = get_object_or_404(Invitation, organization=access.organization, public_id=invitation_id)
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("accounts:members", org_slug)


def invitation_accept(request, token):
    invitation = services.invitation_for_token(token)
    if invitation is None:
        raise Http404("This invitation link is not valid.")
    if not request.user.is_authenticated:
        return render(request, "accounts/invitation.html", {"invitation": invitation, "needs_login": True})
    if request.method == "POST":
        try:
            membership = services.invitation_accept(raw_token=token, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Welcome to {membership.organization.name}.")
            return redirect("accounts:org_home", membership.organization.slug)
    return render(request, "accounts/invitation.html", {"invitation": invitation})


@login_required
def teams(request, org_slug):
    access = org_access(request.user, org_slug)
    form = TeamForm(request.POST or None)
    if request.method == "POST":
        access.require("team.manage")
        if form.is_valid():
            try:
                team = services.team_create(
                    organization=access.organization,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    actor=request.user,
                )
            except DomainError as exc:
                form_error(request, form, exc)
            else:
                messages.success(request, f"Team {team.name} created.")
                return redirect("accounts:team_detail", org_slug, team.slug)
    team_list = Team.objects.filter(organization=access.organization).annotate(n=Count("members"))
    return render(
        request,
        "accounts/teams.html",
        {"access": access, "org": access.organization, "teams": team_list, "form": form, "active_nav": "teams"},
    )


@login_required
def team_detail(request, org_slug, team_slug):
    access = org_access(request.user, org_slug)
    team = get_object_or_404(Team, organization=access.organization, slug=team_slug)
    if request.method == "POST":
        access.require("team.manage")
        action = request.POST.get("action")
        member = (
            Membership.objects.filter(organization=access.organization, public_id=request.POST.get("member") or None)
            .select_related("user")
            .first()
        )
        try:
            if action == "delete":
                services.team_delete(team=team, actor=request.user)
                messages.success(request, f"Team {team.name} deleted.")
                return redirect("accounts:teams", org_slug)
            if member is None:
                raise DomainError("Choose a member of the organization.")
            if action == "add":
                services.team_add_member(team=team, user=member.user, actor=request.user)
            elif action == "remove":
                services.team_remove_member(team=team, user=member.user, actor=request.user)
            else:
                raise DomainError("Unknown action.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("accounts:team_detail", org_slug, team.slug)
    member_ids = set(team.members.values_list("pk", flat=True))
    all_members = (
        Membership.objects.filter(organization=access.organization).select_related("user").order_by("user__email")
    )
    return render(
        request,
        "accounts/team_detail.html",
        {
            "access": access,
            "org": access.organization,
            "team": team,
            "active_nav": "teams",
            "in_team": [m for m in all_members if m.user_id in member_ids],
            "not_in_team": [m for m in all_members if m.user_id not in member_ids],
        },
    )


NEW_TOKEN_SESSION_KEY = "mcpforge_new_token"  # noqa: S105 - a session key name, not a secret


@login_required
def tokens(request, org_slug):
    access = org_access(request.user, org_slug, "token.manage_own")
    form = TokenForm(request.POST or None)
    # POST/redirect/GET: the raw token waits in the session for the one GET that shows it, so a
    # reload never creates a second token (and never shows this one again).
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None) if request.method == "GET" else None
    if request.method == "POST" and form.is_valid():
        try:
            token, new_token = services.token_create(
                organization=access.organization,
                user=request.user,
                name=form.cleaned_data["name"],
                expires_days=form.cleaned_data["expires_days"],
                actor=request.user,
            )
        except DomainError as exc:
            form_error(request, form, exc)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = new_token
            return redirect("accounts:tokens", org_slug)
    token_list = ApiToken.objects.filter(organization=access.organization, user=request.user).order_by("-created_at")
    return render(
        request,
        "accounts/tokens.html",
        {
            "access": access,
            "org": access.organization,
            "form": form,
            "tokens": token_list,
            "new_token": new_token,
            "active_nav": "tokens",
        },
    )


@login_required
@require_POST
def token_revoke(request, org_slug, token_id):
    access = org_access(request.user, org_slug, "token.manage_own")
    token = get_object_or_404(ApiToken, organization=access.organization, user=request.user, public_id=token_id)
    try:
        services.token_revoke(token=token, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Token {token.name} revoked.")
    return redirect("accounts:tokens", org_slug)


@login_required
def signin_settings(request, org_slug):
    """Enterprise sign-in: which email domains join this organization on first sign-in (admins)."""
    access = org_access(request.user, org_slug, "member.manage")
    org = access.organization
    current = selectors.signin_domains(org)
    form = SignInDomainsForm(request.POST or None, initial={
        "domains": "\n".join(d.domain for d in current),
        "role": current[0].role if current else "member"})
    if request.method == "POST" and form.is_valid():
        try:
            domains = services.signin_domains_set(organization=org, domains=form.cleaned_data["domains"],
                                                  role=form.cleaned_data["role"], actor=request.user)
        except DomainError as exc:
            form_error(request, form, exc)
        else:
            messages.success(request, f"Sign-in domains saved: {', '.join(domains)}." if domains
                             else "Joining by email domain is off.")
            return redirect("accounts:signin_settings", org.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signin_settings.html", {
        "access": access, "org": org, "form": form, "domains": current,
        "provider": selectors.oidc_provider(), "active_nav": "signin"}, status=status)
