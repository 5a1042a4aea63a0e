"""The project page's "API specification" panel: current version, analysis in flight. Its token
cost per environment (``token_costs``) comes from apps.inventory (``inventory.views.token_cost_panel``,
registered on the project page by the inventory)."""

from .models import SpecVersion
from .selectors import current_version


def spec_panel(request, access, project) -> dict:
    current = current_version(project)
    latest = SpecVersion.objects.filter(project=project).defer("raw").order_by("-number").first()
    in_flight = latest if latest and latest.pk != getattr(current, "pk", None) else None
    return {
        "panels": ["specs/_panel.html"],
        "spec_current": current,
        "spec_in_flight": in_flight,
    }
