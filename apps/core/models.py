"""Shared abstract bases. No tables of its own."""

import uuid

from django.db import models


class TimeStampedModel(models.Model):
    """created_at/updated_at on every table, plus a UUID used in URLs instead of the integer key."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class JobStatus(models.TextChoices):
    """Lifecycle of background work shown with a progress bar (spec analysis, report generation)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
