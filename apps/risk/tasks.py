"""Background analysis of imported documents (queued by apps.specs through
``apps.specs.hooks.analysis_queue``)."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from apps.specs.models import SpecVersion
from apps.specs.services import spec_mark_failed

from . import analysis

SOFT_LIMIT_S = 120


# The task's name is the one it had in apps.specs: messages queued before a deploy still run.
@shared_task(name="apps.specs.tasks.analyse_spec_version", acks_late=True, soft_time_limit=SOFT_LIMIT_S,
             time_limit=SOFT_LIMIT_S + 30)
def analyse_spec_version(version_id: int) -> None:
    """Parse, build, classify and persist one spec version (see analysis.spec_analyse)."""
    try:
        analysis.spec_analyse(version_id=version_id)
    except SoftTimeLimitExceeded:
        version = SpecVersion.objects.select_related("project__organization").get(pk=version_id)
        spec_mark_failed(version, f"The analysis took longer than {SOFT_LIMIT_S} s and was stopped.",
                         retryable=True)
