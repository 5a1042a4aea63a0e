from django.apps import AppConfig

EXPIRY_SWEEP_SECONDS = 60.0


class ApprovalsConfig(AppConfig):
    name = "apps.approvals"
    label = "approvals"

    def ready(self) -> None:
        from apps.accounts.context_processors import NAV_EXTENSIONS
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .selectors import nav_badge
        from .views import project_panel

        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
        if nav_badge not in NAV_EXTENSIONS:
            NAV_EXTENSIONS.append(nav_badge)

        # Celery beat expires overdue requests every minute; the queue page, the decision
        # service and the status tool also treat a past deadline as expired, so a stopped
        # beat delays only the approval.expired event, never lets an expired call run.
        from mcpforge.celery import app

        schedule = dict(app.conf.beat_schedule or {})
        schedule.setdefault("approvals-sweep", {
            "task": "apps.approvals.tasks.sweep_approvals",
            "schedule": EXPIRY_SWEEP_SECONDS,
        })
        app.conf.beat_schedule = schedule
