"""The approval webhook's writes: its settings (URL, switches, the sealed signing secret),
a test message, and the delivery of one queued message with retries.

The delivery rows themselves are written by the approval state machine (``services``,
an outbox in the same transaction as the change they announce); this module sends them.
Signing and the egress guard (http(s) only, private addresses only when
``WEBHOOK_ALLOW_PRIVATE``, pinned connection, no redirects) are pure and live in
``webhook``.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import DomainError
from apps.credentials import crypto

from . import webhook
from .models import WebhookDelivery, WebhookSettings

WEBHOOK_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
WEBHOOK_EVENTS = ("approval.requested", "approval.decided", "approval.executed", "approval.expired", "webhook.test")


def _key_provider() -> crypto.KeyProvider:
    from apps.credentials.keyring import get_provider

    return get_provider()


def _webhook_aad(organization, version: int) -> bytes:
    return f"mcpforge:approval-webhook:{organization.public_id}:v{version}".encode()


def webhook_secret(hook: WebhookSettings) -> str:
    """Decrypt the signing secret (only the delivery task needs it)."""
    sealed = crypto.Sealed(ciphertext=bytes(hook.secret_ciphertext), nonce=bytes(hook.secret_nonce),
                           wrapped_dek=bytes(hook.secret_wrapped_dek), kek_id=hook.secret_kek_id)
    return crypto.decrypt_secret(sealed, aad=_webhook_aad(hook.organization, hook.secret_version),
                                 provider=_key_provider())


def webhook_allows_private() -> bool:
    """``settings.WEBHOOK_ALLOW_PRIVATE`` (mcpforge/settings.py reads the environment variable of
    that name once, at startup, in every process: web and worker alike)."""
    return bool(settings.WEBHOOK_ALLOW_PRIVATE)


@transaction.atomic
def webhook_settings_update(*, organization, url: str, enabled: bool, email_reviewers: bool,
                            new_secret: str | None, actor) -> WebhookSettings:
    """Save the organization's approval webhook. ``new_secret`` None keeps the current one;
    a new secret is sealed with envelope encryption and only its mask is kept in clear."""
    url = (url or "").strip()
    if url:
        try:
            webhook.check_destination(url, allow_private=webhook_allows_private())
        except webhook.DestinationError as exc:
            raise DomainError(str(exc), field="url") from exc
    hook, _ = WebhookSettings.objects.select_for_update().get_or_create(organization=organization)
    changes: dict[str, Any] = {}
    if hook.url != url:
        changes["url"] = {"from": hook.url, "to": url}
    if hook.enabled != enabled:
        changes["enabled"] = enabled
    if hook.email_reviewers != email_reviewers:
        changes["email_reviewers"] = email_reviewers
    if new_secret is not None:
        new_secret = new_secret.strip()
        if len(new_secret) < 16:
            raise DomainError("Use a signing secret of at least 16 characters (or generate one).", field="secret")
        version = hook.secret_version + 1
        try:
            sealed = crypto.encrypt_secret(new_secret, aad=_webhook_aad(organization, version),
                                           provider=_key_provider())
        except crypto.CryptoError as exc:
            raise DomainError(f"The secret could not be encrypted: {exc}") from exc
        hook.secret_ciphertext, hook.secret_nonce = sealed.ciphertext, sealed.nonce
        hook.secret_wrapped_dek, hook.secret_kek_id = sealed.wrapped_dek, sealed.kek_id
        hook.secret_masked, hook.secret_version = crypto.mask_secret(new_secret), version
        changes["rotated_signing"] = True  # (a key named *secret* would be masked in the audit log)
    if url and enabled and not hook.has_secret:
        raise DomainError("Set a signing secret so receivers can verify the webhook.", field="secret")
    hook.url, hook.enabled, hook.email_reviewers, hook.updated_by = url, enabled, email_reviewers, actor
    hook.save()
    if changes:
        audit_record(organization=organization, event_type="approval.webhook_updated", actor=actor, target=hook,
                     target_label="approval webhook", payload={"changes": changes})
    return hook


def webhook_generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def webhook_send_test(*, organization, actor) -> WebhookDelivery:
    """Queue a signed test message to the configured URL."""
    from . import tasks

    hook = WebhookSettings.objects.filter(organization=organization).first()
    if hook is None or not hook.url or not hook.has_secret:
        raise DomainError("Save a webhook URL and a signing secret first.")
    delivery = WebhookDelivery.objects.create(
        organization=organization, event="webhook.test", url=hook.url,
        payload={"event": "webhook.test", "organization": organization.slug,
                 "sent_by": actor_label_for(actor), "occurred_at": timezone.now().isoformat()},
    )
    delivery_id = delivery.pk
    transaction.on_commit(lambda: tasks.deliver_webhook.delay(delivery_id), robust=True)
    return delivery


class RetryableDeliveryError(Exception):
    """A delivery failed in a way worth retrying (network error, 5xx, 429)."""


def webhook_deliver(*, delivery_id: int, final_attempt: bool = False) -> WebhookDelivery:
    """POST one delivery, signed with a fresh timestamp. Raises RetryableDeliveryError on a
    transient failure (the task retries with backoff); permanent failures are recorded."""
    delivery = WebhookDelivery.objects.select_related("organization").get(pk=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return delivery
    hook = WebhookSettings.objects.select_related("organization").filter(
        organization_id=delivery.organization_id).first()
    attempts = delivery.attempts + 1

    def record(status: str, *, code: int | None = None, error: str = "") -> WebhookDelivery:
        now = timezone.now()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status, attempts=attempts, response_status=code, last_error=error[:500], updated_at=now,
            delivered_at=now if status == WebhookDelivery.Status.DELIVERED else None)
        delivery.refresh_from_db()
        return delivery

    if hook is None or not hook.has_secret or not hook.url:
        return record(WebhookDelivery.Status.FAILED, error="The webhook is no longer configured.")
    try:
        secret = webhook_secret(hook)
    except crypto.CryptoError as exc:
        return record(WebhookDelivery.Status.FAILED, error=f"The signing secret cannot be decrypted: {exc}")
    body = webhook.canonical_body(delivery.payload)
    timestamp = int(timezone.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "MCPForge-Webhook/1",
        webhook.EVENT_HEADER: delivery.event,
        webhook.DELIVERY_HEADER: str(delivery.public_id),
        webhook.TIMESTAMP_HEADER: str(timestamp),
        webhook.SIGNATURE_HEADER: webhook.sign(secret, timestamp, body),
    }
    try:
        # Checked and pinned when the connection opens; no redirects, no environment proxies.
        response = webhook.post(delivery.url, body=body, headers=headers, allow_private=webhook_allows_private(),
                                timeout=WEBHOOK_TIMEOUT)
    except webhook.DestinationError as exc:
        return record(WebhookDelivery.Status.FAILED, error=str(exc))
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: could not reach the receiver"
        if final_attempt:
            return record(WebhookDelivery.Status.FAILED, error=error)
        record(WebhookDelivery.Status.PENDING, error=error)
        raise RetryableDeliveryError(error) from exc
    if 200 <= response.status_code < 300:
        return record(WebhookDelivery.Status.DELIVERED, code=response.status_code)
    error = f"The receiver answered HTTP {response.status_code}."
    if (response.status_code >= 500 or response.status_code == 429) and not final_attempt:
        record(WebhookDelivery.Status.PENDING, code=response.status_code, error=error)
        raise RetryableDeliveryError(error)
    return record(WebhookDelivery.Status.FAILED, code=response.status_code, error=error)
