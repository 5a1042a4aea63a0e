"""Background work of the credentials app."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def destroy_retired_credentials() -> int:
    """Wipe credential versions whose rotation grace period ended (queued after each rotation)."""
    return services.credential_destroy_due()
