"""Imported OpenAPI documents: every import is an immutable spec version."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.accounts.models import Organization
from apps.core.models import JobStatus, TimeStampedModel
from apps.projects.models import Project


class SpecVersion(TimeStampedModel):
    """One imported document and its analysis run.

    The version becomes the project's current one only when its analysis completed
    (``status=ready``); a failed or crashed analysis leaves the previous inventory current.
    """

    class Source(models.TextChoices):
        UPLOAD = "upload", "Browser upload"
        PASTE = "paste", "Pasted"
        URL = "url", "URL"
        API = "api", "REST API"
        CLI = "cli", "Command line"

    Status = JobStatus

    class Stage(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        PARSING = "parsing", "Parsing"
        RESOLVING = "resolving", "Resolving references"
        BUILDING = "building", "Building tools"
        ANALYSING = "analysing", "Analysing"
        DONE = "done", "Done"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="spec_versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3… per project")
    source = models.CharField(max_length=16, choices=Source.choices)
    source_url = models.URLField(max_length=2000, blank=True, default="")
    filename = models.CharField(max_length=255, blank=True, default="")
    raw = models.BinaryField(help_text="The document exactly as imported")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    imported_by_label = models.CharField(max_length=200, blank=True, default="")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    error_pointer = models.CharField(max_length=500, blank=True, default="")
    retryable = models.BooleanField(
        default=False,
        help_text="The failure may not happen again on the same bytes (a crash or a timeout); an invalid "
        "document is not retryable: only a corrected file helps",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # filled by a successful analysis
    is_current = models.BooleanField(default=False)
    title = models.CharField(max_length=300, blank=True, default="")
    api_version = models.CharField(max_length=100, blank=True, default="")
    openapi_version = models.CharField(max_length=20, blank=True, default="")
    servers = models.JSONField(default=list, blank=True)
    security_schemes = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True, help_text="Quality and security findings (dicts)")
    score = models.JSONField(default=dict, blank=True, help_text="Security Score breakdown, when classified")
    tool_count = models.PositiveIntegerField(default=0)
    token_estimate = models.PositiveIntegerField(default=0)
    analysis_ms = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "number"],
                name="specversion_unique_number_per_project",
                violation_error_message="Version numbers are unique per project.",
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(is_current=True),
                name="specversion_one_current_per_project",
                violation_error_message="A project has one current spec version.",
            ),
        ]
        indexes = [
            # version list of a project, newest first
            models.Index(fields=["project", "-number"], name="specversion_project_number_idx"),
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)
