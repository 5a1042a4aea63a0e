"""Approval background work: execute an approved call, send emails, deliver webhooks,
expire overdue requests. Thin: each task takes ids and calls one service."""

from __future__ import annotations

import logging

from celery import shared_task

from . import notifications, services, webhook_services

logger = logging.getLogger(__name__)

WEBHOOK_MAX_RETRIES = 5


@shared_task(acks_late=True)
def execute_approved_request(request_id: int) -> str:
    """Run an approved call. Safe to deliver twice: the service's conditional UPDATE lets
    exactly one execution through."""
    request = services.approval_execute(request_id=request_id)
    return request.status if request is not None else "skipped"


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=3)  # SMTP errors are OSErrors
def send_approval_emails(request_id: int, event: str) -> int:
    """Email the reviewers who can act (queued, partly approved) or the requester (decided, ran, expired)."""
    return notifications.send_emails(request_id, event)


@shared_task(bind=True, max_retries=WEBHOOK_MAX_RETRIES)
def deliver_webhook(self, delivery_id: int) -> str:
    """POST one signed webhook; transient failures retry with exponential backoff (10 s, 20 s, …)."""
    final = self.request.retries >= WEBHOOK_MAX_RETRIES
    try:
        delivery = webhook_services.webhook_deliver(delivery_id=delivery_id, final_attempt=final)
    except webhook_services.RetryableDeliveryError as exc:
        raise self.retry(exc=exc, countdown=10 * 2 ** self.request.retries) from exc
    return delivery.status


@shared_task
def sweep_approvals() -> dict:
    """Periodic (every minute, see AppConfig.ready): expire overdue requests, re-queue lost
    executions and webhooks, fail executions whose worker vanished."""
    return {"expired": services.approval_expire_due(), **services.approval_recover_stalled()}
