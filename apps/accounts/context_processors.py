"""Navigation context: the user's organizations and the one in the URL.

Apps above accounts add to it through ``NAV_EXTENSIONS`` (filled in their AppConfig.ready,
like ``apps.projects.views.PROJECT_PAGE_EXTENSIONS``): each is called with the user and the
current membership and returns extra context (approvals adds its pending-count badge)."""

from collections.abc import Callable

from . import roles
from .models import Membership

NAV_EXTENSIONS: list[Callable[[object, Membership], dict]] = []


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = list(
        Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")
    )
    org_slug = getattr(getattr(request, "resolver_match", None), "kwargs", {}).get("org_slug")
    current = next((m for m in memberships if m.organization.slug == org_slug), None)
    if current is None and memberships:
        current = memberships[0]
    context = {
        "nav_memberships": memberships,
        "nav_org": current.organization if current else None,
        "nav_role": current.role if current else None,
        "nav_can": {cap: roles.has_capability(current.role, cap) for cap in roles.CAPABILITIES} if current else {},
    }
    if current is not None:
        for extension in NAV_EXTENSIONS:
            context.update(extension(user, current))
    return context
