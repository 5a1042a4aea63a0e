"""Writing audit events. Every service that changes state calls ``audit_record`` inside its
own transaction, so the change and its audit row commit together or not at all."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.core import request_context

from . import chain
from .events import EVENT_TYPES
from .models import AuditEvent
from .redact import redact

_LOCK_NAMESPACE = 0x4D43  # "MC": advisory-lock namespace for per-organization chains


def actor_label_for(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "email", "") or getattr(actor, "username", "") or str(actor)


def audit_record(
    *,
    organization,
    event_type: str,
    actor=None,
    actor_label: str | None = None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the organization's chain. Raises (and so rolls back the caller's
    transaction) if the event cannot be written: audit is fail-closed."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown audit event type {event_type!r}; add it to apps/audit/events.py")
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(getattr(target, "public_id", target.pk))
        target_label = target_label or str(target)[:300]
    ctx = request_context.current()
    # A JSON round trip makes the payload exactly what jsonb will give back (lists, str keys),
    # so the hash computed now matches the one recomputed from the stored row.
    clean_payload = json.loads(json.dumps(redact(payload or {}), default=str))
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Serialise writers per organization so seq and prev_hash form one chain.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, organization.pk])
        last = (
            AuditEvent.objects.filter(organization_id=organization.pk)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, chain.GENESIS)
        event = AuditEvent(
            organization_id=organization.pk,
            seq=seq,
            created_at=timezone.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label=(actor_label or actor_label_for(actor))[:200],
            event_type=event_type,
            target_type=target_type[:64],
            target_id=target_id[:64],
            target_label=target_label[:300],
            payload=clean_payload,
            request_id=ctx.request_id,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            prev_hash=prev_hash,
        )
        event.hash = chain.event_hash(event.chain_content(), prev_hash)
        event.save(force_insert=True)
    return event


def audit_verify_organization(organization) -> tuple[int, chain.ChainBreak | None]:
    """Recompute the organization's chain from the stored rows."""
    rows = AuditEvent.objects.filter(organization_id=organization.pk).order_by("seq").iterator(chunk_size=2000)
    links = (
        chain.ChainLink(
            seq=e.seq, event_id=str(e.public_id), prev_hash=e.prev_hash, hash=e.hash, content=e.chain_content()
        )
        for e in rows
    )
    return chain.verify(links)
