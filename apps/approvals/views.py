"""Reviewer pages: the queue, one request (review and decide), the nav badge, and the
organization's approval notification settings."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from apps.accounts.access import org_access
from apps.core.errors import DomainError
from apps.core.query import QueryInput

from . import selectors, services, webhook_services
from .forms import DecisionForm, WebhookSettingsForm

PAGE_SIZE = 25


def _request_access(user, org_slug, request_id):
    """The request's organization must be the caller's (404); requesters see their own
    requests, everyone else needs approval.decide (403)."""
    access = org_access(user, org_slug, "org.view")
    approval = selectors.request_for(access, request_id)
    selectors.require_may_see(access, approval)
    return access, approval


@login_required
def queue(request, org_slug):
    access = org_access(request.user, org_slug, "approval.decide")
    # A read stays a read: an overdue pending request is shown expired (selectors.effective_status)
    # and never offered; the row is marked expired by the sweep task or the next decision on it.
    filters, errors = selectors.QueueFilters.from_query(request.GET)
    paging = QueryInput(request.GET)
    page_number = paging.page()
    errors += paging.errors
    # refused filters answer 400 with the form re-shown and no rows, never a guess
    queue_rows = selectors.queue_for(access, filters) if not errors else selectors.Queue(rows=[])
    page = Paginator(queue_rows.rows, PAGE_SIZE).get_page(page_number)
    return render(request, "approvals/queue.html", {
        "access": access, "org": access.organization, "page": page, "filters": filters, "errors": errors,
        "waiting_for_others": queue_rows.waiting_for_others,
        "options": selectors.filter_options(access.organization), "query": urlencode(filters.as_query()),
        "active_nav": "approvals",
    }, status=400 if errors else 200)


@login_required
def detail(request, org_slug, request_id):
    access, approval = _request_access(request.user, org_slug, request_id)
    context = selectors.request_detail(access, approval)
    template = "approvals/_status.html" if request.htmx and request.GET.get("part") == "status" else \
        "approvals/detail.html"
    return render(request, template, {
        "access": access, "org": access.organization, "approval": approval, "form": DecisionForm(),
        "active_nav": "approvals", **context,
    })


@login_required
@require_POST
def decide(request, org_slug, request_id):
    access = org_access(request.user, org_slug, "approval.decide")
    approval = selectors.request_for(access, request_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect("approvals:detail", org_slug, approval.public_id)
    try:
        decided = services.approval_decide(request=approval, reviewer=request.user,
                                           decision=form.cleaned_data["decision"],
                                           comment=form.cleaned_data["comment"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if decided.status == decided.Status.APPROVED:
            messages.success(request, f"Approved. {decided.tool_name} is queued to run with the stored arguments.")
        elif decided.status == decided.Status.REJECTED:
            messages.success(request, "Rejected. The requester and the agent see your comment.")
        else:
            messages.success(request, "Your approval is recorded; the next step's reviewers have been notified.")
    return redirect("approvals:detail", org_slug, approval.public_id)


@login_required
def badge(request, org_slug):
    """The navigation badge, polled by htmx every 15 s. Rendered without context processors
    so a poll costs two queries (membership, count)."""
    access = org_access(request.user, org_slug, "approval.decide")
    count = selectors.nav_pending_count(request.user, access.organization.pk)
    return HttpResponse(render_to_string("approvals/_badge.html", {"nav_pending_approvals": count}))


NEW_SECRET_SESSION_KEY = "mcpforge_new_webhook_secret"  # noqa: S105 - a session key name, not a secret


@login_required
def settings_page(request, org_slug):
    access = org_access(request.user, org_slug, "approval.configure")
    hook = selectors.webhook_settings_for(access.organization)
    initial = {"url": hook.url if hook else "", "enabled": hook.enabled if hook else True,
               "email_reviewers": hook.email_reviewers if hook else True}
    form = WebhookSettingsForm(request.POST or None, initial=initial)
    # POST/redirect/GET: a new secret waits in the session for the one GET that shows it, so a
    # reload never rotates it again.
    new_secret = request.session.pop(NEW_SECRET_SESSION_KEY, None) if request.method == "GET" else None
    if request.method == "POST" and request.POST.get("action") == "test":
        try:
            webhook_services.webhook_send_test(organization=access.organization, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Test message queued; its delivery appears below.")
        return redirect("approvals:settings", org_slug)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        secret = None
        if data["generate_secret"]:
            secret = new_secret = webhook_services.webhook_generate_secret()
        elif data["secret"]:
            secret = data["secret"]
        try:
            hook = webhook_services.webhook_settings_update(
                organization=access.organization, url=data["url"], enabled=data["enabled"],
                email_reviewers=data["email_reviewers"], new_secret=secret, actor=request.user)
        except DomainError as exc:
            new_secret = None
            if exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                messages.error(request, exc.message)
        else:
            if new_secret is None:
                messages.success(request, "Approval notification settings saved.")
                return redirect("approvals:settings", org_slug)
            messages.success(request, "Settings saved with a new signing secret. Copy it now: it is shown once.")
            request.session[NEW_SECRET_SESSION_KEY] = new_secret
            return redirect("approvals:settings", org_slug)
    return render(request, "approvals/settings.html", {
        "access": access, "org": access.organization, "form": form, "hook": hook, "new_secret": new_secret,
        "deliveries": selectors.recent_deliveries(access.organization), "active_nav": "approvals",
        "allow_private": webhook_services.webhook_allows_private(),
    })


def project_panel(request, access, project) -> dict:
    """The approvals panel on the project page (reviewers and above)."""
    if not access.can("approval.decide"):
        return {}
    return {"panels": ["approvals/_panel.html"], "approvals_summary": selectors.project_summary(project)}
