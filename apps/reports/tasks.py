"""Background generation of security reports."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from . import services

SOFT_LIMIT_S = 300


@shared_task(acks_late=True, soft_time_limit=SOFT_LIMIT_S, time_limit=SOFT_LIMIT_S + 30)
def build_report(report_id: int) -> None:
    """Snapshot, render and store one report (see services.report_build)."""
    try:
        services.report_build(report_id=report_id)
    except SoftTimeLimitExceeded:
        services.report_mark_failed(report_id=report_id,
                                    message=f"Building the report took longer than {SOFT_LIMIT_S} s and was stopped.")
