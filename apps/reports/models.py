"""Security reports: immutable snapshots of a project's inventory, risk and governance."""

from django.conf import settings
from django.db import models

from apps.accounts.models import Organization
from apps.core.models import JobStatus, TimeStampedModel
from apps.projects.models import Environment, Project
from apps.specs.models import SpecVersion


class Report(TimeStampedModel):
    """One generated security report of a project (one environment, or all of them).

    Generation runs in a Celery worker: the row is created ``queued``, the worker moves it
    through the stages, and on success stores the snapshot (``data``, the dict every later
    rendering reads), the rendered HTML and the PDF with its SHA-256. A ready report is never
    changed again: regenerating creates a new row, so an auditor can always re-download the
    exact document a reviewer signed off.
    """

    Status = JobStatus

    class Stage(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        COLLECTING = "collecting", "Collecting inventory, risk and governance"
        RENDERING = "rendering", "Rendering the report"
        PDF = "pdf", "Building the PDF"
        DONE = "done", "Done"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reports")
    # null = every environment of the project. SET_NULL plus the copied label keeps a report
    # readable after its environment is removed (the snapshot says which one it covered).
    environment = models.ForeignKey(Environment, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    scope_label = models.CharField(max_length=80, default="All environments")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    generated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    generated_by_label = models.CharField(max_length=200, blank=True, default="")

    # filled when the report becomes ready
    spec_version = models.ForeignKey(SpecVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    spec_number = models.PositiveIntegerField(null=True, blank=True, help_text="Spec version number, copied")
    spec_label = models.CharField(max_length=200, blank=True, default="")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    tool_count = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict, blank=True, help_text="The snapshot every rendering reads")
    html = models.TextField(blank=True, default="")
    pdf = models.BinaryField(blank=True, default=b"")
    pdf_sha256 = models.CharField(max_length=64, blank=True, default="")
    pdf_bytes = models.PositiveIntegerField(default=0)
    page_count = models.PositiveSmallIntegerField(default=0)
    render_ms = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # the project's Reports page and "latest report" panel: newest first
            models.Index(fields=["project", "-created_at"], name="report_project_created_idx"),
            # "previous ready report of this scope", for the what-changed section
            models.Index(fields=["project", "environment", "status", "-created_at"],
                         name="report_project_scope_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="report_progress_max_100",
                                   violation_error_message="Progress is a percentage."),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Security report {self.project.name} · {self.scope_label} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)

    @property
    def filename(self) -> str:
        scope = self.environment.slug if self.environment_id and self.environment else "all"
        stamp = (self.finished_at or self.created_at).strftime("%Y%m%d-%H%M")
        return f"mcpforge-security-report-{self.project.slug}-{scope}-{stamp}"
