from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "apps.risk"
    label = "risk"
    verbose_name = "Risk"

    def ready(self):
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS
        from apps.specs import hooks as spec_hooks

        from . import tasks
        from .views import project_panel

        # appended: the spec panel is inserted first, the Security Score follows it
        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
        # an imported version is analysed here (specs never imports risk or inventory)
        spec_hooks.provide_analysis_queue(lambda version_id: tasks.analyse_spec_version.delay(version_id))
