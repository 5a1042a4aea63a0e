from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"

    def ready(self):
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .views import reports_panel

        PROJECT_PAGE_EXTENSIONS.append(reports_panel)
