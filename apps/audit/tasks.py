"""Audit background work: the periodic signed checkpoints of every organization's chain."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def checkpoint_audit_chains() -> dict:
    """Periodic (``AUDIT_CHECKPOINT_SECONDS``, see AppConfig.ready): sign each moved chain head."""
    return services.audit_checkpoint_all()
