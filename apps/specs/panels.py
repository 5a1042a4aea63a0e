"""The project page's "API specification" panel: current version, analysis in flight, token cost."""

from apps.inventory.selectors import current_version, token_cost_by_environment

from .models import SpecVersion


def spec_panel(request, access, project) -> dict:
    current = current_version(project)
    latest = SpecVersion.objects.filter(project=project).defer("raw").order_by("-number").first()
    in_flight = latest if latest and latest.pk != getattr(current, "pk", None) else None
    return {
        "panels": ["specs/_panel.html"],
        "spec_current": current,
        "spec_in_flight": in_flight,
        "token_costs": token_cost_by_environment(project, current) if current else [],
    }
