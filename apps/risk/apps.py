from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "apps.risk"
    label = "risk"
    verbose_name = "Risk"

    def ready(self):
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .views import project_panel

        # appended: the spec panel is inserted first, the Security Score follows it
        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
