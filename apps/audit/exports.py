"""Recording reads of the audit log that leave the product: every CSV/JSON export (page) and
every page of events read through the REST API is itself an audit event, written (and
committed) before the first byte of the export is sent."""

from __future__ import annotations

from django.db import transaction

from .services import audit_record


@transaction.atomic
def audit_export_record(*, organization, actor, fmt: str, channel: str, filters: dict[str, str],
                        limit: int | None = None, offset: int | None = None) -> None:
    """Audit one export of ``organization``'s log (``audit.exported``)."""
    payload: dict = {"format": fmt, "channel": channel, "filters": filters}
    if limit is not None:
        payload["limit"] = limit
    if offset is not None:
        payload["offset"] = offset
    audit_record(organization=organization, event_type="audit.exported", actor=actor, target=organization,
                 target_label=f"audit log of {organization.slug}", payload=payload)
