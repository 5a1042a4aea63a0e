from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"

    def ready(self) -> None:
        # Celery beat signs a checkpoint of every organization's chain head periodically
        # (`manage.py audit_checkpoint` does the same on demand, e.g. from cron).
        from django.conf import settings

        from mcpforge.celery import app

        from . import checks  # noqa: F401 (registers the audit key check)

        schedule = dict(app.conf.beat_schedule or {})
        schedule.setdefault("audit-checkpoints", {
            "task": "apps.audit.tasks.checkpoint_audit_chains",
            "schedule": float(settings.AUDIT_CHECKPOINT_SECONDS),
        })
        app.conf.beat_schedule = schedule
