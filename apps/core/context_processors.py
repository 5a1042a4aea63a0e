"""Navigation context: the user's organizations and the one in the URL."""

from apps.accounts import roles
from apps.accounts.models import Membership


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
    if current is not None and roles.has_capability(current.role, "approval.decide"):
        from apps.approvals.selectors import nav_pending_count  # one COUNT query

        context["nav_pending_approvals"] = nav_pending_count(user, current.organization_id)
    return context
