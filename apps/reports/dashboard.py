"""The organization dashboard (apps/accounts' org home): one card per project with what the
apps above projects know about it. It lives here, at the top of the dependency order (README
"Architecture"), and is handed to accounts in ReportsConfig.ready."""

from __future__ import annotations

from apps.accounts.access import Access
from apps.projects.selectors import projects_of


def project_cards(access: Access) -> list[dict]:
    """The organization dashboard: per project its Security Score, pending approvals (for those
    who decide them) and the imports that failed since the last successful one.

    Three queries plus one cached score per project (risk.selectors.project_score)."""
    from django.db.models import Count, Max
    from django.utils import timezone

    from apps.approvals.models import ApprovalRequest
    from apps.risk.selectors import project_score
    from apps.specs.models import SpecVersion

    projects = list(projects_of(access).order_by("name"))
    ids = [p.pk for p in projects]
    pending: dict[int, int] = {}
    if access.can("approval.decide"):
        pending = dict(
            ApprovalRequest.objects.filter(project_id__in=ids, status=ApprovalRequest.Status.PENDING,
                                           expires_at__gt=timezone.now())
            .values("project_id").annotate(n=Count("id")).values_list("project_id", "n")
        )
    last_ready = dict(
        SpecVersion.objects.filter(project_id__in=ids, status=SpecVersion.Status.READY)
        .values("project_id").annotate(n=Max("number")).values_list("project_id", "n")
    )
    failed: dict[int, list[SpecVersion]] = {}
    for version in (SpecVersion.objects.filter(project_id__in=ids, status=SpecVersion.Status.FAILED)
                    .defer("raw").order_by("-number")):
        if version.number > last_ready.get(version.project_id, 0):
            failed.setdefault(version.project_id, []).append(version)
    cards = []
    for project in projects:
        score, _ = project_score(project)
        cards.append({
            "project": project,
            "score": score["score"] if score else None,
            "pending": pending.get(project.pk, 0),
            "failed_imports": failed.get(project.pk, []),
        })
    return cards
