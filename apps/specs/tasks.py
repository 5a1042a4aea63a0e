"""Background analysis of imported documents."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from . import services
from .models import SpecVersion

SOFT_LIMIT_S = 120


@shared_task(acks_late=True, soft_time_limit=SOFT_LIMIT_S, time_limit=SOFT_LIMIT_S + 30)
def analyse_spec_version(version_id: int) -> None:
    """Parse, build, classify and persist one spec version (see services.spec_analyse)."""
    try:
        services.spec_analyse(version_id=version_id)
    except SoftTimeLimitExceeded:
        version = SpecVersion.objects.select_related("project__organization").get(pk=version_id)
        services.spec_mark_failed(version, f"The analysis took longer than {SOFT_LIMIT_S} s and was stopped.",
                                  retryable=True)
